"""Disk specs: every form of xl-disk-configuration(5), errors, round trips."""

from __future__ import annotations

import pytest
from hypothesis import given

from tests.config.devices.spec_errors import assert_spec_error
from tests.config.devices.strategies import disk_specs
from xenshift.config.devices.disk import DiskSpec, format_disk, parse_disk
from xenshift.config.devices.disk_lexer import disk_tokens
from xenshift.errors import SpecError

VOLUME = DiskSpec(vdev="hda", target="/dev/vg/guest-volume")
ISO = DiskSpec(vdev="hdc", target="/root/image.iso", is_cdrom=True, readwrite=False)
EMPTY_CDROM = DiskSpec(vdev="hdc", target="", format="empty", is_cdrom=True, readwrite=False)

PARSED = [
    # Positional slots: target, format, vdev, access.
    ("/dev/vg/guest-volume,,hda", VOLUME),
    ("/dev/vg/guest-volume,raw,hda,rw", VOLUME),
    ("/dev/vg/guest-volume,,hda,w", VOLUME),
    ("/x,qcow2,xvda,r", DiskSpec(vdev="xvda", target="/x", format="qcow2", readwrite=False)),
    ("/x,,xvda,", DiskSpec(vdev="xvda", target="/x")),
    ("/x,empty,xvda", DiskSpec(vdev="xvda", target="/x", format="empty")),
    ("/path with spaces ,,xvda", DiskSpec(vdev="xvda", target="/path with spaces ")),
    # Keys, in any order, blanks after commas.
    ("format=raw, vdev=hda, access=rw, target=/dev/vg/guest-volume", VOLUME),
    ("vdev=hda,target=/dev/vg/guest-volume", VOLUME),
    ("format=,vdev=hda,access=,target=/dev/vg/guest-volume", VOLUME),
    ("\tvdev=hda,  target=/dev/vg/guest-volume", VOLUME),
    ("format=qed,vdev=xvda,target=/x", DiskSpec(vdev="xvda", target="/x", format="qed")),
    ("format=vhd,vdev=xvda,access=ro,target=/x",
     DiskSpec(vdev="xvda", target="/x", format="vhd", readwrite=False)),
    ("backendtype=phy,vdev=xvdb,access=w,target=/dev/vg/guest-volume",
     DiskSpec(vdev="xvdb", target="/dev/vg/guest-volume", backendtype="phy")),
    ("backendtype=qdisk,backend=driverdom,specification=virtio,vdev=xvda,target=/x",
     DiskSpec(vdev="xvda", target="/x", backendtype="qdisk", backend="driverdom",
              specification="virtio")),
    ("vdev=xvda,access=w,script=block-iscsi,target=iqn.2001-05.com.example:disk",
     DiskSpec(vdev="xvda", target="iqn.2001-05.com.example:disk", script="block-iscsi")),
    # target= eats the rest, commas and blanks included, less one trailing comma.
    ("vdev=xvda,target=/a,b=c, d ", DiskSpec(vdev="xvda", target="/a,b=c, d ")),
    ("vdev=xvda,target=/a,", DiskSpec(vdev="xvda", target="/a")),
    ("vdev=xvda,target=/a,,", DiskSpec(vdev="xvda", target="/a,")),
    ("vdev=xvda,target=", DiskSpec(vdev="xvda", target="")),
    # Flags.
    ("discard,vdev=hda,target=/i",
     DiskSpec(vdev="hda", target="/i", discard=True)),
    ("cdrom,no-discard,vdev=hda,target=/i.iso",
     DiskSpec(vdev="hda", target="/i.iso", is_cdrom=True, readwrite=False, discard=False)),
    ("trusted,vdev=hda,target=/i", DiskSpec(vdev="hda", target="/i", trusted=True)),
    ("untrusted,vdev=hda,target=/i", DiskSpec(vdev="hda", target="/i", trusted=False)),
    ("direct-io-safe,vdev=hda,target=/i",
     DiskSpec(vdev="hda", target="/i", direct_io_safe=True)),
    ("colo,colo-host=h,colo-port=7000,colo-export=e,active-disk=/a,hidden-disk=/h,"
     "vdev=hda,target=/i",
     DiskSpec(vdev="hda", target="/i", colo=True, colo_host="h", colo_port=7000,
              colo_export="e", active_disk="/a", hidden_disk="/h")),
    ("no-colo,colo-port=12abc,vdev=hda,target=/i",
     DiskSpec(vdev="hda", target="/i", colo=False, colo_port=12)),
    ("grant_usage=1,vdev=hda,target=/i", DiskSpec(vdev="hda", target="/i", grant_usage=True)),
    ("grant_usage=0,vdev=hda,target=/i", DiskSpec(vdev="hda", target="/i", grant_usage=False)),
    # cdroms are read-only and removable.
    ("/root/image.iso,,hdc,cdrom", ISO),
    ("/root/image.iso,,hdc,,cdrom", ISO),
    ("/root/image.iso,raw,hdc,devtype=cdrom", ISO),
    ("format=raw, vdev=hdc, access=ro, devtype=cdrom, target=/root/image.iso", ISO),
    ("raw:/root/image.iso,hdc:cdrom,ro", ISO),
    ("/root/image.iso,,hdc,rw,cdrom", ISO),
    ("devtype=disk,vdev=hdc,target=/x", DiskSpec(vdev="hdc", target="/x")),
    ("cdrom,devtype=disk,vdev=hdc,target=/x", DiskSpec(vdev="hdc", target="/x")),
    # Empty cdroms.
    ("devtype=cdrom,,,hdc", EMPTY_CDROM),
    (",,hdc:cdrom,r", EMPTY_CDROM),
    (",hdc:cdrom,r", EMPTY_CDROM),
    ("vdev=hdc,access=r,devtype=cdrom,target=", EMPTY_CDROM),
    (",empty,hdc:cdrom,r", EMPTY_CDROM),
    ("vdev=hdc,access=r,devtype=cdrom,format=empty",
     DiskSpec(vdev="hdc", format="empty", is_cdrom=True, readwrite=False)),
    ("vdev=hdc,access=r,devtype=cdrom",
     DiskSpec(vdev="hdc", format="empty", is_cdrom=True, readwrite=False)),
    (",xvdb:disk,w", DiskSpec(vdev="xvdb", target="", format="empty")),
    # Legacy xm prefixes.
    ("raw:/dev/vg/guest-volume,hda,w", VOLUME),
    ("qcow:/x.img,xvda,w", DiskSpec(vdev="xvda", target="/x.img", format="qcow")),
    ("qcow2:/x.img,xvda,w", DiskSpec(vdev="xvda", target="/x.img", format="qcow2")),
    ("vhd:/x.vhd,xvda,r",
     DiskSpec(vdev="xvda", target="/x.vhd", format="vhd", readwrite=False)),
    ("phy:/dev/sda,xvda,w",
     DiskSpec(vdev="xvda", target="/dev/sda", legacy_prefixes=("phy",))),
    ("file:/x.img,xvda1,w",
     DiskSpec(vdev="xvda1", target="/x.img", legacy_prefixes=("file",))),
    ("tap:aio:/x.img,xvda,w",
     DiskSpec(vdev="xvda", target="/x.img", legacy_prefixes=("tap", "aio"))),
    ("tap:qcow2:/x.qcow2,xvda,w",
     DiskSpec(vdev="xvda", target="/x.qcow2", format="qcow2", legacy_prefixes=("tap",))),
    ("tap2:tapdisk:ioemu:/x,hda,w",
     DiskSpec(vdev="hda", target="/x", legacy_prefixes=("tap2", "tapdisk", "ioemu"))),
    ("iscsi:iqn.2001-05.com.equallogic:0-8a0906-23fe93404-c82797962054a96d-examplehost,xvda,w",
     DiskSpec(vdev="xvda", script="block-iscsi",
              target="iqn.2001-05.com.equallogic:0-8a0906-23fe93404-c82797962054a96d-examplehost")),
    ("drbd:app01,hda,w", DiskSpec(vdev="hda", target="app01", script="block-drbd")),
    ("nbd:host:1234,xvda,w", DiskSpec(vdev="xvda", target="host:1234", script="block-nbd")),
    ("enbd:h,xvda,w", DiskSpec(vdev="xvda", target="h", script="block-enbd")),
    # Words that are flags only when nothing longer matches.
    ("cdromx,,xvda", DiskSpec(vdev="xvda", target="cdromx")),
    ("phy:,xvda", DiskSpec(vdev="xvda", target="", legacy_prefixes=("phy",))),
]


@pytest.mark.parametrize("text, expected", PARSED)
def test_parse(text, expected):
    assert parse_disk(text) == expected


ERRORS = [
    ("foo=bar,xvda", "unknown parameter", "foo=bar"),
    ("vdev=xvda,target=/x,size=10", None, None),  # target= ate "size=10": accepted
    ("/x,,xvda,w!", "unknown value for access", "w!"),
    ("/x,vmdk,xvda", "unknown value for format", "vmdk"),
    ("format=vmdk,vdev=xvda,target=/x", "unknown value for format", "vmdk"),
    ("backendtype=xen,vdev=xvda,target=/x", "unknown value for backendtype", "xen"),
    ("specification=scsi,vdev=xvda,target=/x", "unknown value for specification", "scsi"),
    ("devtype=floppy,vdev=xvda,target=/x", "unknown value for devtype", "floppy"),
    ("colo-port=0,vdev=xvda,target=/x", "unknown value for colo-port", "0"),
    ("colo-port=x,vdev=xvda,target=/x", "unknown value for colo-port", "x"),
    ("/x,raw,hda,rw,extra", "too many positional parameters", "extra"),
    ("phy:,,xvda", "unknown value for access", "xvda"),  # phy: skips the format slot
    ("phy:/dev/sda,xvda,w,foo", "too many positional parameters", "foo"),
    ("/x,raw", "no vdev specified", None),
    ("access=r", "no vdev specified", None),
    ("vdev=xvda", "no target specified (and device not removable)", None),
    ("/x,,xvda,target=/y", "target respecified", "/y"),
    ("vdev=xvda,vdev=xvdb,target=/x", "vdev respecified", "xvdb"),
    ("script=a,script=b,vdev=xvda,target=/x", "script respecified", "b"),
    ("iscsi:iqn,script=block-x,vdev=xvda", "script respecified", "block-x"),
    ("format=raw,format=qcow2,vdev=xvda,target=/x", "format respecified", "qcow2"),
    ("backendtype=phy,backendtype=tap,vdev=xvda,target=/x", "backendtype respecified", "tap"),
    ("foo:/x,xvda,w", "unknown deprecated disk prefix", "foo:"),
    ("/x,,xvda:floppy", "unknown deprecated type", "floppy"),
    ("vdev=xvda,=x,target=/y", "bad disk syntax near", "=x,target=/y"),
    ("Format=raw,vdev=xvda,target=/x", "bad disk syntax near", "=raw,vdev=xvda,target=/x"),
    ("format=raw vdev=xvda", "unknown value for format", "raw vdev=xvda"),
]


@pytest.mark.parametrize("text, problem, item", ERRORS)
def test_errors_name_spec_and_item(text, problem, item):
    if problem is None:
        parse_disk(text)
        return
    assert_spec_error(parse_disk, text, "disk", problem, item)


def test_cdrom_word_is_a_flag_and_cdromx_a_target():
    assert [token.rule for token in disk_tokens("cdrom,cdromx")] == ["cdrom", "positional"]


def test_prefix_counts_its_trailing_context():
    # "phy:" with the rest of the line beats the positional "phy:/dev/sda,".
    assert [token.text for token in disk_tokens("phy:/dev/sda,xvda")] == [
        "phy:", "/dev/sda,", "xvda"]


@pytest.mark.parametrize("text, block", [
    ("phy:/srv/disk.img,xvda,w", True),
    ("backendtype=phy,vdev=xvda,target=/srv/disk.img", True),
    ("/dev/vg0/root,,xvda", True),
    ("file:/srv/disk.img,xvda,w", False),
    ("tap:aio:/dev/sdb,xvda,w", True),
    (",hdc:cdrom,r", False),
])
def test_is_block_device(text, block):
    assert parse_disk(text).is_block_device is block


def test_properties():
    spec = parse_disk("tap:aio:/x.iso,hdc:cdrom,r")
    assert (spec.is_cdrom, spec.readonly, spec.removable) == (True, True, True)
    assert spec.legacy_prefix == "tap"
    assert spec.vdev_info.name == "hdc" and spec.vdev_info.disk == 2
    assert parse_disk("/x,,xvda").legacy_prefix is None
    assert not parse_disk("/x,,xvda").readonly


def test_vdev_info_raises_for_a_vdev_libxl_refuses():
    with pytest.raises(SpecError, match="vdev spec 'vda': not a virtual device name"):
        _ = parse_disk("/x,,vda").vdev_info


@pytest.mark.parametrize("spec, text", [
    (VOLUME, "format=raw, vdev=hda, access=rw, target=/dev/vg/guest-volume"),
    (EMPTY_CDROM, "format=empty, vdev=hdc, access=ro, devtype=cdrom, target="),
    (DiskSpec(vdev="xvda", target="/dev/sda", legacy_prefixes=("phy",), discard=False,
              script="block-iscsi", colo_port=9),
     "phy:format=raw, vdev=xvda, access=rw, script=block-iscsi, no-discard, colo-port=9, "
     "target=/dev/sda"),
    (DiskSpec(vdev="xvda", target="/a,"), "format=raw, vdev=xvda, access=rw, target=/a,,"),
])
def test_format(spec, text):
    assert format_disk(spec) == text


@pytest.mark.parametrize("spec", [
    DiskSpec(vdev="xvda,1", target="/x"),
    DiskSpec(vdev="xvda", target="/x", script="a,b"),
    DiskSpec(vdev="xvda", target="/x\ny"),
])
def test_format_refuses_what_the_syntax_cannot_carry(spec):
    with pytest.raises(ValueError):
        format_disk(spec)


@pytest.mark.parametrize("fields", [
    {"vdev": "hdc", "target": "/x", "is_cdrom": True},                      # read-write cdrom
    {"vdev": "xvda"},                                                        # no target
    {"vdev": "hdc", "is_cdrom": True, "readwrite": False, "format": "raw"},  # empty, not 'empty'
])
def test_impossible_specs_are_refused(fields):
    with pytest.raises(ValueError):
        DiskSpec(**fields)


@given(disk_specs())
def test_round_trip(spec):
    assert parse_disk(format_disk(spec)) == spec


@given(disk_specs())
def test_parse_is_stable_on_canonical_text(spec):
    text = format_disk(spec)
    assert format_disk(parse_disk(text)) == text
