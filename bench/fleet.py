"""Fleet jobs: the local runner against the same job on a 2-worker Dask cluster.

Two jobs, each run both ways in this process, one after the other on this
machine: 2,000 config-only guests (copies of the config corpus) and 4 disk
guests (copies of fixture (a), converted to PVH: the disks are opened,
changed and written, without the initrd rebuild of a KVM target). The
local runner uses 2 worker processes; the cluster is a ``dask scheduler``
and two ``dask worker`` processes on loopback, one thread and one
appliance each, so both sides convert two guests at a time.

Printed: both wall times, their ratio, and the cluster's overhead per
config-only guest and, for the disk guests, as a share of the local time.
Targets: at most 2 ms per config-only guest, at most 10 % for disk guests.
The per-guest costs go to a JSON file (``--out``) for bench/sizing.py.

Run as root: .venv/bin/python bench/fleet.py [--config-guests N] [--disk-guests N]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("LIBGUESTFS_BACKEND_SETTINGS", "force_tcg")

from fixtures.images.debian_guest import build_guest  # noqa: E402
from xenshift.batch.jobfile import load_job  # noqa: E402
from xenshift.batch.journal import Journal  # noqa: E402
from xenshift.batch.runner import run_job  # noqa: E402

CORPUS = ROOT / "fixtures" / "configs"
DASK = str(Path(sys.executable).parent / "dask")
CONFIG_TARGET_MS = 2.0
DISK_TARGET = 0.10


def config_job(base: Path, count: int) -> Path:
    """``count`` config-only guests made from the corpus."""
    guests = base / "guests"
    guests.mkdir(parents=True)
    sources = sorted(CORPUS.glob("*.cfg"))
    for i in range(count):
        text = sources[i % len(sources)].read_text(errors="surrogateescape")
        (guests / f"g{i:05d}.cfg").write_text(text + f'\nname = "guest{i:05d}"\n',
                                              errors="surrogateescape")
    job = base / "job.toml"
    job.write_text('[job]\ntarget = "kvm"\noutput = "out"\nworkers = 2\n'
                   'config_only = true\n\n[[guest]]\nconfig = "guests/*.cfg"\n')
    return job


def disk_job(base: Path, config: str, count: int) -> Path:
    """``count`` copies of one guest converted with their disks."""
    guests = base / "guests"
    guests.mkdir(parents=True)
    for i in range(count):
        (guests / f"d{i}.cfg").write_text(config + f'\nname = "disk{i}"\n')
    job = base / "job.toml"
    job.write_text('[job]\ntarget = "pvh"\noutput = "out"\nworkers = 2\n\n'
                   '[[guest]]\nconfig = "guests/*.cfg"\n')
    return job


def timed_run(job_path: Path, cluster: str | None) -> tuple[float, list[float]]:
    """Wall time of one complete run and each guest's conversion time."""
    start = time.monotonic()
    summary = run_job(load_job(job_path), log=lambda line: None, cluster=cluster)
    elapsed = time.monotonic() - start
    if not summary.ok or len(summary.converted) != len(summary.rows):
        failed = [(r.name, r.error) for r in summary.rows if r.error][:3]
        raise SystemExit(f"a guest failed: {failed}")
    journal = Journal(load_job(job_path).output, read_only=True)
    seconds = [r.seconds or 0.0 for r in journal.rows()]
    journal.close()
    return elapsed, seconds


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def subprocess_cluster(tmp: Path, workers: int = 2) -> Iterator[str]:
    """A scheduler and ``workers`` workers on loopback; its address."""
    from distributed import Client

    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    log = open(tmp / "cluster.log", "w")
    procs = [subprocess.Popen([DASK, "scheduler", "--host", "127.0.0.1", "--port",
                               str(port), "--no-dashboard", "--no-show"],
                              env=env, stdout=log, stderr=log)]
    try:
        for i in range(workers):
            procs.append(subprocess.Popen(
                [DASK, "worker", address, "--name", f"w{i + 1}", "--nthreads", "1",
                 "--resources", "appliance=1", "--no-dashboard",
                 "--local-directory", str(tmp / f"w{i + 1}")],
                env=env, stdout=log, stderr=log))
        with Client(address, timeout=60, set_as_default=False) as client:
            client.wait_for_workers(workers, timeout=120)
        yield address
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=30)
        log.close()


def allocated_bytes(config: Path) -> int:
    """Data the fixture's disks hold (what a conversion reads and writes)."""
    return sum(p.stat().st_blocks * 512 for p in config.parent.glob("*.img"))


def copy_seconds(config: Path, tmp: Path) -> float:
    """Time of the part of a disk conversion that grows with the data: the
    fixture's disks written to qcow2 as the conversion writes them."""
    start = time.monotonic()
    for image in sorted(config.parent.glob("*.img")):
        subprocess.run(["qemu-img", "convert", "-f", "raw", "-O", "qcow2", str(image),
                        str(tmp / f"{image.stem}.qcow2")], check=True, timeout=600)
        (tmp / f"{image.stem}.qcow2").unlink()
    return time.monotonic() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config-guests", type=int, default=2000)
    parser.add_argument("--disk-guests", type=int, default=4)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "fleet-costs.json",
                        help="where the measured per-guest costs go (for bench/sizing.py)")
    args = parser.parse_args()
    fixture = build_guest("a").config
    with tempfile.TemporaryDirectory(prefix="xenshift-bench-fleet-") as tmp_name:
        tmp = Path(tmp_name)
        runs = {}
        with subprocess_cluster(tmp) as address:
            for kind, make in (("config", lambda b: config_job(b, args.config_guests)),
                               ("disk", lambda b: disk_job(b, fixture.read_text(),
                                                           args.disk_guests))):
                runs[kind, "local"] = timed_run(make(tmp / kind / "local"), None)
                runs[kind, "cluster"] = timed_run(make(tmp / kind / "cluster"), address)
        copy = copy_seconds(fixture, tmp)
    config_local, config_cluster = runs["config", "local"][0], runs["config", "cluster"][0]
    disk_local, disk_cluster = runs["disk", "local"][0], runs["disk", "cluster"][0]
    per_guest_ms = (config_cluster - config_local) / args.config_guests * 1000
    disk_share = (disk_cluster - disk_local) / disk_local
    print(f"config-only: {args.config_guests} guests to KVM; disk: {args.disk_guests} x "
          "fixture (a) to PVH with its disks; 2 at a time both ways")
    print(f"{'':12} {'local (s)':>10} {'cluster (s)':>12} {'ratio':>7}")
    print(f"{'config-only':12} {config_local:10.2f} {config_cluster:12.2f} "
          f"{config_cluster / config_local:7.3f}")
    print(f"{'disk':12} {disk_local:10.1f} {disk_cluster:12.1f} "
          f"{disk_cluster / disk_local:7.3f}")
    verdict = "met" if per_guest_ms <= CONFIG_TARGET_MS else "NOT met"
    print(f"cluster overhead per config-only guest: {per_guest_ms:+.3f} ms "
          f"(target <= {CONFIG_TARGET_MS} ms: {verdict})")
    verdict = "met" if disk_share <= DISK_TARGET else "NOT met"
    print(f"cluster overhead for disk guests: {disk_share * 100:+.1f} % of local "
          f"(target <= {DISK_TARGET * 100:.0f} %: {verdict})")
    costs = {
        "machine": {"cores": os.cpu_count(), "concurrent": 2},
        "config_guest_seconds": config_cluster / args.config_guests,
        "config_guest_seconds_local": config_local / args.config_guests,
        "disk_guests": args.disk_guests,
        "disk_job_seconds": disk_cluster,
        "disk_job_seconds_local": disk_local,
        "disk_guest_conversion_seconds": statistics.mean(runs["disk", "cluster"][1]),
        "disk_guest_bytes": allocated_bytes(fixture),
        "disk_guest_copy_seconds": copy,
        "overhead_ms_per_config_guest": per_guest_ms,
        "overhead_share_disk": disk_share,
    }
    args.out.write_text(json.dumps(costs, indent=2) + "\n")
    print(f"per-guest costs written to {args.out}")


if __name__ == "__main__":
    main()
