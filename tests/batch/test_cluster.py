"""Batch jobs on a Dask cluster: placement, worker recorded, exactly once
across the death of a worker, of its network, or of the runner.

The fast tests run an in-process Dask cluster; the slow ones a real
``dask scheduler`` and two workers, one in a network namespace of its own
(:mod:`tests.batch.dask_hosts`).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.batch.dask_hosts import Cluster
from tests.batch.test_runner import _appliances_of, _assert_complete, _fleet, _progress
from tests.migrate.hosts import wait_for
from xenshift.batch.jobfile import load_job
from xenshift.batch.journal import Journal, State
from xenshift.batch.placement import source_resource
from xenshift.batch.runner import BatchError, run_job
from xenshift.batch.worker import STAGING, Task, clear_staging, _staging
from xenshift.errors import ConfigErrors

XEN_BATCH = Path(sys.executable).parent / "xen-batch"


def _rows(job_path: Path) -> dict:
    journal = Journal(load_job(job_path).output, read_only=True)
    try:
        return {r.name: r for r in journal.rows()}
    finally:
        journal.close()


def _restrict(job_path: Path, pattern: str, hosts: list[str]) -> None:
    """Move the guests matching ``pattern`` into a [[guest]] of their own
    restricted to ``hosts``."""
    guests = job_path.parent / "guests"
    pinned = job_path.parent / "pinned"
    pinned.mkdir()
    for cfg in guests.glob(pattern):
        cfg.rename(pinned / cfg.name)
    with job_path.open("a") as job:
        job.write(f'\n[[guest]]\nconfig = "pinned/*.cfg"\nhosts = {json.dumps(hosts)}\n')


# -- job files -----------------------------------------------------------------

def test_cluster_hosts_and_source_are_read_and_checked(tmp_path: Path) -> None:
    job_path = _fleet(tmp_path, count=3)
    text = job_path.read_text().replace("[job]\n", '[job]\ncluster = "tcp://sched:8786"\n')
    text += 'hosts = ["xen1-conv", "xen2-conv"]\nsource = "ssh://root@xen1.example/"\n'
    job_path.write_text(text)
    job = load_job(job_path)
    assert job.cluster == "tcp://sched:8786"
    placement = job.guests[0].placement
    assert placement.hosts == ("xen1-conv", "xen2-conv")
    assert source_resource(job.guests[0].host) == "source:xen1.example"

    job_path.write_text(text.replace('"tcp://sched:8786"', '"sched"')
                        .replace('["xen1-conv", "xen2-conv"]', '"xen1-conv"')
                        .replace("ssh://root@xen1.example/", "/srv/xen1"))
    with pytest.raises(ConfigErrors) as info:
        load_job(job_path)
    messages = [str(e) for e in info.value.errors]
    assert messages == [
        f"{job_path}:2: cluster must be a scheduler address such as "
        "\"tcp://sched:8786\", not 'sched'",
        f"{job_path}:10: hosts must be a list of worker names (e.g. [\"xen1-conv\"]), "
        "not 'xen1-conv'",
        f"{job_path}:11: source = '/srv/xen1': expected ssh://[USER@]HOST[:PORT]",
    ]


# -- the journal and the staging area ----------------------------------------------

def test_older_journal_gains_the_worker_columns_and_reads_read_only(tmp_path: Path) -> None:
    import sqlite3
    db = sqlite3.connect(tmp_path / "xen-batch.journal")
    db.executescript("CREATE TABLE guests (key TEXT PRIMARY KEY, name TEXT NOT NULL, "
                     "target TEXT NOT NULL, state TEXT NOT NULL, attempts INTEGER NOT "
                     "NULL DEFAULT 0, completions INTEGER NOT NULL DEFAULT 0, started "
                     "REAL, finished REAL, seconds REAL, error TEXT, result TEXT);"
                     "INSERT INTO guests (key, name, target, state) "
                     "VALUES ('/g.cfg', 'g', 'kvm', 'pending');")
    db.close()
    reader = Journal(tmp_path, read_only=True)
    [row] = reader.rows()
    assert row.worker is None and row.location is None
    with pytest.raises(sqlite3.OperationalError):
        reader.start("/g.cfg")
    reader.close()
    writer = Journal(tmp_path)
    writer.start("/g.cfg")
    writer.finish("/g.cfg", 1.5, {}, "w1", "/out/g")
    row = writer.row("/g.cfg")
    assert (row.state, row.worker, row.location) == (State.DONE, "w1", "/out/g")
    writer.close()


def test_staging_of_a_live_run_survives_the_cleaner(tmp_path: Path) -> None:
    job = load_job(_fleet(tmp_path, count=1))
    task = Task(job.guests[0], "guest00", job.output, 1)
    with _staging(task) as live:
        (live / "part").write_text("half")
        dead = job.output / STAGING / "guest00.attempt0.0123456789ab"
        dead.mkdir()
        (dead / "part").write_text("left by a killed run")
        clear_staging(job.output)
        assert live.exists() and not dead.exists()
    clear_staging(job.output)
    assert not (job.output / STAGING).exists()


# -- an in-process cluster ---------------------------------------------------------

@pytest.fixture(scope="module")
def local_cluster():
    from distributed import LocalCluster
    with LocalCluster(n_workers=2, threads_per_worker=2, processes=False,
                      dashboard_address=":0", resources={"appliance": 1}) as cluster:
        yield cluster


def test_job_on_a_cluster_records_who_converted_each_guest(local_cluster,
                                                          tmp_path: Path) -> None:
    job_path = _fleet(tmp_path, count=30)
    names = [str(w.name) for w in local_cluster.workers.values()]
    _restrict(job_path, "guest0*.cfg", names[1:])
    summary = run_job(load_job(job_path), log=lambda line: None,
                      cluster=local_cluster.scheduler_address)
    assert summary.ok and len(summary.converted) == 30
    _assert_complete(job_path, 30)
    rows = _rows(job_path)
    assert {rows[f"guest0{i}"].worker for i in range(10)} == {names[1]}
    assert {r.worker for r in rows.values()} == set(names)
    assert rows["guest12"].location == str(tmp_path / "out" / "guest12")
    status = subprocess.run([str(XEN_BATCH), "status", "--json", str(job_path)],
                            capture_output=True, text=True, timeout=60)
    guests = {g["name"]: g for g in json.loads(status.stdout)["guests"]}
    assert guests["guest03"]["worker"] == names[1]
    report = subprocess.run([str(XEN_BATCH), "report", "--json", str(job_path)],
                            capture_output=True, text=True, timeout=60)
    entry = {g["name"]: g for g in json.loads(report.stdout)["guests"]}["guest03"]
    assert (entry["worker"], entry["location"]) == (names[1], str(tmp_path / "out" / "guest03"))


def test_a_guest_no_worker_can_take_is_refused_before_anything_runs(
        local_cluster, tmp_path: Path) -> None:
    job_path = _fleet(tmp_path, count=4)
    _restrict(job_path, "guest00.cfg", ["xen9-conv"])
    with pytest.raises(BatchError, match="no worker named xen9-conv is connected"):
        run_job(load_job(job_path), log=lambda line: None,
                cluster=local_cluster.scheduler_address)
    job_path.write_text(job_path.read_text().replace('hosts = ["xen9-conv"]\n',
                                                     'source = "ssh://root@xen9/"\n'))
    with pytest.raises(BatchError, match="no worker offers the resources "
                                         "source:xen9=1"):
        run_job(load_job(job_path), log=lambda line: None,
                cluster=local_cluster.scheduler_address)
    assert all(r.state is State.PENDING for r in _rows(job_path).values())


def test_unreachable_scheduler_is_a_clear_error(tmp_path: Path) -> None:
    job_path = _fleet(tmp_path, count=1)
    proc = subprocess.run([str(XEN_BATCH), "run", "--cluster", "tcp://127.0.0.1:9",
                           str(job_path)], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": "2s"})
    assert proc.returncode == 1
    assert "tcp://127.0.0.1:9: cannot reach the Dask scheduler" in proc.stderr
    assert "Traceback" not in proc.stderr


# -- a real cluster: scheduler and two worker processes, one on a second host ----------

SLOW_ROOT = [pytest.mark.slow,
             pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces need root")]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    c = Cluster(tmp_path_factory.mktemp("dask")).start()
    try:
        yield c
    finally:
        pids = [p.pid for p in c.procs.values()]
        left = pids + [p for pid in pids for p in _appliances_of(pid)]
        c.close()
        assert not any(Path(f"/proc/{p}").exists() for p in left)


@pytest.fixture
def both_workers(cluster):
    """Both workers connected (a test before may have killed or cut one)."""
    cluster.cut(up=True)
    for name in ("w1", "w2"):
        if name not in cluster.workers():
            if name in cluster.procs:
                cluster.kill(name)
            cluster.start_worker(name)
    return cluster


def _disk_guests(job_path: Path, config: Path, count: int) -> None:
    disks = job_path.parent / "disk-guests"
    disks.mkdir()
    for i in range(count):
        (disks / f"pv{i}.cfg").write_text(config.read_text() + f'\nname = "disk{i}"\n')
    # PVH keeps the PV disk layout: the quickest conversion that still
    # opens, changes and writes the guest's disks.
    with job_path.open("a") as job:
        job.write('\n[[guest]]\nconfig = "disk-guests/*.cfg"\nconfig_only = false\n'
                  'target = "pvh"\n')


def _runner(cluster: Cluster, job_path: Path) -> subprocess.Popen:
    return subprocess.Popen([str(XEN_BATCH), "run", "--cluster", cluster.address,
                             str(job_path)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _on(cluster: Cluster, guest: str) -> str | None:
    """The worker running ``guest``'s task, if one is."""
    for worker, keys in cluster.executing().items():
        if any(k.startswith(f"xen-batch-{guest}-") for k in keys):
            return worker
    return None


@SLOW_ROOT[0]
@SLOW_ROOT[1]
@pytest.mark.usefixtures("both_workers")
def test_fleet_completes_once_on_the_cluster_though_a_worker_dies_mid_disk_conversion(
        cluster, tmp_path: Path, pv_guest) -> None:
    """200 config-only and 3 disk guests; the worker converting a disk
    guest is killed -9 inside its appliance; status works meanwhile."""
    job_path = _fleet(tmp_path, count=200)
    _disk_guests(job_path, pv_guest("a").config, 3)
    runner = _runner(cluster, job_path)
    try:
        # Both workers convert a disk guest at once (one appliance each).
        assert wait_for(lambda: len({_on(cluster, f"disk{i}") for i in range(3)}
                                    - {None}) == 2, 300, 0.5)
        victim_guest = next(f"disk{i}" for i in range(3) if _on(cluster, f"disk{i}") == "w2")
        victim = cluster.procs["w2"]
        assert wait_for(lambda: bool(_appliances_of(victim.pid)), 120)
        time.sleep(5)    # inside the conversion
        status = subprocess.run([str(XEN_BATCH), "status", str(job_path)],
                                capture_output=True, text=True, timeout=60)
        assert status.returncode == 0, status.stderr
        assert "WORKER" in status.stdout and " running " in status.stdout
        appliances = _appliances_of(victim.pid)
        cluster.kill("w2")
        # Its appliance goes with it, and the guest goes to the other worker.
        assert wait_for(lambda: not any(Path(f"/proc/{p}").exists() for p in appliances), 60, 0.2)
        assert wait_for(lambda: _on(cluster, victim_guest) == "w1", 400, 0.5)
        cluster.start_worker("w2")
        out, err = runner.communicate(timeout=600)
    finally:
        if runner.poll() is None:
            runner.kill()
            runner.communicate(timeout=30)
    assert runner.returncode == 0, out + err
    rows = _rows(job_path)
    assert len(rows) == 203 and all(r.state is State.DONE and r.completions == 1
                                    for r in rows.values())
    assert rows[victim_guest].worker == "w1"
    assert {r.worker for r in rows.values()} == {"w1", "w2"}
    out_dir = load_job(job_path).output
    for i in range(3):
        published = out_dir / f"disk{i}"
        assert (published / f"disk{i}.cfg").exists(), list(published.iterdir())
        assert len(list(published.glob("*.qcow2"))) == 2
        assert json.loads((published / "xen-batch-result.json").read_text())["worker"] == \
            rows[f"disk{i}"].worker
    assert not (out_dir / STAGING).exists()


@SLOW_ROOT[0]
@SLOW_ROOT[1]
@pytest.mark.usefixtures("both_workers")
def test_runner_killed_mid_job_then_rerun_completes_the_rest_once(cluster,
                                                                  tmp_path: Path) -> None:
    job_path = _fleet(tmp_path, count=200)
    runner = _runner(cluster, job_path)
    journal = tmp_path / "out" / "xen-batch.journal"
    assert wait_for(lambda: _progress(journal)[1] >= 40 or runner.poll() is not None,
                    120, 0.01)
    runner.send_signal(signal.SIGKILL)
    runner.communicate(timeout=30)
    assert _progress(journal)[1] < 200
    rerun = subprocess.run([str(XEN_BATCH), "run", "--cluster", cluster.address,
                            str(job_path)], capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    _assert_complete(job_path, 200)


@SLOW_ROOT[0]
@SLOW_ROOT[1]
@pytest.mark.usefixtures("both_workers")
def test_guests_restricted_to_one_worker_run_only_there(cluster, tmp_path: Path) -> None:
    job_path = _fleet(tmp_path, count=60)
    _restrict(job_path, "guest[0-2]*.cfg", ["w2"])
    job_path.write_text(job_path.read_text().replace(
        "[job]\n", f'[job]\ncluster = "{cluster.address}"\n'))
    proc = subprocess.run([str(XEN_BATCH), "run", str(job_path)], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    rows = _rows(job_path)
    assert {rows[f"guest{i:02d}"].worker for i in range(30)} == {"w2"}
    assert "w1" in {rows[f"guest{i:02d}"].worker for i in range(30, 60)}


@SLOW_ROOT[0]
@SLOW_ROOT[1]
@pytest.mark.usefixtures("both_workers")
def test_network_cut_to_a_worker_mid_job_still_converts_each_guest_once(
        cluster, tmp_path: Path) -> None:
    job_path = _fleet(tmp_path, count=200)
    runner = _runner(cluster, job_path)
    journal = tmp_path / "out" / "xen-batch.journal"
    try:
        assert wait_for(lambda: _progress(journal)[1] >= 30, 120, 0.01)
        cluster.cut()
        assert _progress(journal)[1] < 200
        # The scheduler drops the silent worker and gives its work, done
        # but not delivered or not done, to the other one.
        assert wait_for(lambda: "w2" not in cluster.workers(), 60, 0.5)
        out, err = runner.communicate(timeout=300)
    finally:
        cluster.cut(up=True)
        if runner.poll() is None:
            runner.kill()
            runner.communicate(timeout=30)
    assert runner.returncode == 0, out + err
    _assert_complete(job_path, 200)


def test_xen_batch_worker_starts_dask_worker_with_the_resources_jobs_ask_for(
        tmp_path: Path) -> None:
    fake = tmp_path / "dask"
    fake.write_text('#!/bin/sh\nprintf "%s\\n" "$@"\n')
    fake.chmod(0o755)
    proc = subprocess.run([str(XEN_BATCH), "worker", "tcp://sched:8786", "--appliances", "3",
                           "--source", "xen1", "--source", "xen2=4", "--name", "xen1-conv",
                           "--nthreads", "2"], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PATH": f"{tmp_path}:{os.environ['PATH']}"})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "worker", "tcp://sched:8786", "--resources",
        "appliance=3,source:xen1=1,source:xen2=4", "--name", "xen1-conv", "--nthreads", "2"]
