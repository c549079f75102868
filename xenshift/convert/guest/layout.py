"""Disk layout: which output image is a plain copy and which is rebuilt.

A BIOS boots the first sector of a disk, so the disk GRUB is installed on
needs a partition table with room behind the MBR for GRUB's core image. A
PV guest whose ``/`` (or ``/boot``) sits straight on the whole disk has
neither: its output image gets an MBR and one partition holding the same
file system block for block, which keeps its UUID. Every other disk is
copied as it is; PVH keeps pygrub, which reads a whole-disk file system.
"""

from __future__ import annotations

from xenshift.convert.guest.context import PlanContext
from xenshift.convert.guest.plan import PARTITION_START, DiskOp

CONCERN = "layout"


def plan(ctx: PlanContext) -> None:
    """Decide each disk's operation."""
    if ctx.facts.layout is None:
        return
    boot = ctx.boot_disk() if ctx.boots_from_firmware else None
    for disk in ctx.facts.layout.disks:
        fs = disk.filesystem
        if disk is boot and fs is not None and fs.fstype != "swap":
            ctx.disks.append(DiskOp(
                disk.vdev, "partition",
                f"{fs.fstype} fills the whole of {disk.device}, which no BIOS boots: "
                f"it moves into partition 1 at {PARTITION_START >> 20} MiB, "
                "UUID kept", fs.fstype, fs.uuid))
        else:
            ctx.disks.append(DiskOp(disk.vdev, "copy", "copied as it is"))


def partition_device(ctx: PlanContext, vdev: str) -> str:
    """The partition suffix a whole-disk reference to ``vdev`` gains ("1" or "")."""
    op = next((d for d in ctx.disks if d.vdev == vdev), None)
    return "1" if op is not None and op.action == "partition" else ""
