"""What to inspect: disk images given directly or by a guest's xl config.

Every disk is checked before libguestfs starts (a launch costs tens of
seconds): it must exist and ``qemu-img info`` must read it, which also
gives its format when the config does not. Disks given on the command line
get the vdevs xl would number them with (``xvda``, ``xvdb``, ...).
"""

from __future__ import annotations

import json
import os
import string
import subprocess
from dataclasses import dataclass
from pathlib import Path

from xenshift.config.devices.disk import DiskSpec, parse_disk
from xenshift.config.document import load_config
from xenshift.config.model import DomainConfig
from xenshift.errors import Location
from xenshift.inspect.errors import CorruptImageError, MissingDiskError

# Bytes read to tell a config file from a disk image.
_SNIFF_BYTES = 4096


@dataclass(frozen=True)
class DiskImage:
    """A readable disk: host path, the guest's name for it, format, size.

    A disk read from another host has an NBD URI as ``path`` and its place
    there (``root@xen1:/dev/vg/web``) as ``label``, which messages show.
    """

    path: str
    vdev: str
    format: str
    size: int
    label: str = ""

    @property
    def shown(self) -> str:
        """The disk as messages name it."""
        return self.label or self.path

    @property
    def is_uri(self) -> bool:
        """Whether ``path`` is a URI (a remote disk's NBD export), not a file."""
        return "://" in self.path


def default_vdev(index: int) -> str:
    """The ``index``-th Xen disk name: xvda … xvdz, xvdaa, …"""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = string.ascii_lowercase[rest] + letters
    return "xvd" + letters


def is_config_file(path: str) -> bool:
    """Whether ``path`` looks like an xl/xm config (text) rather than a disk.

    Disk images start with binary (a boot sector, an image header or the
    zeros before a file system's superblock); configs are NUL-free text.
    """
    try:
        with open(path, "rb") as f:
            head = f.read(_SNIFF_BYTES)
    except OSError:
        return False
    if not head or b"\0" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def probe_disk(path: str, vdev: str, fmt: str | None = None,
               context: str = "") -> DiskImage:
    """Check that ``path`` is a readable disk image and learn its format/size.

    ``context`` says where the disk was named, for the error message.
    """
    suffix = f" ({context})" if context else ""
    if not os.path.exists(path):
        raise MissingDiskError(f"no such disk image{suffix}", path)
    if os.path.isdir(path):
        raise CorruptImageError(f"is a directory, not a disk image{suffix}", path)
    argv = ["qemu-img", "info", "--output=json", "-U", path]
    if fmt:
        argv[3:3] = ["-f", fmt]
    proc = subprocess.run(argv, capture_output=True, text=True)
    if proc.returncode != 0:
        detail = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "unreadable"
        raise CorruptImageError(f"not a readable disk image{suffix}: {detail}", path)
    info = json.loads(proc.stdout)
    if not info.get("virtual-size"):
        raise CorruptImageError(f"empty disk image{suffix}", path)
    return DiskImage(path, vdev, fmt or info["format"], info["virtual-size"])


def disks_from_paths(paths: list[str]) -> list[DiskImage]:
    """Disk images named on the command line, numbered ``xvda`` onwards."""
    return [probe_disk(p, default_vdev(i)) for i, p in enumerate(paths)]


def disks_from_config(path: str) -> list[DiskImage]:
    """The disks (cdroms and empty drives left out) of an xl/xm config.

    Relative targets are taken from the current directory, as ``xl`` does.
    """
    doc = load_config(path).check()
    specs = []
    for item in doc.settings.get_string_list("disk") or []:
        spec = parse_disk(item.text, Location(path, item.line, item.column))
        specs.append((spec, f"disk {spec.vdev} in {Location(path, item.line)}"))
    return _probe_specs(specs, path)


def disks_of_domain(config: DomainConfig) -> list[DiskImage]:
    """The disks (cdroms and empty drives left out) of a parsed domain config."""
    where = config.path or "the config"
    return _probe_specs([(spec, f"disk {spec.vdev} in {where}") for spec in config.disks],
                        where)


def _probe_specs(specs: list[tuple[DiskSpec, str]], where: str) -> list[DiskImage]:
    disks = [probe_disk(spec.target, spec.vdev, spec.format, context)
             for spec, context in specs if not spec.is_cdrom and spec.target]
    if not disks:
        raise MissingDiskError("the config lists no disk to inspect", where)
    return disks


def describe(disks: list[DiskImage]) -> str:
    """``xvda=PATH, xvdb=PATH`` for messages."""
    return ", ".join(f"{d.vdev}={d.label or Path(d.path)}" for d in disks)
