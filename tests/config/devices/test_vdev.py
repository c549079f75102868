"""Virtual device names: decoding, encoding and renaming."""

from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from tests.config.devices.spec_errors import assert_spec_error
from xenshift.config.devices.vdev import Vdev, disk_letters, parse_vdev
from xenshift.errors import SpecError

# (name, kind, disk, partition, number) from xen-vbd-interface(7) and libxl.
DECODED = [
    ("xvda", "xvd", 0, 0, 202 << 8),
    ("xvdb2", "xvd", 1, 2, 202 << 8 | 1 << 4 | 2),
    ("xvdp15", "xvd", 15, 15, 202 << 8 | 15 << 4 | 15),
    ("xvdq", "xvd", 16, 0, 1 << 28 | 16 << 8),
    ("xvda16", "xvd", 0, 16, 1 << 28 | 16),
    ("xvdaa", "xvd", 26, 0, 1 << 28 | 26 << 8),
    ("xvdtq37", "xvd", 536, 37, 1 << 28 | 536 << 8 | 37),
    ("d536p37", "d", 536, 37, 1 << 28 | 536 << 8 | 37),
    ("d0p0", "d", 0, 0, 202 << 8),
    ("d0x10p1", "d", 16, 1, 1 << 28 | 16 << 8 | 1),
    ("hda", "hd", 0, 0, 3 << 8),
    ("hdb1", "hd", 1, 1, 3 << 8 | 1 << 6 | 1),
    ("hdc2", "hd", 2, 2, 22 << 8 | 2),
    ("hdd63", "hd", 3, 63, 22 << 8 | 1 << 6 | 63),
    ("sda", "sd", 0, 0, 8 << 8),
    ("sdb3", "sd", 1, 3, 8 << 8 | 1 << 4 | 3),
    ("sdp15", "sd", 15, 15, 8 << 8 | 15 << 4 | 15),
    ("51712", "number", 0, 0, 51712),
    ("0xca01", "number", 0, 1, 51713),
    ("01400", "number", 0, 0, 768),
    ("768", "number", 0, 0, 768),
    ("2049", "number", 0, 1, 2049),
    ("1", "number", None, None, 1),
]


@pytest.mark.parametrize("name, kind, disk, partition, number", DECODED)
def test_decode(name, kind, disk, partition, number):
    vdev = parse_vdev(name)
    assert (vdev.kind, vdev.disk, vdev.partition, vdev.number) == (kind, disk, partition, number)
    assert vdev.is_whole_disk == (partition == 0)


@pytest.mark.parametrize("name, canonical", [
    ("xvdb2", "xvdb2"), ("d1p2", "d1p2"), ("d0x10p1", "d16p1"), ("0xca00", "51712"),
])
def test_name_is_canonical(name, canonical):
    assert parse_vdev(name).name == canonical


@pytest.mark.parametrize("name, family", [
    ("xvda", "xvd"), ("d3p0", "xvd"), ("hdc", "hd"), ("sdb", "sd"),
    ("768", "hd"), ("2048", "sd"), ("268435456", "xvd"), ("1", None),
])
def test_family(name, family):
    assert parse_vdev(name).family == family


@pytest.mark.parametrize("name, problem, item", [
    ("hde", "hd has disks 0-3 only, not disk", "4"),
    ("hda64", "hd has partitions up to 63 only, not partition", "64"),
    ("sdq", "sd has disks 0-15 only, not disk", "16"),
    ("sda16", "sd has partitions up to 15 only, not partition", "16"),
    ("xvda256", "xvd has partitions up to 255 only, not partition", "256"),
    ("d1048576p0", "d has disks 0-1048575 only, not disk", "1048576"),
    ("xvda0", "not a virtual device name", "xvda0"),   # no leading zero
    ("d0", "not a virtual device name", "d0"),         # libxl wants dNpM
    ("d08p0", "not a virtual device name", "d08p0"),   # %i reads 0, then 8
    ("vda", "not a virtual device name", "vda"),
    ("xvd", "not a virtual device name", "xvd"),
    ("xvdA", "not a virtual device name", "xvdA"),
    ("-1", "not a virtual device name", "-1"),
    ("2147483648", "not a virtual device name", "2147483648"),
    ("", "not a virtual device name", ""),
])
def test_rejects(name, problem, item):
    assert_spec_error(parse_vdev, name, "vdev", problem, item)


@pytest.mark.parametrize("name, kind, renamed", [
    ("xvda", "hd", "hda"), ("xvdb", "sd", "sdb"), ("xvda", "vd", "vda"),
    ("hdc1", "xvd", "xvdc1"), ("sdb", "d", "d1p0"), ("768", "xvd", "xvda"),
    ("xvdaa", "vd", "vdaa"), ("xvdd63", "hd", "hdd63"),
])
def test_renamed(name, kind, renamed):
    assert parse_vdev(name).renamed(kind).name == renamed


def test_renamed_vd_has_no_number():
    assert parse_vdev("xvdc").renamed("vd") == Vdev("vd", 2, 0, None)


@pytest.mark.parametrize("name, kind, message", [
    ("xvde", "hd", "vdev spec 'xvde': cannot rename to hd: hd has disks 0-3 only, not disk '4'"),
    ("xvdq", "sd", "vdev spec 'xvdq': cannot rename to sd: sd has disks 0-15 only, not disk '16'"),
    ("xvda1", "vd", "vdev spec 'xvda1': cannot rename to vd: "
                    "vd names whole disks only, not partition '1'"),
    ("xvda64", "hd", "vdev spec 'xvda64': cannot rename to hd: "
                     "hd has partitions up to 63 only, not partition '64'"),
    ("1", "xvd", "vdev spec '1': cannot rename to xvd: no known disk in number '1'"),
])
def test_renamed_refuses(name, kind, message):
    with pytest.raises(SpecError) as caught:
        parse_vdev(name).renamed(kind)
    assert caught.value.message == message


@pytest.mark.parametrize("index, letters", [
    (0, "a"), (25, "z"), (26, "aa"), (51, "az"), (52, "ba"), (701, "zz"), (702, "aaa"),
    (536, "tq"),
])
def test_disk_letters(index, letters):
    assert disk_letters(index) == letters


LIMITS = {"xvd": ((1 << 20) - 1, 255), "d": ((1 << 20) - 1, 255), "hd": (3, 63), "sd": (15, 15)}


@st.composite
def vdev_parts(draw):
    kind = draw(st.sampled_from(sorted(LIMITS)))
    max_disk, max_partition = LIMITS[kind]
    return kind, draw(st.integers(0, max_disk)), draw(st.integers(0, max_partition))


@given(vdev_parts())
def test_name_round_trip(parts):
    kind, disk, partition = parts
    vdev = Vdev(kind, disk, partition, None).renamed(kind)
    assert parse_vdev(vdev.name) == vdev
    assert (vdev.disk, vdev.partition) == (disk, partition)
    assert parse_vdev(str(vdev.number)).family == ("xvd" if kind == "d" else kind)


@given(vdev_parts())
def test_rename_to_xvd_and_back(parts):
    kind, disk, partition = parts
    vdev = parse_vdev(Vdev(kind, disk, partition, None).renamed(kind).name)
    assert vdev.renamed("xvd").renamed(kind) == vdev
