"""The job report: JSON for tools, and an HTML page checked in real Chromium."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from lxml import html as lxml_html

from tests.batch.png import count_color, read_png
from tests.batch.test_runner import _fleet

XEN_BATCH = Path(sys.executable).parent / "xen-batch"
CHROMIUM = shutil.which("chromium")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync",
                  "--hide-scrollbars"]


@pytest.fixture(scope="module")
def finished_job(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("report")
    job = _fleet(tmp, count=5, broken=True)
    subprocess.run([str(XEN_BATCH), "run", str(job)], capture_output=True, timeout=120)
    return job


def test_json_report_has_results_times_changes_and_reasons(finished_job: Path) -> None:
    proc = subprocess.run([str(XEN_BATCH), "report", "--json", str(finished_job)],
                          capture_output=True, text=True, timeout=60)
    report = json.loads(proc.stdout)
    assert report["summary"]["guests"] == 6
    assert report["summary"]["done"] == 5 and report["summary"]["failed"] == 1
    guests = {g["name"]: g for g in report["guests"]}
    assert guests["zz-broken"]["state"] == "failed"
    assert "unquoted word 'lots'" in guests["zz-broken"]["error"]
    good = guests["guest00"]
    assert good["seconds"] is not None and good["changes"] > 0
    assert good["report"]["target"] == "kvm" and good["outputs"]


def _chromium(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([CHROMIUM, *CHROMIUM_FLAGS,
                           f"--user-data-dir={cwd / 'chromium-profile'}", *args],
                          capture_output=True, cwd=cwd, timeout=120)


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed")
def test_html_report_renders_and_sorts_in_headless_chromium(finished_job: Path,
                                                            tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    proc = subprocess.run([str(XEN_BATCH), "report", "--html", str(page),
                           str(finished_job)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    text = page.read_text()
    assert "<script src" not in text and "<link" not in text  # self-contained

    # The DOM after the page's script ran, opened sorted by time, slowest first.
    dom = _chromium("--dump-dom", f"{page.as_uri()}#sort=seconds-desc", cwd=tmp_path)
    tree = lxml_html.fromstring(dom.stdout)
    assert tree.xpath("string(//div[@id='card-done']/b)") == "5"
    assert tree.xpath("string(//div[@id='card-failed']/b)") == "1"
    rows = tree.xpath("//table[@id='guests']/tbody/tr")
    assert len(rows) == 6
    times = [float(r.xpath("string(td[4])")) for r in rows]
    assert times == sorted(times, reverse=True)
    assert tree.xpath("//th[@data-key='seconds']/@aria-sort") == ["descending"]
    broken = tree.xpath("//tr[@data-guest='zz-broken']")[0]
    assert "unquoted word 'lots'" in broken.text_content()
    assert len(tree.xpath("//*[local-name()='rect' and contains(@class, 'bar')]")) == 6

    # The screenshot shows the chart: blue bars, and a red one for the failure.
    shot = tmp_path / "report.png"
    _chromium(f"--screenshot={shot}", "--window-size=1100,900", page.as_uri(), cwd=tmp_path)
    width, height, pixels = read_png(shot.read_bytes())
    assert (width, height) == (1100, 900)
    assert count_color(pixels, (0x3B, 0x7D, 0xD8)) > 200      # done bars
    assert count_color(pixels, (0xC6, 0x28, 0x28)) > 20       # the failed one
