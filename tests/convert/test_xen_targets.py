"""PV → HVM and PV → PVH: checked by parsing the result with Xen's own parser."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.oracles.libxlu_cfg import candidate_keys, xlu_parse
from tests.oracles.libxlu_disk import xlu_parse_disk
from xenshift.config import keys
from xenshift.config.devices import parse_disk, parse_vif
from xenshift.config.document import decode, load_config, parse_config
from xenshift.config.domain import build_domain
from xenshift.config.model import GuestType
from xenshift.convert.report import ChangeKind
from xenshift.convert.retarget import ConversionError
from xenshift.convert.to_hvm import HvmOptions, to_hvm
from xenshift.convert.to_pvh import to_pvh

CORPUS = Path(__file__).resolve().parents[2] / "fixtures" / "configs"


def _sources() -> list[Path]:
    paths = sorted(CORPUS.glob("*.cfg")) + sorted((CORPUS / "xm").glob("*.cfg"))
    return [p for p in paths
            if build_domain(load_config(p).check()).guest_type is GuestType.PV]


def _convertible(convert, paths):
    out = []
    for path in paths:
        try:
            convert(build_domain(load_config(path).check()))
        except ConversionError:
            continue
        out.append(path)
    return out


PV_SOURCES = _sources()
HVM_SOURCES = _convertible(to_hvm, PV_SOURCES)
PVH_SOURCES = _convertible(to_pvh, PV_SOURCES)


def test_the_corpus_exercises_both_conversions() -> None:
    assert len(HVM_SOURCES) >= 15 and len(PVH_SOURCES) >= 18


def _check_common(libxlu, source: Path, converted: str, target: GuestType) -> dict:
    """Checks every conversion must pass; returns libxlu's values."""
    config = build_domain(load_config(source).check())
    data = converted.encode("utf-8", "surrogateescape")
    xlu = xlu_parse(data, candidate_keys(data))
    assert xlu.rc == 0, xlu.report
    values = {k: v for k, (v, _) in xlu.values.items()}
    longs = {k: n for k, (_, n) in xlu.values.items()}
    assert values["type"] == target.value
    assert "builder" not in values
    for key in values:
        info = keys.lookup(key)
        assert info is None or target in info.guest_types, \
            f"{key} is not valid for {target.value}"
    assert values["name"] == config.name
    assert longs.get("memory") == config.memory
    assert longs.get("maxmem") == config.maxmem
    assert longs.get("vcpus") == config.vcpus
    vifs = [parse_vif(v) for v in values.get("vif", [])]
    assert [(v.mac, v.bridge, v.rate) for v in vifs] == \
        [(v.mac, v.bridge, v.rate) for v in config.vifs]
    disks = values.get("disk", [])
    assert len(disks) == len(config.disks)
    for before, spec in zip(config.disks, disks):
        oracle = xlu_parse_disk(libxlu, spec)
        assert oracle.value is not None, oracle.report
        assert (oracle.value["target"] or "") == (before.target or "")
        assert oracle.value["format"] == before.format
        assert oracle.value["readwrite"] == before.readwrite
        assert oracle.value["is_cdrom"] == before.is_cdrom
    return values


def _report_covers_every_key(report, source: Path) -> None:
    doc = load_config(source).check()
    subjects = {c.subject for c in report.changes}
    missing = [k for k in doc.settings.keys()
               if k not in subjects and keys.lookup(k) is not None]
    assert not missing, f"keys missing from the report: {missing}"


@pytest.mark.parametrize("source", HVM_SOURCES, ids=lambda p: p.name)
def test_pv_to_hvm(libxlu, source: Path) -> None:
    config = build_domain(load_config(source).check())
    result = to_hvm(config)
    values = _check_common(libxlu, source, result.document.text, GuestType.HVM)
    for key in ("bootloader", "bootloader_args", "kernel", "ramdisk", "cmdline",
                "root", "extra", "vfb"):
        assert key not in values
    assert values["boot"] in ("c", "cd")
    assert values["xen_platform_pci"] == "1"
    assert "serial" in values
    for disk in values["disk"]:
        spec = parse_disk(disk)
        if spec.vdev_info.is_whole_disk and spec.vdev_info.disk < 4:
            assert spec.vdev_info.family == "hd"
    assert all(parse_vif(v).model for v in values.get("vif", []))
    assert result.document.text.startswith("# Converted from PV to HVM by xenshift")
    _report_covers_every_key(result.report, source)
    # Untouched keys keep their comments.
    if config.document.dialect.value == "xl":
        for line in config.document.text.splitlines():
            if line.lstrip().startswith("#"):
                assert line in result.document.text


@pytest.mark.parametrize("source", PVH_SOURCES, ids=lambda p: p.name)
def test_pv_to_pvh(libxlu, source: Path) -> None:
    result = to_pvh(build_domain(load_config(source).check()))
    values = _check_common(libxlu, source, result.document.text, GuestType.PVH)
    assert "kernel" in values or "bootloader" in values
    assert not any(parse_vif(v).model for v in values.get("vif", []))
    assert "vfb" not in values
    _report_covers_every_key(result.report, source)
    assert any(c.kind is ChangeKind.WARNING and "support PVH" in c.reason
               for c in result.report.changes)


def _guest(text: str):
    return build_domain(parse_config(text, "g.cfg").check())


BASE = 'name = "g"\nmemory = 512\nbootloader = "pygrub"\n'


def test_disk_slots_avoid_an_existing_cdrom_and_run_out_after_four() -> None:
    config = _guest(BASE + 'disk = [ "/i/a,raw,xvda,w", ",raw,hdc:cdrom,r",\n'
                    '  "/i/b,raw,xvdb,w", "/i/c,raw,xvdc,w", "/i/d,raw,xvdd,w" ]\n')
    result = to_hvm(config)
    vdevs = [parse_disk(d).vdev for d in
             result.document.settings.to_json()["disk"]]
    assert vdevs == ["hda", "hdc", "hdb", "hdd", "xvdd"]
    assert result.document.settings.get_string("boot") == "cd"
    assert any("no emulated disk slot left" in c.reason
               for c in result.report.of_kind(ChangeKind.WARNING))


def test_partition_only_guest_is_refused_with_the_reason() -> None:
    config = _guest(BASE + 'disk = [ "phy:/dev/vg/r,xvda2,w", "phy:/dev/vg/s,xvda1,w" ]\n')
    with pytest.raises(ConversionError, match="boots from xvda2, a partition vdev"):
        to_hvm(config)


EC2 = ('name = "web"\nkernel = "/usr/lib/grub-xen/grub-x86_64-xen.bin"\n'
       'disk = [ "phy:/dev/vg/root,xvda1,w", "phy:/dev/vg/data,xvdb,w" ]\n')


def test_a_partition_boot_disk_beside_a_whole_disk_is_refused_config_only() -> None:
    # pv-grub's (hd0) is the first disk: xvda1, not the data disk xvdb.
    with pytest.raises(ConversionError, match="boots from xvda1, a partition vdev") as err:
        to_hvm(_guest(EC2))
    assert "without --config-only" in str(err.value)


def test_a_partition_boot_disk_is_rebuilt_whole_and_booted_first() -> None:
    result = to_hvm(_guest(EC2), HvmOptions(rebuilds_disks=True))
    assert [parse_disk(d).vdev for d in result.document.settings.to_json()["disk"]] \
        == ["hda", "hdb"]
    [warning] = [c for c in result.report.of_kind(ChangeKind.WARNING) if c.subject == "disk xvda1"]
    assert "rebuilt as a partitioned whole disk (hda)" in warning.reason
    # root= says which disk boots, whatever its place in the list.
    data_first = EC2.replace('"phy:/dev/vg/root,xvda1,w", "phy:/dev/vg/data,xvdb,w"',
                             '"phy:/dev/vg/data,xvdb,w", "phy:/dev/vg/root,xvda1,w"')
    data_first += 'extra = "root=/dev/xvda1 ro console=hvc0"\n'
    with pytest.raises(ConversionError, match="boots from xvda1"):
        to_hvm(_guest(data_first))
    result = to_hvm(_guest(data_first), HvmOptions(rebuilds_disks=True))
    assert [parse_disk(d).vdev for d in result.document.settings.to_json()["disk"]] \
        == ["hdb", "hda"]


def test_a_partition_beside_a_whole_disk_stays_pv_only_with_a_warning() -> None:
    config = _guest(BASE + 'disk = [ "phy:/dev/vg/r,xvda,w", "phy:/dev/vg/s,xvdb1,w" ]\n')
    result = to_hvm(config)
    assert [parse_disk(d).vdev for d in result.document.settings.to_json()["disk"]] \
        == ["hda", "xvdb1"]
    assert any(c.subject == "disk xvdb1" for c in result.report.of_kind(ChangeKind.WARNING))


def test_hvm_options_ahci_keep_xvd_and_nic_model() -> None:
    config = _guest(BASE + 'disk = [ "phy:/dev/vg/r,xvda,w" ]\nvif = [ "bridge=br0" ]\n')
    ahci = to_hvm(config, HvmOptions(hdtype="ahci", nic_model="rtl8139"))
    assert ahci.document.settings.get_string("hdtype") == "ahci"
    assert ahci.document.settings.to_json()["vif"] == ["bridge=br0,model=rtl8139"]
    kept = to_hvm(config, HvmOptions(keep_xvd=True))
    assert kept.document.settings.to_json()["disk"] == ["phy:/dev/vg/r,xvda,w"]


def test_xm_vif_type_netfront_is_dropped_as_xl_ignores_it() -> None:
    config = _guest(BASE + 'disk = [ "phy:/dev/vg/r,xvda,w" ]\n'
                    'vif = [ "type=netfront,bridge=br0" ]\n')
    assert config.vifs[0].ignored_type == "type=netfront"
    assert to_hvm(config).document.settings.to_json()["vif"] == ["bridge=br0,model=e1000"]
    assert to_pvh(config).document.settings.to_json()["vif"] == ["bridge=br0"]


def test_vfb_becomes_vnc_keys() -> None:
    config = _guest(BASE + 'disk = [ "/i/a,raw,xvda,w" ]\n'
                    'vfb = [ "vnc=1,vnclisten=0.0.0.0,vncdisplay=3,keymap=de" ]\n')
    settings = to_hvm(config).document.settings.to_json()
    assert settings["vnc"] == 1 and settings["vnclisten"] == "0.0.0.0"
    assert settings["vncdisplay"] == 3 and settings["keymap"] == "de"
    assert "vfb" not in settings


def test_hvm_and_pvh_sources_are_refused() -> None:
    hvm = _guest('name = "w"\ntype = "hvm"\ndisk = [ "/i/a,raw,hda,w" ]\n')
    with pytest.raises(ConversionError, match="already an HVM guest"):
        to_hvm(hvm)
    with pytest.raises(ConversionError, match="is an HVM guest"):
        to_pvh(hvm)
    pvh = _guest('name = "p"\ntype = "pvh"\nkernel = "/k"\n')
    with pytest.raises(ConversionError, match="already a PVH guest"):
        to_pvh(pvh)


def test_pvgrub_becomes_pygrub_for_pvh() -> None:
    config = _guest('name = "g"\nkernel = "/usr/lib/xen-4.17/boot/pv-grub-x86_64.gz"\n'
                    'extra = "(hd0,0)/boot/grub/menu.lst"\ndisk = [ "/i/a,raw,xvda,w" ]\n')
    settings = to_pvh(config).document.settings.to_json()
    assert settings["bootloader"] == "pygrub"
    assert "kernel" not in settings and "extra" not in settings
    firmware = _guest('name = "g"\nfirmware = "pvgrub64"\ndisk = [ "/i/a,raw,xvda,w" ]\n')
    assert to_pvh(firmware).document.settings.to_json()["bootloader"] == "pygrub"


@pytest.mark.parametrize("pv, pvh", [
    # Debian's grub-xen-host ships both images side by side.
    ("/usr/lib/grub-xen/grub-x86_64-xen.bin", "/usr/lib/grub-xen/grub-i386-xen_pvh.bin"),
    ("/usr/lib/grub-xen/grub-i386-xen.bin", "/usr/lib/grub-xen/grub-i386-xen_pvh.bin"),
    # SUSE's grub2-x86_64-xen (which its btrfs guests boot through) and
    # grub2-i386-xen_pvh.
    ("/usr/share/grub2/x86_64-xen/grub.xen", "/usr/share/grub2/i386-xen_pvh/grub.xen"),
])
def test_grub2_xen_image_becomes_its_pvh_image(pv, pvh) -> None:
    config = _guest(f'name = "g"\nkernel = "{pv}"\ndisk = [ "/i/a,raw,xvda,w" ]\n')
    assert config.boot.uses_pvgrub
    result = to_pvh(config)
    settings = result.document.settings.to_json()
    assert settings["kernel"] == pvh and "bootloader" not in settings
    assert any("PVH image" in c.reason for c in result.report.changes if c.subject == "kernel")


def test_xm_source_is_written_as_xl() -> None:
    source = CORPUS / "xm" / "sles10-sp4-vm-install-domuloader.cfg"
    result = to_hvm(build_domain(load_config(source).check()))
    assert result.document.dialect.value == "xl"
    assert any(c.kind is ChangeKind.NOTE and "xm (Python) config" in c.reason
               for c in result.report.changes)
    assert parse_config(decode(result.document.to_bytes())).ok
