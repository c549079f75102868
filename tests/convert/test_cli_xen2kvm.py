"""``xen2kvm`` end to end, for xl, xm and libvirt XML inputs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from click.testing import CliRunner
from lxml import etree

from xenshift.cli.xen2kvm import xen2kvm

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str):
    # These tests are about the config; the disk conversion has its own
    # (tests/convert/guest/).
    return CliRunner().invoke(xen2kvm, ["--config-only", *args], catch_exceptions=False)


def _copy(tmp_path: Path, relative: str) -> Path:
    target = tmp_path / Path(relative).name
    shutil.copy(ROOT / relative, target)
    return target


def test_writes_name_kvm_xml_with_bridge_and_machine_options(tmp_path: Path) -> None:
    source = _copy(tmp_path, "fixtures/configs/suse-vm-install-pv.cfg")
    result = run("--machine", "pc", "--accel", "tcg", "--bridge", "br0=virbr0", str(source))
    assert result.exit_code == 0, result.output
    out = tmp_path / "sles15-web-kvm" / "sles15-web.xml"
    domain = etree.parse(str(out)).getroot()
    assert domain.get("type") == "qemu"
    assert domain.find("os/type").get("machine") == "pc"
    assert domain.find("devices/interface/source").get("bridge") == "virbr0"
    assert domain.find("devices/interface/mac").get("address") == "00:16:3e:2a:41:7c"
    assert "dropped  bootloader" in result.stdout
    assert run(str(source)).exit_code == 1  # never overwrites


def test_network_map_and_json_dry_run(tmp_path: Path) -> None:
    source = _copy(tmp_path, "fixtures/configs/sles11-sp4-kernel-xen.cfg")
    result = run("--json", "--dry-run", "--network", "br0=default", str(source))
    out = json.loads(result.stdout)
    domain = etree.fromstring(out["xml"].encode())
    assert domain.xpath("devices/interface[source/@network='default']")
    assert out["outputs"] == [] and out["report"]["target"] == "kvm"
    assert [p.name for p in tmp_path.iterdir()] == [source.name]


def test_xm_and_libvirt_xml_inputs(tmp_path: Path) -> None:
    xm = _copy(tmp_path, "fixtures/configs/xm/sles10-sp4-vm-install-domuloader.cfg")
    assert run("-o", str(tmp_path / "a"), str(xm)).exit_code == 0
    xml = _copy(tmp_path, "fixtures/libvirt-xen/sles12-pv-pygrub.xml")
    result = run("-o", str(tmp_path / "b"), str(xml))
    assert result.exit_code == 0, result.output
    assert len(list((tmp_path / "b").glob("*.xml"))) == 1


def test_bad_options_and_inputs_fail_with_nothing_written(tmp_path: Path) -> None:
    source = _copy(tmp_path, "fixtures/configs/suse-vm-install-pv.cfg")
    bad = run("--bridge", "br0", str(source))
    assert bad.exit_code == 1 and "--bridge wants OLD=NEW" in bad.stderr
    broken = tmp_path / "broken.xml"
    broken.write_text("<domain type='xen'><name>x</name>\n<memory>1\n")
    result = run(str(broken))
    assert result.exit_code == 1 and str(broken) in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.xml", source.name]
