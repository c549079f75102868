"""Which disk of a PV config the guest boots from, read from the config alone.

A PV guest names its root device on the kernel command line (``root=``,
given in ``root``/``extra``/``cmdline``); pygrub and PV GRUB read their
menu from the first disk (``(hd0)``), and so does a direct kernel without a
``root=`` device name.  Inspection of the disks knows better; this is what
a conversion of the config alone has to go on.
"""

from __future__ import annotations

import re

from xenshift.config.devices import DiskSpec
from xenshift.config.model import DomainConfig

_ROOT = re.compile(r"(?:^|\s)root=/dev/(xvd[a-z]+)(\d*)(?=\s|$)")


def boot_disk(config: DomainConfig) -> DiskSpec | None:
    """The disk holding the guest's root or boot files, None without disks."""
    disks = [d for d in config.disks if not d.is_cdrom]
    match = _ROOT.search(config.boot.cmdline or "")
    if match:
        whole, number = match.groups()
        for disk in disks:
            if disk.vdev in (whole + number, whole):
                return disk
    return disks[0] if disks else None
