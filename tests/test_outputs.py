"""Output directories: staged files published at once, scratch files never."""

from __future__ import annotations

import pytest

from xenshift.outputs import OutputDir, OutputError


def test_staged_files_are_published_and_scratch_is_not(tmp_path):
    dest = tmp_path / "out"
    with OutputDir(dest) as out:
        out.write("g.cfg", b"x")
        out.file("g-xvda.qcow2").write_bytes(b"disk")
        out.scratch("xvda.overlay.qcow2").write_bytes(b"work")
        assert out.final("g.cfg") == dest / "g.cfg"
    assert sorted(p.name for p in dest.iterdir()) == ["g-xvda.qcow2", "g.cfg"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_failure_leaves_nothing_and_outputs_are_never_overwritten(tmp_path):
    dest = tmp_path / "out"
    with pytest.raises(RuntimeError):
        with OutputDir(dest) as out:
            out.file("g-xvda.qcow2").write_bytes(b"disk")
            out.scratch("w").write_bytes(b"work")
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []
    dest.mkdir()
    (dest / "g.cfg").write_text("old")
    with pytest.raises(OutputError, match="does not overwrite"):
        with OutputDir(dest) as out:
            out.write("g.cfg", b"new")
    assert (dest / "g.cfg").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
