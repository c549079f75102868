"""Disk images a conversion creates: work overlays, outputs, rebuilt disks, backups.

The source is never opened for writing. The conversion works on a qcow2
overlay whose backing file is the source (QEMU opens a backing file
read-only), and the overlay becomes the output: flattened into a new
image (``qemu-img convert``, qcow2 or raw), or kept as it is where the user
allows an output that depends on the source. A partitionless disk's
output is rebuilt: an MBR with one partition, the file system copied into
it block for block. Copies show a progress bar.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from xenshift.convert.guest.plan import PARTITION_START
from xenshift.inspect.errors import ImageError
from xenshift.inspect.sources import DiskImage
from xenshift.progress import Progress

OUTPUT_FORMATS = ("qcow2", "raw")
SECTOR = 512
_PROGRESS = re.compile(rb"\((\d+(?:\.\d+)?)/100%\)")
# Bytes per read when copying a file; zero blocks become holes.
_COPY_BLOCK = 1 << 20
# MBR layout: partition entries at 446, 16 bytes each; signature at 510.
_ENTRY_OFFSET, _SIGNATURE_OFFSET, _DISK_ID_OFFSET = 446, 510, 440
_LINUX_PARTITION, _ACTIVE = 0x83, 0x80
# CHS fields of an LBA-only entry: "beyond what CHS can address".
_CHS_MAX = b"\xfe\xff\xff"


def extension(fmt: str) -> str:
    """The file name extension of an output format."""
    return "img" if fmt == "raw" else fmt


def _qemu_img(argv: list[str], what: str, path: str, progress: Progress | None = None,
              label: str = "", size: int | None = None) -> None:
    """Run ``qemu-img``; ImageError naming ``path`` if it fails."""
    if progress is None:
        proc = subprocess.run(["qemu-img", *argv], capture_output=True)
        stderr = proc.stderr
    else:
        with progress.copy(label, size) as update, subprocess.Popen(
                ["qemu-img", *argv[:1], "-p", *argv[1:]], stdout=subprocess.PIPE,
                stderr=subprocess.PIPE) as proc:
            while chunk := proc.stdout.read1(4096):
                for match in _PROGRESS.finditer(chunk):
                    update(float(match.group(1)) / 100)
            stderr = proc.stderr.read()
    if proc.returncode != 0:
        detail = stderr.decode(errors="replace").strip().splitlines()
        raise ImageError(f"{what} failed: {detail[-1] if detail else 'qemu-img failed'}", path)


def overlay(source: DiskImage, path: Path) -> DiskImage:
    """A qcow2 overlay at ``path`` whose backing file is ``source``."""
    # A local backing file is named by its absolute path; a remote one
    # (an NBD URI) as it is.
    backing = source.path if source.is_uri else os.path.abspath(source.path)
    _qemu_img(["create", "-q", "-f", "qcow2", "-b", backing, "-F", source.format,
               str(path)], "creating an overlay", source.shown)
    return DiskImage(str(path), source.vdev, "qcow2", source.size)


def flatten(work: DiskImage, path: Path, fmt: str, progress: Progress) -> DiskImage:
    """Copy the disk ``work`` shows (overlay and backing) into a new image."""
    _qemu_img(["convert", "-f", work.format, "-O", fmt, work.path, str(path)],
              f"writing {path.name}", work.path, progress, f"writing {path.name}", work.size)
    return DiskImage(str(path), work.vdev, fmt, work.size)


def mbr(start: int, size: int, disk_id: bytes) -> bytes:
    """A first sector with no boot code and one bootable Linux partition.

    ``start`` and ``size`` are in bytes (sector multiples); ``disk_id`` is
    the 4-byte disk signature. GRUB installs its boot code over the first
    440 bytes later.
    """
    if start % SECTOR or size % SECTOR or len(disk_id) != 4:
        raise ValueError("partition bounds must be whole sectors; the disk id 4 bytes")
    entry = (bytes([_ACTIVE]) + _CHS_MAX + bytes([_LINUX_PARTITION]) + _CHS_MAX
             + (start // SECTOR).to_bytes(4, "little") + (size // SECTOR).to_bytes(4, "little"))
    sector = bytearray(SECTOR)
    sector[_DISK_ID_OFFSET:_DISK_ID_OFFSET + 4] = disk_id
    sector[_ENTRY_OFFSET:_ENTRY_OFFSET + len(entry)] = entry
    sector[_SIGNATURE_OFFSET:] = b"\x55\xaa"
    return bytes(sector)


def _write_at(data_image: str, data_format: str, target: Path, target_format: str,
              offset: int, size: int, progress: Progress | None, label: str) -> None:
    """Copy the whole of one image into ``target`` at byte ``offset``."""
    # A raw window onto the target: its format driver (none for raw) over
    # the file. Commas in the path are doubled, as QEMU's option syntax wants.
    if target_format == "raw":
        node = "file.driver=file,file.filename="
    else:
        node = f"file.driver={target_format},file.file.driver=file,file.file.filename="
    target_opts = (f"driver=raw,offset={offset},size={size},{node}"
                   + str(target).replace(",", ",,"))
    _qemu_img(["convert", "-n", "-f", data_format, data_image, "--target-image-opts",
               target_opts], label, str(target), progress, label)


def partitioned(work: DiskImage, path: Path, fmt: str, uuid: str | None,
                progress: Progress) -> DiskImage:
    """A new image holding ``work``'s whole-disk file system in partition 1.

    The image is :data:`PARTITION_START` bytes larger; the file system is
    copied block for block, so its UUID and label stay.
    """
    size = work.size + PARTITION_START
    _qemu_img(["create", "-q", "-f", fmt, str(path), str(size)], "creating an image",
              str(path))
    _write_at(work.path, work.format, path, fmt, PARTITION_START, work.size, progress,
              f"copying the file system of {work.vdev} into partition 1")
    disk_id = bytes.fromhex((uuid or "").replace("-", "")[:8].ljust(8, "0"))
    sector = path.with_name(path.name + ".mbr")
    try:
        sector.write_bytes(mbr(PARTITION_START, work.size, disk_id))
        _write_at(str(sector), "raw", path, fmt, 0, SECTOR, None, "writing the MBR")
    finally:
        sector.unlink(missing_ok=True)
    return DiskImage(str(path), work.vdev, fmt, size)


def backup_copy(source: str, backup: Path, progress: Progress) -> None:
    """Copy ``source`` byte for byte (holes kept) to the new file ``backup``."""
    total = os.path.getsize(source) or 1
    done = 0
    with progress.copy(f"backing up {Path(source).name}") as update, \
            open(source, "rb") as src, open(backup, "xb") as dst:
        while block := src.read(_COPY_BLOCK):
            if block.count(0) == len(block):
                dst.seek(len(block), os.SEEK_CUR)
            else:
                dst.write(block)
            done += len(block)
            update(done / total)
        dst.truncate(done)
        dst.flush()
        os.fsync(dst.fileno())
    shutil.copystat(source, backup)
