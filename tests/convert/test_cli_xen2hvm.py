"""``xen2hvm`` end to end: outputs, dry runs, JSON, and failures leaving nothing."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from xenshift.cli.xen2hvm import xen2hvm
from xenshift.config.document import load_config

CORPUS = Path(__file__).resolve().parents[2] / "fixtures" / "configs"


def run(*args: str):
    # These tests are about the config; the disk conversion has its own
    # (tests/convert/guest/).
    return CliRunner().invoke(xen2hvm, ["--config-only", *args], catch_exceptions=False)


def _copy(tmp_path: Path, name: str) -> Path:
    target = tmp_path / "etc" / name.split("/")[-1]
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(CORPUS / name, target)
    return target


def test_plain_run_writes_name_hvm_beside_the_input_and_never_overwrites(tmp_path: Path) -> None:
    source = _copy(tmp_path, "suse-vm-install-pv.cfg")
    before = source.read_bytes()
    result = run(str(source))
    assert result.exit_code == 0, result.output
    out = tmp_path / "etc" / "sles15-web-hvm" / "sles15-web.cfg"
    assert f"wrote {out}" in result.stdout
    assert "converting the config only" in result.stdout
    assert load_config(out).settings.get_string("type") == "hvm"
    assert source.read_bytes() == before
    again = run(str(source))
    assert again.exit_code == 1
    assert "exists; xenshift does not overwrite outputs" in again.stderr
    assert sorted(p.name for p in (tmp_path / "etc").iterdir()) == \
        ["sles15-web-hvm", "suse-vm-install-pv.cfg"]


def test_to_pvh_with_an_output_directory(tmp_path: Path) -> None:
    source = _copy(tmp_path, "debian-xen-tools-web01.cfg")
    outdir = tmp_path / "converted"
    result = run("--to", "pvh", "-o", str(outdir), str(source))
    assert result.exit_code == 0, result.output
    [written] = outdir.iterdir()
    assert written.name == "web01.example.net.cfg"
    assert load_config(written).settings.get_string("type") == "pvh"


def test_dry_run_prints_a_diff_and_writes_nothing(tmp_path: Path) -> None:
    source = _copy(tmp_path, "suse-vm-install-pv.cfg")
    result = run("--dry-run", str(source))
    assert result.exit_code == 0
    assert '-type = "pv"\n+type = "hvm"\n' in result.stdout
    assert "changed  type" in result.stderr
    assert [p.name for p in (tmp_path / "etc").iterdir()] == ["suse-vm-install-pv.cfg"]


def test_json_report(tmp_path: Path) -> None:
    source = _copy(tmp_path, "sles11-sp4-kernel-xen.cfg")
    result = run("--json", "--dry-run", str(source))
    out = json.loads(result.stdout)
    assert out["dry_run"] is True and out["outputs"] == []
    assert out["report"]["target"] == "hvm"
    dropped = {c["subject"] for c in out["report"]["changes"] if c["kind"] == "dropped"}
    assert {"kernel", "ramdisk", "root", "extra"} <= dropped
    assert out["diff"].startswith("---")


def test_unconvertible_guest_fails_cleanly_with_nothing_left(tmp_path: Path) -> None:
    source = _copy(tmp_path, "ec2-style-pv-xvda1-root.cfg")
    command = Path(sys.executable).parent / "xen2hvm"
    # Its boot disk is the partition vdev xvda1: only a rebuilt image boots.
    proc = subprocess.run([str(command), "--config-only", str(source)], capture_output=True,
                          text=True)
    assert proc.returncode == 1
    assert "boots from xvda1, a partition vdev" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert [p.name for p in (tmp_path / "etc").iterdir()] == [source.name]


def test_malformed_input_is_located(tmp_path: Path) -> None:
    bad = tmp_path / "bad.cfg"
    bad.write_text('name = "x"\ntype = pv\n')
    result = run(str(bad))
    assert result.exit_code == 1
    assert f"{bad}:2:8: unquoted word 'pv'" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.cfg"]
    missing = run(str(tmp_path / "nope.cfg"))
    assert missing.exit_code == 1 and "no such file" in missing.stderr
