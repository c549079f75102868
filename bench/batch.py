"""Batch throughput: 8 guests converted with their disks, 2 workers vs 1.

Both jobs convert the same 8 copies of fixture guest (b) (a Debian 12 PV
guest, ext4 on the whole disk, rebuilt as a partitioned disk with GRUB) to
KVM in this run; the figure is the ratio of the parallel job's wall time to
the sequential one's. Target: at most 0.6.

Run as root: .venv/bin/python bench/batch.py [--guests N] [--shape a|b|c]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("LIBGUESTFS_BACKEND_SETTINGS", "force_tcg")

from fixtures.images.debian_guest import build_guest  # noqa: E402
from xenshift.batch.jobfile import load_job  # noqa: E402
from xenshift.batch.runner import run_job  # noqa: E402

TARGET_RATIO = 0.6


def make_job(base: Path, config_text: str, guests: int, workers: int) -> Path:
    """A job converting ``guests`` copies of one guest with ``workers``."""
    (base / "guests").mkdir(parents=True)
    for i in range(guests):
        (base / "guests" / f"g{i}.cfg").write_text(config_text + f'\nname = "bench{i}"\n')
    job = base / "job.toml"
    job.write_text(f'[job]\ntarget = "kvm"\noutput = "out"\nworkers = {workers}\n'
                   'config_only = false\n\n[[guest]]\nconfig = "guests/*.cfg"\n')
    return job


def timed_run(job_path: Path) -> float:
    """Wall time of one complete job run; every guest must succeed."""
    start = time.monotonic()
    summary = run_job(load_job(job_path), log=lambda line: None)
    elapsed = time.monotonic() - start
    if not summary.ok or len(summary.converted) != len(summary.rows):
        failed = [(r.name, r.error) for r in summary.rows if r.error]
        raise SystemExit(f"a guest failed: {failed}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--guests", type=int, default=8)
    parser.add_argument("--shape", default="b")
    args = parser.parse_args()
    config = build_guest(args.shape).config.read_text()
    with tempfile.TemporaryDirectory(prefix="xenshift-bench-batch-") as tmp:
        sequential = timed_run(make_job(Path(tmp) / "seq", config, args.guests, 1))
        parallel = timed_run(make_job(Path(tmp) / "par", config, args.guests, 2))
    ratio = parallel / sequential
    print(f"guests:               {args.guests} x fixture ({args.shape}), disks "
          "converted to KVM")
    print(f"sequential (1 worker): {sequential:8.1f} s")
    print(f"parallel (2 workers):  {parallel:8.1f} s")
    verdict = "met" if ratio <= TARGET_RATIO else "NOT met"
    print(f"ratio parallel/sequential: {ratio:.2f} (target <= {TARGET_RATIO}: {verdict})")


if __name__ == "__main__":
    main()
