"""The rebuilt initrd checked with the initrd tool's own lister (no appliance needed)."""

from __future__ import annotations

import dataclasses

import pytest

from xenshift.convert.guest.plan import RebuildInitrd
from xenshift.inspect.errors import GuestUpdateError
from xenshift.inspect.rewrite import _listed_by_tool

KVER = "6.1.0-9-amd64"
STEP = RebuildInitrd("initrd", ("dracut", "--force", f"/boot/initrd.img-{KVER}", KVER), KVER,
                     f"/boot/initrd.img-{KVER}", ("ata_piix", "sd_mod"), "HVM drivers",
                     ("lsinitrd", f"/boot/initrd.img-{KVER}"))
LSINITRD = f"""\
Image: /boot/initrd.img-{KVER}: 12M
========================================================================
drwxr-xr-x  12 root root  0 Dec  2 05:00 .
-rw-r--r--   1 root root  5 Dec  2 05:00 usr/lib/modules/{KVER}/kernel/drivers/ata/ata_piix.ko.xz
"""


class FakeFiles:
    def __init__(self, present: set[str]):
        self.present = present

    def is_file(self, path: str) -> bool:
        return path in self.present


class FakeHandle:
    def __init__(self, listing: str):
        self.listing = listing
        self.commands: list[list[str]] = []

    def command(self, argv: list[str]) -> str:
        self.commands.append(argv)
        return self.listing


class FakeSession:
    def __init__(self, listing: str, present: set[str]):
        self.handle = FakeHandle(listing)
        self.files = FakeFiles(present)


def test_a_driver_the_lister_does_not_show_fails_naming_the_tool() -> None:
    session = FakeSession(LSINITRD, {"/usr/bin/lsinitrd"})
    with pytest.raises(GuestUpdateError, match="lsinitrd shows the rebuilt initrd without "
                                               "sd_mod"):
        _listed_by_tool(session, STEP)
    assert session.handle.commands == [["lsinitrd", f"/boot/initrd.img-{KVER}"]]


def test_the_lister_agreeing_is_reported() -> None:
    listing = LSINITRD + ("-rw-r--r-- 1 root root 5 Dec  2 05:00 "
                          f"usr/lib/modules/{KVER}/kernel/drivers/scsi/sd_mod.ko.xz\n")
    assert _listed_by_tool(FakeSession(listing, {"/usr/bin/lsinitrd"}), STEP) == \
        "; lsinitrd agrees"


def test_lsinitramfs_paths_and_a_guest_without_the_lister() -> None:
    paths = "".join(f"usr/lib/modules/{KVER}/kernel/drivers/{m}.ko\n"
                    for m in ("ata/ata_piix", "scsi/sd_mod"))
    step = dataclasses.replace(STEP, lister=("lsinitramfs", STEP.initrd))
    assert _listed_by_tool(FakeSession(paths, {"/usr/bin/lsinitramfs"}), step) == \
        "; lsinitramfs agrees"
    assert _listed_by_tool(FakeSession("", set()), step) == \
        "; the guest has no lsinitramfs to list it"
