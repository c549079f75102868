"""Guest conversion planning: what to change inside the guest, as data.

Pure functions of :class:`~xenshift.inspect.facts.GuestFacts` and a
snapshot of the guest's files (:class:`~xenshift.inspect.texts.GuestTexts`):
:func:`plan_guest` returns a :class:`GuestPlan` that
:mod:`xenshift.inspect.rewrite` applies to the output images. One module
per concern (``layout``, ``devices``, ``consoles``, ``initrd``,
``bootloader``, ``nic_naming``, ``xen_leftovers``, ``selinux``), composed
per target in :mod:`compose`.
"""

from xenshift.convert.guest.compose import plan_guest
from xenshift.convert.guest.context import PlanInput
from xenshift.convert.guest.errors import GuestRefusedError
from xenshift.convert.guest.plan import GuestPlan

__all__ = ["GuestPlan", "GuestRefusedError", "PlanInput", "plan_guest"]
