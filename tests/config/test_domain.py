"""The typed model follows xl's own reading rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from xenshift.config.document import decode, parse_config, parse_xl
from xenshift.config.domain import build_domain, match_guest_type
from xenshift.config.model import GuestType, TypeSource
from xenshift.errors import ConfigErrors

CORPUS = Path(__file__).resolve().parents[2] / "fixtures" / "configs"


def domain(text: str):
    return build_domain(parse_xl(text, "g.cfg"))


@pytest.mark.parametrize("path", sorted(CORPUS.glob("*.cfg")) +
                         sorted((CORPUS / "xm").glob("*.cfg")), ids=lambda p: p.name)
def test_every_bundled_config_builds_a_model(path: Path) -> None:
    config = build_domain(parse_config(decode(path.read_bytes()), str(path)))
    assert config.name
    # Nothing is dropped: every key is a typed field or kept in `other`.
    doc = config.document
    assert set(config.other) <= set(doc.settings.keys())


@pytest.mark.parametrize("value, expected", [
    ("", GuestType.HVM), ("h", GuestType.HVM), ("hvm", GuestType.HVM),
    ("p", GuestType.PV), ("pv", GuestType.PV), ("pvh", GuestType.PVH),
    ("hvmx", None), ("x", None),
])
def test_type_is_prefix_matched_like_xl(value: str, expected) -> None:
    assert match_guest_type(value) is expected


def test_guest_type_sources() -> None:
    base = 'name="g"\nbootloader="pygrub"\n'
    assert domain(base).guest_type is GuestType.PV
    assert domain(base).type_source is TypeSource.DEFAULT
    hvm = domain('name="g"\nbuilder="hvm"\n')
    assert (hvm.guest_type, hvm.type_source) == (GuestType.HVM, TypeSource.BUILDER)
    pv = domain(base + 'type="pv"\nbuilder="generic"\n')
    assert (pv.guest_type, pv.type_source) == (GuestType.PV, TypeSource.TYPE)


def test_contradicting_builder_and_bad_type_are_errors() -> None:
    with pytest.raises(ConfigErrors) as info:
        domain('name="g"\ntype="hvm"\nbuilder="generic"\n')
    assert "contradicts" in str(info.value)
    with pytest.raises(ConfigErrors, match="invalid guest type 'kvm'"):
        domain('name="g"\ntype="kvm"\n')


def test_cmdline_precedence_matches_xl() -> None:
    assert domain('name="g"\nroot="/dev/xvda1 ro"\nextra="console=hvc0"\n'
                  ).boot.cmdline == "root=/dev/xvda1 ro console=hvc0"
    assert domain('name="g"\nroot="/dev/xvda1"\n').boot.cmdline == "root=/dev/xvda1"
    assert domain('name="g"\nextra="quiet"\n').boot.cmdline == "quiet"
    both = domain('name="g"\ncmdline="a"\nroot="/dev/x"\n')
    assert both.boot.cmdline == "a"
    assert "ignores root= and extra=" in str(both.warnings[0])


def test_bootloader_args_string_is_split() -> None:
    config = domain('name="g"\nbootloader="pygrub"\nbootloader_args="-q  --entry=1"\n')
    assert config.boot.bootloader_args == ("-q", "--entry=1")
    assert domain('name="g"\nbootloader_args=["-q"]\n').boot.bootloader_args == ("-q",)


def test_numbers_xl_cannot_read_are_warnings_not_values() -> None:
    config = domain('name="g"\nmemory=09\nmaxmem=0x400\nvcpus=010\n')
    assert config.memory is None and config.maxmem == 1024 and config.vcpus == 8
    assert "not a valid number" in str(config.warnings[0])


def test_actions_devices_and_unknown_keys() -> None:
    config = domain(
        'name="g"\non_crash="preserve"\nuuid="6f1e3b9a-5d2c-4e8f-9a7b-0c1d2e3f4a5b"\n'
        'disk=["phy:/dev/vg/g,xvda,w", ",hdc:cdrom,r"]\n'
        'vif=["mac=00:16:3e:00:00:01,bridge=br0,rate=10Mb/s@20ms"]\n'
        'pci=["01:00.0@5"]\nserial=["pty", "file:/tmp/s"]\n'
        'vnuma=[["pnode=0","size=512","vcpus=0","vdistances=10,20"],'
        '["pnode=1","size=512","vcpus=1","vdistances=20,10"]]\n'
        'frobnicate=1\n')
    assert config.lifecycle.on_crash == "preserve"
    assert config.lifecycle.on_reboot == "restart"
    assert [d.vdev for d in config.disks] == ["xvda", "hdc"]
    assert config.disks[1].is_cdrom and not config.disks[1].target
    assert config.vifs[0].mac == "00:16:3e:00:00:01"
    assert len(config.pcis) == 1 and len(config.serials) == 2 and len(config.vnuma) == 2
    assert "frobnicate" in config.other


def test_all_semantic_errors_are_collected() -> None:
    with pytest.raises(ConfigErrors) as info:
        domain('on_crash="explode"\ndisk=["/x,xvda,w,bogus"]\nvif="bridge=br0"\n')
    messages = [str(e) for e in info.value.errors]
    assert len(messages) == 4  # no name, bad action, bad disk, vif not a list
    assert messages[0].startswith("g.cfg:1:1: the domain has no name=")
    assert any(m.startswith("g.cfg:2:7: disk spec") for m in messages)


def test_xm_builder_linux_means_pv() -> None:
    config = build_domain(parse_config("name = 'g'\nbuilder = 'linux'\nacpi = True\n"
                                       "bootloader = '/usr/bin/pygrub'\n"))
    assert config.guest_type is GuestType.PV
