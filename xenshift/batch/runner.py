"""Running a batch job: guests in parallel, one process each, resumable.

Each guest is converted by its own process (:mod:`xenshift.batch.worker`),
so one guest's crash or failure never stops the others. The number of
processes is bounded by ``workers``, the cores, and the memory a libguestfs
appliance needs (about 1 GiB per disk conversion).

After ``kill -9`` of the runner, its workers die with it (they ask the
kernel to kill them when their parent dies), and the next run resolves
every guest the journal still shows as running: its output directory is
published complete or not at all, so a published one is recorded as done
(not converted again) and anything else is redone from scratch.
"""

from __future__ import annotations

import fcntl
import json
import multiprocessing
import os
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from multiprocessing.connection import wait
from pathlib import Path
from typing import Callable

from tqdm import tqdm

from xenshift.batch.jobfile import GuestJob, Job
from xenshift.batch.journal import GuestRow, Journal, State
from xenshift.batch.worker import RESULT_NAME, Task, clear_staging, run_task
from xenshift.convert.source import load_guest
from xenshift.errors import XenshiftError
from xenshift.outputs import safe_name

APPLIANCE_BYTES = 1200 * 1024 * 1024
LOCK_NAME = ".xen-batch.lock"


class BatchError(XenshiftError):
    """A job that cannot run at all (locked, unwritable output, ...)."""


@dataclass
class RunSummary:
    """What a run did, and the journal's state at its end."""

    converted: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    recovered: list[str] = field(default_factory=list)
    rows: list[GuestRow] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no guest of the job is failed."""
        return not any(r.state is State.FAILED for r in self.rows)


def appliance_slots() -> int:
    """How many libguestfs appliances this host's free memory can hold."""
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return max(1, int(line.split()[1]) * 1024 // APPLIANCE_BYTES)
    except OSError:
        pass
    return 1


def parallelism(job: Job, requested: int | None) -> int:
    """Worker processes to use: the job's or the user's, within the machine."""
    wanted = requested or job.workers
    cores = os.cpu_count() or 1
    if all(g.options.config_only for g in job.guests):
        return max(1, min(wanted, cores))
    return max(1, min(wanted, cores, appliance_slots()))


def _guest_name(guest: GuestJob) -> str:
    if guest.host:
        # Named without asking its host, which may not answer.
        return safe_name(guest.source.stem)
    try:
        return safe_name(load_guest(guest.source).config.name)
    except XenshiftError:
        # A broken config still needs a name for its row; it fails later
        # with the full message.
        return safe_name(guest.source.stem)


class _Lock:
    def __init__(self, output: Path):
        self.file = open(output / LOCK_NAME, "w")

    def __enter__(self) -> "_Lock":
        try:
            fcntl.flock(self.file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.file.close()
            raise BatchError(f"{self.file.name}: another xen-batch is running "
                             "this job") from None
        return self

    def __exit__(self, *exc) -> None:
        self.file.close()


class Runner:
    """One run of a job against its journal."""

    def __init__(self, job: Job, log: Callable[[str], None]):
        self.job = job
        self.log = log
        self.summary = RunSummary()

    def _register(self, journal: Journal) -> dict[str, GuestJob]:
        """Add new guests to the journal; names stay unique and stable."""
        known = {r.key: r for r in journal.rows()}
        taken = {r.name for r in known.values()}
        by_key = {}
        for guest in self.job.guests:
            by_key[guest.key] = guest
            if guest.key in known:
                continue
            name = base = _guest_name(guest)
            n = 2
            while name in taken:
                name, n = f"{base}-{n}", n + 1
            taken.add(name)
            journal.add(guest.key, name, guest.options.target)
        return by_key

    def _recover(self, journal: Journal) -> None:
        """Settle guests a killed run left as running; clear its leftovers."""
        output = self.job.output
        for row in journal.rows():
            if row.state is not State.RUNNING:
                continue
            result_file = output / row.name / RESULT_NAME
            if result_file.exists():
                result = json.loads(result_file.read_text())
                journal.finish(row.key, result.get("seconds") or 0.0, result,
                               result.get("worker"), result.get("location"))
                self.summary.recovered.append(row.name)
                self.log(f"recovered {row.name}: it finished before the runner "
                         "stopped")
            else:
                journal.reset(row.key, "interrupted")
                self.log(f"redo      {row.name}: interrupted, partial output removed")
        clear_staging(output)

    def run(self, workers: int | None, retry_failed: bool,
            only_failed: bool, cluster: str | None = None) -> RunSummary:
        """Convert every guest that needs it; return the summary.

        ``cluster`` (else the job's) is a Dask scheduler's address to run
        the conversions on; without one they run here.
        """
        cluster = cluster or self.job.cluster
        output = self.job.output
        try:
            output.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise BatchError(f"{output}: cannot create the output directory: "
                             f"{err.strerror}") from None
        with _Lock(output):
            journal = Journal(output)
            try:
                guests = self._register(journal)
                self._recover(journal)
                todo = []
                for row in journal.rows():
                    if row.key not in guests:
                        continue
                    wanted = (row.state is State.FAILED if only_failed else
                              row.state is State.PENDING or
                              (retry_failed and row.state is State.FAILED))
                    if wanted:
                        todo.append(row)
                    elif row.state is State.DONE:
                        self.summary.skipped.append(row.name)
                if cluster:
                    # Imported here: local runs need not load Dask.
                    from xenshift.batch.cluster import execute_on_cluster
                    execute_on_cluster(cluster, self, journal, guests, todo)
                else:
                    self._execute(journal, guests, todo,
                                  parallelism(self.job, workers))
                clear_staging(output)
                self.summary.rows = [r for r in journal.rows() if r.key in guests]
            finally:
                journal.close()
        return self.summary

    def _next(self, queue: deque[GuestRow], guests: dict[str, GuestJob],
              hosts: Counter) -> GuestRow | None:
        """The first queued guest whose source host has a free slot (``per_host``)."""
        for row in queue:
            host = guests[row.key].host
            if host is None or self.job.per_host is None or hosts[host] < self.job.per_host:
                queue.remove(row)
                return row
        return None

    def _execute(self, journal: Journal, guests: dict[str, GuestJob],
                 todo: list[GuestRow], slots: int) -> None:
        queue = deque(todo)
        running: dict[object, tuple[multiprocessing.Process, object, GuestRow, float]] = {}
        hosts: Counter = Counter()  # running conversions per source host
        context = multiprocessing.get_context("fork")
        with tqdm(total=len(todo), unit="guest", desc="xen-batch",
                  disable=None) as bar:
            while queue or running:
                while len(running) < slots and (row := self._next(queue, guests, hosts)):
                    hosts[guests[row.key].host] += 1
                    journal.start(row.key)
                    attempt = (journal.row(row.key) or row).attempts
                    task = Task(guests[row.key], row.name, self.job.output, attempt)
                    receive, send = context.Pipe(duplex=False)
                    process = context.Process(target=run_task,
                                              args=(task, os.getpid(), send),
                                              name=f"xen-batch {row.name}")
                    process.start()
                    send.close()
                    running[process.sentinel] = (process, receive, row, time.monotonic())
                for sentinel in wait(list(running), timeout=1.0):
                    process, receive, row, started = running.pop(sentinel)
                    hosts[guests[row.key].host] -= 1
                    message = receive.recv() if receive.poll() else None
                    process.join()
                    receive.close()
                    if message and message[0] == "done":
                        self.settle_done(journal, row, message[1],
                                         time.monotonic() - started, bar)
                    else:
                        error = message[1] if message else \
                            f"the worker process died (exit code {process.exitcode})"
                        self.settle_failed(journal, row, error,
                                           time.monotonic() - started, bar)

    def settle_done(self, journal: Journal, row: GuestRow, record: dict,
                    seconds: float, bar: tqdm) -> None:
        """Record a guest converted and published (by the record's worker)."""
        worker = record.get("worker")
        journal.finish(row.key, seconds, record, worker, record.get("location"))
        self.summary.converted.append(row.name)
        on = f" on {worker}" if worker else ""
        bar.write(f"done      {row.name} ({row.target}, {seconds:.1f} s{on})")
        bar.update(1)

    def settle_failed(self, journal: Journal, row: GuestRow, error: str,
                      seconds: float | None, bar: tqdm,
                      worker: str | None = None) -> None:
        """Record a guest whose conversion failed; nothing of it is published."""
        journal.fail(row.key, seconds, error, worker)
        self.summary.failed.append(row.name)
        bar.write(f"FAILED    {row.name}: {error.strip().splitlines()[-1]}")
        bar.update(1)


def run_job(job: Job, workers: int | None = None, retry_failed: bool = False,
            only_failed: bool = False, log: Callable[[str], None] = print,
            cluster: str | None = None) -> RunSummary:
    """Run ``job``: convert what is not done yet, resuming after a crash.

    ``cluster``: a Dask scheduler address (else the job file's, if any).
    """
    return Runner(job, log).run(workers, retry_failed, only_failed, cluster)
