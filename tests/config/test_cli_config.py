"""``xenshift config`` end to end: show, lint, set, unset."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.config.generated import generated_configs
from tests.oracles.libxlu_cfg import c_strtol, xlu_parse
from xenshift.cli.main import cli
from xenshift.config.document import parse_xl

CORPUS = Path(__file__).resolve().parents[2] / "fixtures" / "configs"
INVALID = sorted((CORPUS / "invalid").iterdir())


def run(*args: str) -> "CliRunner.invoke":
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def _json_agrees(ours, theirs) -> bool:
    """A JSON value against libxlu's string/list for the same thing."""
    if isinstance(ours, list):
        return isinstance(theirs, list) and len(ours) == len(theirs) and \
            all(_json_agrees(a, b) for a, b in zip(ours, theirs))
    if isinstance(ours, int):
        return isinstance(theirs, str) and c_strtol(theirs) == ours
    return ours == theirs


def _show_json_matches_libxlu(path: Path) -> None:
    result = run("config", "show", "--json", str(path))
    assert result.exit_code == 0, result.output
    ours = json.loads(result.stdout)
    xlu = xlu_parse(path.read_bytes())
    assert xlu.rc == 0
    assert set(ours) == set(xlu.values)
    for key, value in ours.items():
        their_value, their_long = xlu.values[key]
        if isinstance(value, int):
            assert their_long == value, key
        else:
            assert _json_agrees(value, their_value), key


@pytest.mark.parametrize("path", sorted(CORPUS.glob("*.cfg")), ids=lambda p: p.name)
def test_show_json_agrees_with_libxlu_on_corpus(path: Path) -> None:
    _show_json_matches_libxlu(path)


def test_show_json_agrees_with_libxlu_on_generated(tmp_path: Path) -> None:
    checked = 0
    for i, text in enumerate(generated_configs(1500, seed=7)):
        if not parse_xl(text).ok:
            continue
        path = tmp_path / f"g{i}.cfg"
        path.write_bytes(text.encode("utf-8", "surrogateescape"))
        _show_json_matches_libxlu(path)
        checked += 1
    assert checked >= 1000


def test_show_prints_effective_settings() -> None:
    result = run("config", "show", str(CORPUS / "quirks-valid-syntax-torture.cfg"))
    assert result.exit_code == 0
    assert "maxvcpus = 010\n" in result.stdout


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.name)
def test_malformed_input_is_located_and_fails_without_traceback(path: Path) -> None:
    expected = int(path.read_text(errors="replace").splitlines()[0].split(":")[1])
    for command in ("show", "lint"):
        proc = subprocess.run([sys.executable, "-m", "xenshift", "config", command,
                               str(path)], capture_output=True, text=True)
        assert proc.returncode == 1, (command, proc.stdout, proc.stderr)
        out = proc.stdout + proc.stderr
        assert "Traceback" not in out
        assert f"{path}:{expected}:" in out, out


def test_xm_config_is_read_with_a_note_and_linted_as_not_xl() -> None:
    path = CORPUS / "xm" / "xen4-hvm-solaris-true-tuples.cfg"
    shown = run("config", "show", "--json", str(path))
    assert shown.exit_code == 0
    assert "legacy xm (Python) config" in shown.stderr
    assert isinstance(json.loads(shown.stdout), dict)
    linted = run("config", "lint", str(path))
    assert linted.exit_code == 1
    assert "it is a legacy xm (Python) config" in linted.stdout
    assert "True is Python" in linted.stdout


def test_lint_reports_warnings_with_exit_zero(tmp_path: Path) -> None:
    cfg = tmp_path / "g.cfg"
    cfg.write_text('name = "g"\nmemroy = 512\nmaxvcpus = 010\nbootloader = "pygrub"\n'
                   'builder = "generic"\nvcpus = 2\nvcpus = 4\nmemory += 5\n'
                   'disk = [ "phy:/dev/a,xvda,w", "file:/b,xvda,w" ]\n')
    result = run("config", "lint", str(cfg))
    out = result.stdout
    assert f"{cfg}:2:1: warning: unknown key 'memroy'" in out and "did you mean 'memory'" in out
    assert f"{cfg}:3:12: warning: maxvcpus = 010 is octal to xl: it means 8" in out
    assert f"{cfg}:5:1: warning: builder is deprecated" in out
    assert f"{cfg}:7:1: warning: vcpus is also set on line(s) 6" in out
    assert f"{cfg}:8:1: warning: 'memory +=' on a number" in out
    assert f"{cfg}:9:31: error: two disks on one virtual device" in out
    assert result.exit_code == 1


def test_lint_bad_device_spec_is_an_error(tmp_path: Path) -> None:
    cfg = tmp_path / "g.cfg"
    cfg.write_text('name = "g"\nbootloader = "pygrub"\ndisk = [ "phy:/dev/a,xvda,w,bogus" ]\n')
    result = run("config", "lint", str(cfg))
    assert result.exit_code == 1
    assert f"{cfg}:3:10: error: disk spec" in result.stdout


def test_lint_vnuma_totals_must_match_maxmem_and_maxvcpus(tmp_path: Path) -> None:
    cfg = tmp_path / "g.cfg"
    nodes = ('vnuma = [ [ "pnode=0", "size=1024", "vcpus=0-1", "vdistances=10,20" ],\n'
             '          [ "pnode=0", "size=1024", "vcpus=2-3", "vdistances=20,10" ] ]\n')
    cfg.write_text('name = "g"\ntype = "hvm"\nmemory = 1024\nmaxmem = 4096\n'
                   'maxvcpus = 6\n' + nodes)
    result = run("config", "lint", str(cfg))
    assert result.exit_code == 1
    assert (f"{cfg}:4:1: error: maxmem (4096) is not the vnuma nodes' total size (2048); "
            "xl refuses the file") in result.stdout
    assert f"{cfg}:5:1: error: maxvcpus (6) is not the number of vnuma vcpus (4)" \
        in result.stdout
    cfg.write_text('name = "g"\ntype = "hvm"\nmemory = 1024\nmaxmem = 2048\n'
                   'maxvcpus = 4\n' + nodes)
    assert "vnuma" not in run("config", "lint", str(cfg)).stdout


def test_lint_warns_on_xm_vif_type_netfront_as_xl_does(tmp_path: Path) -> None:
    cfg = tmp_path / "g.cfg"
    cfg.write_text('name = "g"\nbootloader = "pygrub"\n'
                   'vif = [ "type=netfront,bridge=xenbr0" ]\n')
    result = run("config", "lint", str(cfg))
    assert result.exit_code == 0, result.output
    assert (f"{cfg}:3:9: warning: vif spec 'type=netfront,bridge=xenbr0': invalid value "
            "for type 'type=netfront' (xl prints a warning and ignores it)") in result.stdout


def test_missing_file_is_a_clear_error() -> None:
    proc = subprocess.run([sys.executable, "-m", "xenshift", "config", "show",
                           "/nonexistent/guest.cfg"], capture_output=True, text=True)
    assert proc.returncode == 1
    assert proc.stderr.strip() == "/nonexistent/guest.cfg: no such file"


def test_set_and_unset_edit_in_place_keeping_comments_and_mode(tmp_path: Path) -> None:
    cfg = tmp_path / "guest.cfg"
    original = ('# web server\nname = "web"  # do not rename\nmemory = 512\n'
                'disk = [\n    "phy:/dev/vg/web,xvda,w",  # root\n]\n')
    cfg.write_text(original)
    os.chmod(cfg, 0o600)
    assert run("config", "set", str(cfg), "memory=1024", "vcpus=2",
               'disk+=file:/srv/data.img,xvdb,w', "extra=console=hvc0").exit_code == 0
    assert cfg.read_text() == ('# web server\nname = "web"  # do not rename\nmemory = 1024\n'
                               'disk = [\n    "phy:/dev/vg/web,xvda,w",  # root\n'
                               '    "file:/srv/data.img,xvdb,w",\n]\n'
                               'vcpus = 2\nextra = "console=hvc0"\n')
    assert cfg.stat().st_mode & 0o777 == 0o600
    assert run("config", "unset", str(cfg), "vcpus", "extra").exit_code == 0
    assert run("config", "set", str(cfg), "memory=512").exit_code == 0
    assert cfg.read_text().replace('    "file:/srv/data.img,xvdb,w",\n', "") == original
    assert [p.name for p in tmp_path.iterdir()] == ["guest.cfg"]


def test_set_dry_run_prints_a_diff_and_changes_nothing(tmp_path: Path) -> None:
    cfg = tmp_path / "guest.cfg"
    cfg.write_text('name = "web"\nmemory = 512\n')
    result = run("config", "set", "--dry-run", str(cfg), "memory=2048")
    assert "-memory = 512\n+memory = 2048\n" in result.stdout
    assert cfg.read_text() == 'name = "web"\nmemory = 512\n'


def test_set_refuses_a_broken_file_and_bad_keys(tmp_path: Path) -> None:
    cfg = tmp_path / "guest.cfg"
    cfg.write_text('name = web\n')
    result = run("config", "set", str(cfg), "memory=1")
    assert result.exit_code == 1
    assert f"{cfg}:1:8: unquoted word 'web'" in result.stderr
    cfg.write_text('name = "web"\n')
    bad = run("config", "set", str(cfg), "Memory=1")
    assert bad.exit_code == 1 and "'Memory' is not a valid key" in bad.stderr
    assert cfg.read_text() == 'name = "web"\n'
