"""Running jobs: parallel, failure-isolated, and exactly-once across kill -9."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from xenshift.batch.jobfile import load_job
from xenshift.batch.journal import Journal, State
from xenshift.batch.runner import run_job
from xenshift.batch.worker import RESULT_NAME

CORPUS = Path(__file__).resolve().parents[2] / "fixtures" / "configs"
XEN_BATCH = Path(sys.executable).parent / "xen-batch"


def _fleet(tmp_path: Path, count: int = 40, broken: bool = False,
           workers: int = 2) -> Path:
    """A job of ``count`` config-only guests made from the corpus."""
    guests = tmp_path / "guests"
    guests.mkdir()
    sources = sorted(CORPUS.glob("*.cfg"))
    for i in range(count):
        text = sources[i % len(sources)].read_text(errors="surrogateescape")
        # One name per guest, so each gets its own output directory.
        text += f'\nname = "guest{i:02d}"\n'
        (guests / f"guest{i:02d}.cfg").write_text(text, errors="surrogateescape")
    if broken:
        (guests / "zz-broken.cfg").write_text('name = "broken"\nmemory = lots\n')
    job = tmp_path / "job.toml"
    job.write_text(f'[job]\ntarget = "kvm"\noutput = "out"\nworkers = {workers}\n'
                   'config_only = true\n\n[[guest]]\nconfig = "guests/*.cfg"\n')
    return job


def _assert_complete(job_path: Path, count: int) -> None:
    job = load_job(job_path)
    journal = Journal(job.output)
    try:
        rows = journal.rows()
        assert len(rows) == count
        assert all(r.state is State.DONE for r in rows), \
            [(r.name, r.state, r.error) for r in rows if r.state is not State.DONE]
        assert journal.check() == []
        assert all(r.completions == 1 for r in rows)
        for row in rows:
            result = json.loads((job.output / row.name / RESULT_NAME).read_text())
            assert result["name"] == row.name
            [xml] = list((job.output / row.name).glob("*.xml"))
            assert xml.read_text().startswith("<domain")
    finally:
        journal.close()
    leftovers = [p for p in job.output.iterdir()
                 if p.name not in {r.name for r in rows}
                 and p.name not in ("xen-batch.journal", "xen-batch.journal-wal",
                                    "xen-batch.journal-shm", ".xen-batch.lock")]
    assert leftovers == []


def test_forty_guests_run_in_parallel_and_a_rerun_converts_nothing(tmp_path: Path) -> None:
    job_path = _fleet(tmp_path)
    summary = run_job(load_job(job_path), log=lambda line: None)
    assert len(summary.converted) == 40 and summary.ok
    _assert_complete(job_path, 40)
    again = run_job(load_job(job_path), log=lambda line: None)
    assert again.converted == [] and len(again.skipped) == 40
    _assert_complete(job_path, 40)


def test_a_broken_guest_fails_alone_with_its_reason(tmp_path: Path) -> None:
    job_path = _fleet(tmp_path, count=6, broken=True)
    proc = subprocess.run([str(XEN_BATCH), "run", str(job_path)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert "6 done, 1 failed" in proc.stdout
    status = subprocess.run([str(XEN_BATCH), "status", "--json", str(job_path)],
                            capture_output=True, text=True, timeout=60)
    rows = {g["name"]: g for g in json.loads(status.stdout)["guests"]}
    assert rows["zz-broken"]["state"] == "failed"
    assert "zz-broken.cfg:2:10: unquoted word 'lots'" in rows["zz-broken"]["error"]
    assert sum(1 for g in rows.values() if g["state"] == "done") == 6
    assert not (tmp_path / "out" / "zz-broken").exists()
    # retry --failed tries it again and fails the same way; the rest stay done.
    retry = subprocess.run([str(XEN_BATCH), "retry", "--failed", str(job_path)],
                           capture_output=True, text=True, timeout=120)
    assert retry.returncode == 1 and "this run: 0 converted, 1 failed" in retry.stdout


def _progress(journal_path: Path) -> tuple[int, int]:
    """(running, done) guests in a journal a runner is writing."""
    if not journal_path.exists():
        return 0, 0
    db = sqlite3.connect(f"file:{journal_path}?mode=ro", uri=True, timeout=5)
    try:
        counts = dict(db.execute("SELECT state, COUNT(*) FROM guests GROUP BY state"))
    except sqlite3.OperationalError:
        return 0, 0  # the schema is not there yet
    finally:
        db.close()
    return counts.get("running", 0), counts.get("done", 0)


# Kill points by progress: as the first conversions start, and after a few,
# a third, half, most, and all but one of the 40 guests are done; each with
# a random extra delay so the kill lands anywhere in a conversion.
@pytest.mark.parametrize("done_before_kill", [0, 3, 13, 20, 33, 39])
def test_kill_9_mid_run_then_rerun_converts_each_guest_once(
        tmp_path: Path, done_before_kill: int) -> None:
    job_path = _fleet(tmp_path, count=40, workers=2)
    runner = subprocess.Popen([str(XEN_BATCH), "run", str(job_path)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    journal = tmp_path / "out" / "xen-batch.journal"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and runner.poll() is None:
        running, done = _progress(journal)
        if done >= done_before_kill and (running or done):
            break
        time.sleep(0.005)
    time.sleep(random.Random(done_before_kill).uniform(0, 0.05))
    os.kill(runner.pid, signal.SIGKILL)
    runner.wait(timeout=30)
    killed_mid_run = _progress(journal)[1] < 40
    # Workers die with the runner; give the kernel a moment to reap them.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _workers_alive(runner.pid):
        time.sleep(0.1)
    assert not _workers_alive(runner.pid)
    rerun = subprocess.run([str(XEN_BATCH), "run", str(job_path)],
                           capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    _assert_complete(job_path, 40)
    assert killed_mid_run or done_before_kill == 39


def _workers_alive(parent: int) -> bool:
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == parent and fields[0] != "Z":
            return True
    return False


def test_a_second_runner_is_refused_while_one_holds_the_job(tmp_path: Path) -> None:
    import fcntl
    job_path = _fleet(tmp_path, count=2)
    out = tmp_path / "out"
    out.mkdir()
    with open(out / ".xen-batch.lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        proc = subprocess.run([str(XEN_BATCH), "run", str(job_path)],
                              capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert "another xen-batch is running this job" in proc.stderr


def _appliances_of(parent: int) -> list[int]:
    """QEMU processes (libguestfs appliances) descended from ``parent``."""
    children: dict[int, list[int]] = {}
    names: dict[int, str] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        pid = int(text.split(" ", 1)[0])
        names[pid] = text[text.index("(") + 1:text.rindex(")")]
        ppid = int(text.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(pid)
    found, todo = [], [parent]
    while todo:
        for child in children.get(todo.pop(), []):
            todo.append(child)
            if names.get(child, "").startswith("qemu"):
                found.append(child)
    return found


# The cluster's fleet test kills a worker inside a disk conversion too;
# this local-runner twin is in -m extended, for make test's time budget.
@pytest.mark.slow
@pytest.mark.extended
def test_fleet_with_disk_guests_killed_mid_disk_conversion_completes_once(
        tmp_path: Path, pv_guest) -> None:
    """40 config-only guests and 3 real guests converted with their disks."""
    job_path = _fleet(tmp_path, count=40, workers=2)
    source = pv_guest("b").config.read_text()
    disks = tmp_path / "disk-guests"
    disks.mkdir()
    for i in range(3):
        (disks / f"pv{i}.cfg").write_text(source + f'\nname = "disk-guest{i}"\n')
    with job_path.open("a") as job:
        job.write('\n[[guest]]\nconfig = "disk-guests/*.cfg"\nconfig_only = false\n'
                  'format = "raw"\n')
    runner = subprocess.Popen([str(XEN_BATCH), "run", str(job_path)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    journal = tmp_path / "out" / "xen-batch.journal"
    # Kill while a disk guest is inside its libguestfs appliance.
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and not _appliances_of(runner.pid):
        assert runner.poll() is None, "the run ended before any disk conversion began"
        time.sleep(0.2)
    time.sleep(random.Random(7).uniform(2, 10))
    os.kill(runner.pid, signal.SIGKILL)
    runner.wait(timeout=30)
    assert _progress(journal)[1] < 43
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and (_workers_alive(runner.pid)
                                           or _appliances_of(runner.pid)):
        time.sleep(0.2)
    rerun = subprocess.run([str(XEN_BATCH), "run", str(job_path)],
                           capture_output=True, text=True, timeout=1500)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    job = load_job(job_path)
    j = Journal(job.output)
    try:
        rows = j.rows()
        assert len(rows) == 43 and all(r.state is State.DONE for r in rows)
        assert j.check() == [] and all(r.completions == 1 for r in rows)
    finally:
        j.close()
    for i in range(3):
        out = job.output / f"disk-guest{i}"
        assert len(list(out.glob("*.img"))) == 2, list(out.iterdir())
        assert (out / f"disk-guest{i}.xml").exists()
    assert not (job.output / ".staging").exists()
