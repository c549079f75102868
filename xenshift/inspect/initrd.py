"""The initrd tool, its settings, and which drivers each initrd holds.

A PV guest's initrd usually holds only ``xen-blkfront``/``xen-netfront``;
on KVM it needs virtio. We list each initrd ourselves (concatenated newc
cpio archives, each possibly compressed: the early-microcode archive then
the main one) rather than trust a tool in the guest that may be missing.
"""

from __future__ import annotations

import bz2
import lzma
import subprocess
import zlib
from dataclasses import dataclass
from typing import Literal

from xenshift.inspect.files import GuestFiles, find_program, read_text
from xenshift.inspect.kernels import DRIVERS, Kernel, module_name
from xenshift.inspect.shellvars import parse_shell_vars

InitrdTool = Literal["dracut", "update-initramfs", "mkinitrd", "make-initrd"]

# The guest's own tool, in the order a converter should prefer it: SUSE's
# mkinitrd is a wrapper around dracut where both exist.
TOOLS: tuple[InitrdTool, ...] = ("dracut", "update-initramfs", "mkinitrd", "make-initrd")
# Settings that decide which drivers go into the initrd, per tool.
INITRAMFS_CONF = "/etc/initramfs-tools/initramfs.conf"
INITRAMFS_MODULES = "/etc/initramfs-tools/modules"
DRACUT_CONF = "/etc/dracut.conf"
DRACUT_CONF_DIR = "/etc/dracut.conf.d"
SYSCONFIG_KERNEL = "/etc/sysconfig/kernel"
_SETTING_NAMES = {
    INITRAMFS_CONF: ("MODULES", "COMPRESS"),
    SYSCONFIG_KERNEL: ("INITRD_MODULES", "DOMU_INITRD_MODULES"),
}
_DRACUT_NAMES = ("add_drivers", "force_drivers", "drivers", "omit_drivers", "hostonly")

_CPIO_MAGICS = (b"070701", b"070702")
_GZIP, _XZ, _LZMA, _BZIP2 = b"\x1f\x8b", b"\xfd7zXZ\x00", b"\x5d\x00\x00", b"BZh"
_ZSTD, _LZ4 = b"\x28\xb5\x2f\xfd", b"\x02\x21\x4c\x18"


class InitrdFormatError(ValueError):
    """Bytes that are not an initramfs we know how to read."""


@dataclass(frozen=True)
class InitrdSetting:
    """One setting that shapes the initrd (a module list line counts as one)."""

    file: str
    line: int
    name: str
    value: str


@dataclass(frozen=True)
class InitrdImage:
    """One kernel's initrd: the :data:`DRIVERS` it holds, or why unknown."""

    path: str
    kernel_version: str
    drivers: tuple[str, ...]
    module_count: int
    problem: str | None = None


@dataclass(frozen=True)
class InitrdFacts:
    """The guest's initrd tool (its own, to rebuild with), settings, images."""

    tool: InitrdTool | None
    tool_path: str | None
    settings: tuple[InitrdSetting, ...]
    images: tuple[InitrdImage, ...]

    def image_for(self, kernel_version: str) -> InitrdImage | None:
        """The initrd of ``kernel_version``, if it has one."""
        return next((i for i in self.images if i.kernel_version == kernel_version), None)


def _run_decompressor(argv: list[str], data: bytes) -> tuple[bytes, bytes]:
    proc = subprocess.run(argv, input=data, capture_output=True)
    if proc.returncode != 0 and not proc.stdout:
        raise InitrdFormatError(f"{argv[0]}: {proc.stderr.decode(errors='replace').strip()}")
    # These tools read to the end: nothing is left for further archives.
    return proc.stdout, b""


def _decompress(data: bytes) -> tuple[bytes, bytes]:
    """Decompress the stream at the start of ``data``: (output, what follows)."""
    if data.startswith(_GZIP):
        d = zlib.decompressobj(wbits=31)
        return d.decompress(data), d.unused_data
    if data.startswith(_XZ) or data.startswith(_LZMA):
        d = lzma.LZMADecompressor(lzma.FORMAT_AUTO)
        return d.decompress(data), d.unused_data
    if data.startswith(_BZIP2):
        b = bz2.BZ2Decompressor()
        return b.decompress(data), b.unused_data
    if data.startswith(_ZSTD):
        return _run_decompressor(["zstd", "-dcq"], data)
    if data.startswith(_LZ4):
        return _run_decompressor(["lz4", "-dcq"], data)
    raise InitrdFormatError(f"unknown initrd format (starts {data[:6].hex()})")


def _cpio_names(data: bytes, pos: int) -> tuple[list[str], int]:
    """Names in the newc archive at ``pos``, and the offset after its trailer."""
    names = []
    while True:
        header = data[pos:pos + 110]
        if len(header) < 110 or header[:6] not in _CPIO_MAGICS:
            raise InitrdFormatError(f"bad cpio header at offset {pos}")
        try:
            filesize = int(header[54:62], 16)
            namesize = int(header[94:102], 16)
        except ValueError:
            raise InitrdFormatError(f"bad cpio header fields at offset {pos}") from None
        name = data[pos + 110:pos + 110 + namesize - 1].decode(errors="replace")
        pos += 110 + namesize
        pos += -pos % 4
        pos += filesize
        pos += -pos % 4
        if name == "TRAILER!!!":
            return names, pos
        names.append(name)


def list_initrd(data: bytes) -> list[str]:
    """Every path in an initramfs: concatenated, optionally compressed cpios."""
    names: list[str] = []
    while data:
        data = data.lstrip(b"\0")  # archives are padded apart with zeros
        if not data:
            break
        if data[:6] in _CPIO_MAGICS:
            found, end = _cpio_names(data, 0)
            names += found
            data = data[end:]
        else:
            inner, data = _decompress(data)
            names += list_initrd(inner)
    return names


def drivers_in(paths: list[str]) -> tuple[str, ...]:
    """Which :data:`DRIVERS` (by any of their names) the listed modules include."""
    present = {module_name(p) for p in paths if ".ko" in p}
    return tuple(d for d, (_, old) in DRIVERS.items() if {d, *old} & present)


def parse_module_list(text: str, file: str) -> list[InitrdSetting]:
    """An ``/etc/initramfs-tools/modules``-style list: one module per line."""
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        words = line.split("#", 1)[0].split()
        if words:
            found.append(InitrdSetting(file, number, "module", " ".join(words)))
    return found


def _vars(text: str, file: str, names: tuple[str, ...]) -> list[InitrdSetting]:
    return [InitrdSetting(file, v.line, v.name + ("+=" if v.append else ""), v.value.strip())
            for v in parse_shell_vars(text) if v.name in names]


def gather_settings(files: GuestFiles) -> list[InitrdSetting]:
    """Settings of every initrd tool present in the guest's /etc."""
    settings: list[InitrdSetting] = []
    for file, names in _SETTING_NAMES.items():
        settings += _vars(read_text(files, file) or "", file, names)
    settings += parse_module_list(read_text(files, INITRAMFS_MODULES) or "", INITRAMFS_MODULES)
    dracut_files = [DRACUT_CONF] + [f"{DRACUT_CONF_DIR}/{n}" for n in files.listdir(DRACUT_CONF_DIR)
                                    if n.endswith(".conf")]
    for file in dracut_files:
        settings += _vars(read_text(files, file) or "", file, _DRACUT_NAMES)
    return settings


def read_image(files: GuestFiles, path: str, kernel_version: str) -> InitrdImage:
    """List one initrd; an unreadable one says why instead of failing."""
    try:
        paths = list_initrd(files.read_bytes(path))
    except (InitrdFormatError, zlib.error, lzma.LZMAError, OSError, EOFError) as err:
        return InitrdImage(path, kernel_version, (), 0, f"cannot list {path}: {err}")
    modules = [p for p in paths if ".ko" in p]
    return InitrdImage(path, kernel_version, drivers_in(modules), len(modules))


def gather_initrd(files: GuestFiles, kernels: list[Kernel]) -> InitrdFacts:
    """The initrd tool, its settings, and each kernel's initrd contents."""
    tool = tool_path = None
    for candidate in TOOLS:
        tool_path = find_program(files, candidate)
        if tool_path:
            tool = candidate
            break
    images = tuple(read_image(files, k.initrd, k.version) for k in kernels if k.initrd)
    return InitrdFacts(tool, tool_path, tuple(gather_settings(files)), images)
