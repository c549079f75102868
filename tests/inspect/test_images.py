"""Output images made with qemu-img: overlays, flattened copies, rebuilt disks, backups."""

from __future__ import annotations

import hashlib
import json
import subprocess

import pytest

from xenshift.inspect.errors import ImageError
from xenshift.inspect.images import backup_copy, flatten, mbr, overlay, partitioned
from xenshift.inspect.sources import probe_disk
from xenshift.progress import Progress

UUID = "0d0b153f-eaec-4217-823b-b9286118181e"


def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def ext4(tmp_path):
    """A 16 MiB raw image holding ext4 on the whole disk, with a known UUID."""
    image = tmp_path / "fs.img"
    subprocess.run(["mkfs.ext4", "-q", "-U", UUID, "-L", "root", str(image), "16M"], check=True)
    return probe_disk(str(image), "xvda")


def test_mbr_has_one_bootable_linux_partition():
    sector = mbr(1 << 20, 16 << 20, b"\x01\x02\x03\x04")
    assert len(sector) == 512 and sector[510:] == b"\x55\xaa"
    assert sector[:440] == bytes(440) and sector[440:444] == b"\x01\x02\x03\x04"
    entry = sector[446:462]
    assert entry[0] == 0x80 and entry[4] == 0x83
    assert int.from_bytes(entry[8:12], "little") == 2048
    assert int.from_bytes(entry[12:16], "little") == 32768
    with pytest.raises(ValueError):
        mbr(100, 512, b"1234")


@pytest.mark.parametrize("fmt", ["qcow2", "raw"])
def test_partitioned_copy_keeps_the_file_system(tmp_path, ext4, fmt):
    before = _sha(tmp_path / "fs.img")
    work = overlay(ext4, tmp_path / "work.qcow2")
    out = partitioned(work, tmp_path / f"out.{fmt}", fmt, UUID, Progress(False))
    assert out.size == ext4.size + (1 << 20)
    raw = tmp_path / "check.raw"
    subprocess.run(["qemu-img", "convert", "-O", "raw", out.path, str(raw)], check=True)
    table = json.loads(subprocess.run(["sfdisk", "--json", str(raw)], capture_output=True,
                                      text=True, check=True).stdout)["partitiontable"]
    [part] = table["partitions"]
    assert (table["label"], part["start"], part["size"], part["type"]) == (
        "dos", 2048, ext4.size // 512, "83")
    probe = subprocess.run(["blkid", "-p", "-O", str(1 << 20), "-o", "export", str(raw)],
                           capture_output=True, text=True).stdout
    assert f"UUID={UUID}" in probe and "TYPE=ext4" in probe
    assert _sha(tmp_path / "fs.img") == before


def test_overlay_then_flatten(tmp_path, ext4):
    work = overlay(ext4, tmp_path / "work.qcow2")
    info = json.loads(subprocess.run(["qemu-img", "info", "--output=json", work.path],
                                     capture_output=True, text=True, check=True).stdout)
    assert info["backing-filename"] == str(tmp_path / "fs.img")
    out = flatten(work, tmp_path / "out.img", "raw", Progress(False))
    assert (tmp_path / "out.img").read_bytes() == (tmp_path / "fs.img").read_bytes()
    assert (out.format, out.vdev) == ("raw", "xvda")


def test_backup_copy_is_byte_identical_and_sparse(tmp_path, ext4):
    backup = tmp_path / "fs.img.bak"
    backup_copy(ext4.path, backup, Progress(False))
    assert _sha(backup) == _sha(tmp_path / "fs.img")
    assert backup.stat().st_blocks < backup.stat().st_size // 512
    with pytest.raises(FileExistsError):
        backup_copy(ext4.path, backup, Progress(False))


def test_qemu_img_failure_names_the_image(tmp_path, ext4):
    with pytest.raises(ImageError, match="creating an overlay failed") as caught:
        overlay(ext4, tmp_path / "missing-dir" / "o.qcow2")
    assert str(caught.value).startswith(ext4.path)
