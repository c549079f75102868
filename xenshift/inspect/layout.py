"""Disk layout: partition tables, MBR boot code, file systems, LVM.

PV guests are booted by pygrub from the host, so their first sector often
holds a partition table but no boot code, and some put a file system
straight on the whole disk. A BIOS (HVM, KVM) can boot neither: the
planner installs GRUB or rebuilds the disk from these facts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from xenshift.inspect.session import GuestSession

BootCode = Literal["none", "grub", "other"]
# GPT type of the partition GRUB embeds its core image in on BIOS machines.
BIOS_BOOT_GUID = "21686148-6449-6E6F-744E-656564454649"
# The MBR's boot code area; the partition table starts at byte 446, and
# bytes 440-445 hold the disk signature.
_BOOT_CODE_BYTES = 440


@dataclass(frozen=True)
class Filesystem:
    """A file system (or swap) and the device that holds it, guest-named."""

    device: str
    fstype: str
    uuid: str | None
    label: str | None


@dataclass(frozen=True)
class Partition:
    """A partition: ``start`` and ``size`` in bytes."""

    number: int
    device: str
    start: int
    size: int
    filesystem: Filesystem | None
    bios_boot: bool


@dataclass(frozen=True)
class Disk:
    """One disk: ``filesystem`` is set when it holds one with no partitions."""

    vdev: str
    path: str
    format: str
    size: int
    partition_table: str | None
    boot_code: BootCode
    partitions: tuple[Partition, ...]
    filesystem: Filesystem | None

    @property
    def device(self) -> str:
        """The guest's name for the whole disk."""
        return f"/dev/{self.vdev}"


@dataclass(frozen=True)
class LogicalVolume:
    """An LVM logical volume ``/dev/VG/LV`` and its file system."""

    device: str
    volume_group: str
    size: int
    filesystem: Filesystem | None


@dataclass(frozen=True)
class LayoutFacts:
    """Every disk of the guest and the LVM volumes on them."""

    disks: tuple[Disk, ...]
    logical_volumes: tuple[LogicalVolume, ...]

    def disk_holding(self, device: str) -> Disk | None:
        """The disk a guest device (whole disk or partition) is on."""
        for disk in self.disks:
            if device == disk.device or any(p.device == device for p in disk.partitions):
                return disk
        return None

    def filesystem_of(self, device: str) -> Filesystem | None:
        """The file system on a guest device (partition, whole disk or LV)."""
        for disk in self.disks:
            if disk.device == device:
                return disk.filesystem
            for part in disk.partitions:
                if part.device == device:
                    return part.filesystem
        for volume in self.logical_volumes:
            if volume.device == device:
                return volume.filesystem
        return None


def classify_boot_sector(sector: bytes) -> BootCode:
    """What the boot code area of a first sector holds."""
    code = sector[:_BOOT_CODE_BYTES]
    if not code.strip(b"\0"):
        return "none"
    # GRUB's boot.img carries its error strings ("GRUB ", "Geom", "Hard Disk").
    return "grub" if b"GRUB" in code else "other"


def _filesystem(session: GuestSession, device: str) -> Filesystem | None:
    # One blkid run for type, UUID and label: each probe is a process
    # start in the appliance, which is slow under TCG.
    try:
        probe = session.handle.blkid(device)
    except RuntimeError:  # blkid finds no signature
        return None
    if not probe.get("TYPE"):
        return None
    return Filesystem(session.guest_device(device), probe["TYPE"],
                      probe.get("UUID") or None, probe.get("LABEL") or None)


def gather_layout(session: GuestSession) -> LayoutFacts:
    """Read partition tables, boot sectors, file systems and LVM."""
    g = session.handle
    disks = []
    for device in g.list_devices():
        image = session.disk_of(device)
        try:
            table = g.part_get_parttype(device)
        except RuntimeError:
            table = None
        partitions = []
        if table:
            for part in g.part_list(device):
                number = part["part_num"]
                name = f"{device}{number}"
                bios = table == "gpt" and g.part_get_gpt_type(device, number).upper() == BIOS_BOOT_GUID
                partitions.append(Partition(number, session.guest_device(name),
                                            part["part_start"], part["part_size"],
                                            _filesystem(session, name), bios))
        disks.append(Disk(
            image.vdev, image.shown, image.format, g.blockdev_getsize64(device), table,
            classify_boot_sector(g.pread_device(device, 512, 0)), tuple(partitions),
            None if table else _filesystem(session, device)))
    volumes = tuple(
        LogicalVolume(lv, lv.split("/")[2], g.blockdev_getsize64(lv), _filesystem(session, lv))
        for lv in g.lvs())
    return LayoutFacts(tuple(disks), volumes)
