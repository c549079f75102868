"""fstab, crypttab and every other place a guest names its block devices.

A PV guest names disks ``xvdX``; after conversion they are ``vdX`` (KVM) or
``sdX``/``hdX`` then ``xvdX`` (Xen HVM), so each reference is recorded
with its file, line and kind for the planner to rewrite or leave alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from xenshift.inspect.digits import small_int
from xenshift.inspect.bootloader import BootloaderFacts
from xenshift.inspect.files import GuestFiles, read_text

DeviceKind = Literal["xen", "disk", "uuid", "label", "partuuid", "partlabel",
                     "by-id", "by-path", "lvm", "md", "other"]

_BY = {"by-uuid": "uuid", "by-label": "label", "by-partuuid": "partuuid",
       "by-partlabel": "partlabel", "by-id": "by-id", "by-path": "by-path"}
_TAGS = {"UUID": "uuid", "LABEL": "label", "PARTUUID": "partuuid",
         "PARTLABEL": "partlabel"}
_XEN = re.compile(r"/dev/xvd[a-z]+[0-9]*")
_DISK = re.compile(r"/dev/(?:sd|hd|vd)[a-z]+[0-9]*")
_MD = re.compile(r"/dev/md(?:[0-9]+|/.+)")
# /dev/VG/LV: two components under /dev that are not a kernel directory.
_LV = re.compile(r"/dev/(?!disk/|mapper/|md/|pts/|shm/|mqueue/|hugepages/)[^/]+/[^/]+")
# Argument names whose value is a block device on a kernel command line.
CMDLINE_DEVICE_KEYS = ("root", "resume")


def classify_device(spec: str) -> DeviceKind | None:
    """The kind of a device reference, or None when it names no block device."""
    tag = spec.split("=", 1)[0]
    if "=" in spec and tag in _TAGS:
        return _TAGS[tag]  # type: ignore[return-value]
    if spec.startswith("/dev/disk/"):
        return _BY.get(spec.split("/")[3], "other")  # type: ignore[return-value]
    if _XEN.fullmatch(spec):
        return "xen"
    if _DISK.fullmatch(spec):
        return "disk"
    if spec.startswith("/dev/mapper/") or _LV.fullmatch(spec):
        return "lvm"
    if _MD.fullmatch(spec):
        return "md"
    if spec.startswith("/dev/"):
        return "other"
    return None


@dataclass(frozen=True)
class FstabEntry:
    """One fstab line (fields decoded from fstab's octal escapes)."""

    line: int
    spec: str
    mountpoint: str
    fstype: str
    options: str
    freq: int
    passno: int


@dataclass(frozen=True)
class CrypttabEntry:
    """One crypttab line: the mapped ``name`` opens ``device``."""

    line: int
    name: str
    device: str
    keyfile: str
    options: str


@dataclass(frozen=True)
class DeviceRef:
    """A block device named in a guest file: ``origin`` is what names it."""

    file: str
    line: int
    origin: str
    spec: str
    kind: DeviceKind


@dataclass(frozen=True)
class StorageRefs:
    """fstab, crypttab and all device references (fstab's included)."""

    fstab: tuple[FstabEntry, ...]
    crypttab: tuple[CrypttabEntry, ...]
    refs: tuple[DeviceRef, ...]

    def of_kind(self, *kinds: DeviceKind) -> list[DeviceRef]:
        """References whose kind is one of ``kinds``."""
        return [r for r in self.refs if r.kind in kinds]


def _decode(field: str) -> str:
    # fstab writes blanks in names as octal escapes (\040).
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def _table_lines(text: str) -> list[tuple[int, list[str]]]:
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        fields = line.split("#", 1)[0].split()
        if fields:
            rows.append((number, [_decode(f) for f in fields]))
    return rows


def parse_fstab(text: str) -> list[FstabEntry]:
    """The entries of an fstab; short lines get fstab's defaults."""
    entries = []
    for number, f in _table_lines(text):
        f = f + ["", "none", "auto", "defaults", "0", "0"][len(f):]
        entries.append(FstabEntry(number, f[0], f[1], f[2], f[3],
                                  _int(f[4]), _int(f[5])))
    return entries


def parse_crypttab(text: str) -> list[CrypttabEntry]:
    """The entries of a crypttab."""
    entries = []
    for number, f in _table_lines(text):
        f = f + ["", "", "none", ""][len(f):]
        entries.append(CrypttabEntry(number, f[0], f[1], f[2], f[3]))
    return entries


def _int(text: str) -> int:
    # dump and pass are small numbers; libmount reads an overflowing one as none.
    return small_int(text) or 0


def gather_storage(files: GuestFiles, bootloader: BootloaderFacts) -> StorageRefs:
    """Read fstab and crypttab, and collect device references everywhere."""
    fstab = parse_fstab(read_text(files, "/etc/fstab") or "")
    crypttab = parse_crypttab(read_text(files, "/etc/crypttab") or "")
    refs: list[DeviceRef] = []

    def add(file: str, line: int, origin: str, spec: str) -> None:
        kind = classify_device(spec)
        if kind is not None:
            refs.append(DeviceRef(file, line, origin, spec, kind))

    for e in fstab:
        add("/etc/fstab", e.line, f"fstab {e.mountpoint}", e.spec)
    for c in crypttab:
        add("/etc/crypttab", c.line, f"crypttab {c.name}", c.device)
    for cmdline in bootloader.cmdlines:
        for key in CMDLINE_DEVICE_KEYS:
            for value in cmdline.values(key):
                add(cmdline.file, cmdline.line, f"{key}= in {cmdline.origin}", value)
    for entry in bootloader.device_map:
        add(entry.file, entry.line, f"device.map {entry.grub_device}", entry.os_device)
    return StorageRefs(tuple(fstab), tuple(crypttab), tuple(refs))
