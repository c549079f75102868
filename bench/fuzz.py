"""Long fuzzing runs over every input xenshift parses (issue 13).

Each entry point of ``tests/fuzz/entry_points.py`` gets an equal share of
the time, in a process of its own. With atheris installed (``pip install
atheris``) the run is coverage-guided: libFuzzer mutates the fixtures and
keeps inputs that reach new code in xenshift. Without it, the suite's
Hypothesis mutations run unseeded, batch after batch. Either way an input
that raises anything but a located xenshift error is a crash, one that
takes over 5 s a hang, one that takes over 512 MiB an out-of-memory.

Run: nice -n 19 .venv/bin/python bench/fuzz.py --minutes 10 [--engine hypothesis]
     [--only NAME ...] [--markdown]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# Inputs that crashed or hung are kept here, a folder per entry point.
FINDINGS = Path(tempfile.gettempdir()) / "xenshift-fuzz-findings"
HANG_SECONDS = 5
RSS_LIMIT_MB = 512


@dataclass
class Outcome:
    """What one entry point's run found."""

    name: str
    engine: str
    inputs: int
    crashes: int
    hangs: int
    seconds: float
    detail: str = ""


def _have_atheris() -> bool:
    try:
        import atheris  # noqa: F401
    except ImportError:
        return False
    return True


# -- workers (one process per entry point) -------------------------------------

def _entry(name: str):
    from tests.fuzz.entry_points import ENTRY_POINTS
    for entry in ENTRY_POINTS:
        if entry.name == name:
            return entry
    raise SystemExit(f"no entry point {name!r}")


def _atheris_worker(name: str, seconds: float, workdir: Path) -> None:
    import atheris
    with atheris.instrument_imports(include=["xenshift"]):
        from tests.fuzz.entry_points import exercise
    entry = _entry(name)
    corpus = workdir / "corpus"
    corpus.mkdir()
    for number, seed in enumerate(entry.seeds()):
        (corpus / f"seed-{number}").write_bytes(seed)

    def one_input(data: bytes) -> None:
        exercise(entry, data)

    atheris.Setup([sys.argv[0], f"-max_total_time={int(seconds)}",
                   f"-timeout={HANG_SECONDS}", f"-rss_limit_mb={RSS_LIMIT_MB}",
                   "-print_final_stats=1", f"-artifact_prefix={workdir}/",
                   str(corpus)], one_input)
    atheris.Fuzz()


def _hypothesis_worker(name: str, seconds: float, workdir: Path) -> None:
    from hypothesis import HealthCheck, given, settings

    from tests.fuzz.entry_points import exercise
    from tests.fuzz.mutations import mutant

    entry = _entry(name)
    counts = {"inputs": 0, "crashes": 0, "hangs": 0}
    failures: list[str] = []

    @settings(max_examples=500, deadline=None, database=None, derandomize=False,
              suppress_health_check=list(HealthCheck))
    @given(mutant(entry))
    def batch(data: bytes) -> None:
        counts["inputs"] += 1
        start = time.perf_counter()
        try:
            exercise(entry, data)
        except Exception as err:  # noqa: BLE001 - every escape is a finding
            counts["crashes"] += 1
            failures.append(f"{type(err).__name__}: {str(err)[:200]}")
        if time.perf_counter() - start > HANG_SECONDS:
            counts["hangs"] += 1

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        batch()
    (workdir / "result.json").write_text(json.dumps({**counts, "failures": failures[:5]}))


# -- the parent: runs the workers and reports ------------------------------------

def _run_one(name: str, seconds: float, engine: str) -> Outcome:
    with tempfile.TemporaryDirectory(prefix="xenshift-fuzz-") as tmp:
        workdir = Path(tmp)
        start = time.monotonic()
        proc = subprocess.run([sys.executable, __file__, "--worker", name,
                               "--seconds", str(seconds), "--engine", engine,
                               "--workdir", str(workdir)],
                              capture_output=True, text=True, errors="replace",
                              timeout=seconds + 120)
        took = time.monotonic() - start
        if engine == "hypothesis":
            result = json.loads((workdir / "result.json").read_text())
            return Outcome(name, engine, result["inputs"], result["crashes"],
                           result["hangs"], took, "; ".join(result["failures"]))
        return _libfuzzer_outcome(name, proc, workdir, took)


def _libfuzzer_outcome(name: str, proc: subprocess.CompletedProcess, workdir: Path,
                       took: float) -> Outcome:
    log = proc.stderr
    runs = re.findall(r"stat::number_of_executed_units: (\d+)", log)
    if not runs:
        runs = re.findall(r"#(\d+)\s", log)
    artifacts = [p for p in workdir.iterdir() if p.is_file()]
    crashes = sum(a.name.startswith(("crash-", "oom-")) for a in artifacts)
    hangs = sum(a.name.startswith(("timeout-", "slow-unit-")) for a in artifacts)
    kept = FINDINGS / re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    for artifact in artifacts:
        kept.mkdir(parents=True, exist_ok=True)
        shutil.copy(artifact, kept / artifact.name)
    detail = ""
    if proc.returncode != 0 and not crashes + hangs:
        crashes = 1
    if crashes or hangs:
        found = re.search(r"(=== Uncaught Python exception: ===.*?)(?:\n\n|\Z)", log, re.S)
        detail = (found.group(1) if found else log[-600:]).replace("\n", " | ")
    return Outcome(name, "atheris", int(runs[-1]) if runs else 0, crashes, hangs, took,
                   detail)


def _limits_text() -> str:
    from xenshift import limits
    return (f"input {limits.MAX_INPUT_BYTES // 2**20} MiB, nesting {limits.MAX_NESTING}, "
            f"token {limits.MAX_TOKEN_LENGTH // 2**20} Mi characters, "
            f"{limits.MAX_DEVICES} devices of a kind, {limits.MAX_VCPUS} vCPUs, "
            f"name {limits.MAX_NAME_BYTES} bytes")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--engine", choices=("atheris", "hypothesis"),
                        default="atheris" if _have_atheris() else "hypothesis")
    parser.add_argument("--only", nargs="*", help="entry point names to run")
    parser.add_argument("--markdown", action="store_true", help="print a README table")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker = _atheris_worker if args.engine == "atheris" else _hypothesis_worker
        worker(args.worker, args.seconds, args.workdir)
        return 0

    from tests.fuzz.entry_points import ENTRY_POINTS
    names = [e.name for e in ENTRY_POINTS if not args.only or e.name in args.only]
    share = args.minutes * 60 / len(names)
    print(f"{args.engine}: {len(names)} entry points, {share:.0f} s each", flush=True)
    outcomes = []
    for name in names:
        outcome = _run_one(name, share, args.engine)
        outcomes.append(outcome)
        print(f"  {name:28} {outcome.inputs:>10,} inputs  {outcome.crashes} crashes  "
              f"{outcome.hangs} hangs  ({outcome.seconds:.0f} s) {outcome.detail}",
              flush=True)
    if args.markdown:
        print("\n| entry point | inputs tried | crashes | hangs |\n|---|---:|---:|---:|")
        for o in outcomes:
            print(f"| {o.name} | {o.inputs:,} | {o.crashes} | {o.hangs} |")
        print(f"\nLimits: {_limits_text()}.")
    return 1 if any(o.crashes or o.hangs for o in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
