"""Inputs: vdev numbering, config-vs-disk sniffing, disk checks, xl configs."""

from __future__ import annotations

import pytest

from xenshift.errors import ConfigErrors, SpecError
from xenshift.inspect.errors import CorruptImageError, MissingDiskError
from xenshift.inspect.sources import (default_vdev, disks_from_config, disks_from_paths,
                                      is_config_file, probe_disk)


def test_default_vdev():
    assert [default_vdev(i) for i in (0, 1, 25, 26, 27)] == ["xvda", "xvdb", "xvdz", "xvdaa", "xvdab"]


@pytest.fixture
def raw_disk(tmp_path):
    path = tmp_path / "disk.img"
    with open(path, "wb") as f:
        f.truncate(1 << 20)
    return path


def test_sniffing(tmp_path, raw_disk):
    cfg = tmp_path / "guest"
    cfg.write_text('name = "g"\n')
    assert is_config_file(str(cfg))
    assert not is_config_file(str(raw_disk))
    assert not is_config_file(str(tmp_path / "missing"))


def test_probe_disk(tmp_path, raw_disk):
    disk = probe_disk(str(raw_disk), "xvda")
    assert (disk.format, disk.size) == ("raw", 1 << 20)
    with pytest.raises(MissingDiskError, match="no such disk image") as err:
        probe_disk(str(tmp_path / "nope.img"), "xvda")
    assert str(err.value).startswith(str(tmp_path / "nope.img"))
    bad = tmp_path / "bad.qcow2"
    bad.write_bytes(b"QFI\xfb\0\0\0\3" + b"garbage" * 10)
    with pytest.raises(CorruptImageError, match="not a readable disk image"):
        probe_disk(str(bad), "xvda")
    with pytest.raises(CorruptImageError, match="raw|qcow2"):
        probe_disk(str(raw_disk), "xvda", "qcow2")
    empty = tmp_path / "empty.img"
    empty.write_bytes(b"")
    with pytest.raises(CorruptImageError, match="empty"):
        probe_disk(str(empty), "xvda")
    with pytest.raises(CorruptImageError, match="directory"):
        probe_disk(str(tmp_path), "xvda")


def test_disks_from_paths_number_in_order(raw_disk, tmp_path):
    second = tmp_path / "second.img"
    second.write_bytes(b"\0" * 4096)
    assert [d.vdev for d in disks_from_paths([str(raw_disk), str(second)])] == ["xvda", "xvdb"]


def test_disks_from_config(tmp_path, raw_disk):
    cfg = tmp_path / "guest.cfg"
    cfg.write_text(
        'name = "g"\n'
        f'disk = [ "format=raw, vdev=xvdb, access=rw, target={raw_disk}",\n'
        '         ",raw,hdc,ro,devtype=cdrom",\n'
        f'         "file:{raw_disk},xvda,w" ]\n')
    disks = disks_from_config(str(cfg))
    assert [(d.vdev, d.path, d.format) for d in disks] == [
        ("xvdb", str(raw_disk), "raw"), ("xvda", str(raw_disk), "raw")]


def test_config_errors_name_the_line(tmp_path):
    cfg = tmp_path / "guest.cfg"
    cfg.write_text('name = "g"\ndisk = [ "target=/nonexistent/x.img" ]\n')
    with pytest.raises(SpecError) as err:  # no vdev: a config error, located
        disks_from_config(str(cfg))
    assert f"{cfg}:2" in str(err.value)
    cfg.write_text('name = "g"\ndisk = [ "vdev=xvda, target=/nonexistent/x.img" ]\n')
    with pytest.raises(MissingDiskError) as missing:
        disks_from_config(str(cfg))
    assert str(missing.value) == f"/nonexistent/x.img: no such disk image (disk xvda in {cfg}:2)"
    cfg.write_text('name = "g"\n')
    with pytest.raises(MissingDiskError, match="lists no disk"):
        disks_from_config(str(cfg))
    cfg.write_text('name = g\n')
    with pytest.raises(ConfigErrors):
        disks_from_config(str(cfg))
