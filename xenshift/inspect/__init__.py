"""Guest inspection: gather ``GuestFacts`` once, judge readiness per target.

- :func:`inspect_disks` / :func:`inspect_tree`: facts of a guest on disks
  (one read-only libguestfs session) or in a directory;
- :mod:`readiness`: pure verdicts for ``hvm``, ``pvh`` and ``kvm``;
- one module per fact family (``osinfo``, ``layout``, ``kernels``,
  ``bootloader``, ``initrd``, ``fstab``, ``console``, ``network``,
  ``xen_leftovers``), each with pure text parsers and a gatherer;
- for a conversion: :mod:`texts` (the guest files planners may edit),
  :mod:`images` (overlays, outputs, rebuilt disks, backups with qemu-img)
  and :mod:`rewrite` (carrying out a guest plan in a writable session).
"""

from xenshift.inspect.facts import GuestFacts, gather_facts, inspect_disks, inspect_tree
from xenshift.inspect.readiness import Verdict, assess

__all__ = ["GuestFacts", "Verdict", "assess", "gather_facts", "inspect_disks", "inspect_tree"]
