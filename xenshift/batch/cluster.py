"""Running a batch job's conversions on a Dask distributed cluster.

Each guest's conversion is one Dask task (``pure=False``: converting twice
is never the same as converting once), placed by the scheduler with worker
restrictions (``hosts``) and worker resources: ``appliance``, one per
libguestfs appliance a worker's memory holds, for disk conversions, and
``source:HOST`` for guests read from a source host. The runner stays the
journal's only writer: workers publish each guest's output directory
(complete or not at all, :mod:`xenshift.batch.worker`) and return its
result; the runner records it.

Exactly once, whatever dies:

- a worker killed or cut off mid-conversion: the scheduler gives the task
  to another worker; the first run to publish wins, a later one takes its
  result (:func:`~xenshift.batch.worker.published_record`);
- the runner killed: its tasks still running finish and publish; the next
  run records what is published and submits the rest again.

Outputs go to the job's output directory, which every worker must see at
the same path (a shared mount); the journal and the report record, per
guest, the worker that converted it and where its output is.
"""

from __future__ import annotations

import traceback
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tqdm import tqdm

from xenshift.batch.jobfile import GuestJob
from xenshift.batch.journal import GuestRow, Journal
from xenshift.batch.placement import source_resource
from xenshift.batch.worker import Task, convert_and_publish
from xenshift.errors import XenshiftError

if TYPE_CHECKING:
    from xenshift.batch.runner import Runner

APPLIANCE = "appliance"
# Retries of a task that raised outside the conversion (a shared mount's
# hiccup, a worker's full disk); a guest that cannot be converted fails at
# once, and a worker's death is counted by the scheduler
# (distributed.scheduler.allowed-failures), not here.
RETRIES = 2


@dataclass(frozen=True)
class Outcome:
    """What a worker sends back for one guest: its result or why it failed."""

    worker: str
    record: dict | None = None
    error: str | None = None


def convert_on_worker(task: Task) -> Outcome:
    """The Dask task: convert and publish one guest on this worker."""
    from distributed import get_worker

    worker = str(get_worker().name)
    try:
        return Outcome(worker, record=convert_and_publish(task, worker))
    except XenshiftError as err:
        return Outcome(worker, error=str(err))


@dataclass(frozen=True)
class _Placement:
    """A group of guests the scheduler places alike."""

    workers: tuple[str, ...]
    resources: tuple[tuple[str, int], ...]


def _placement_of(guest: GuestJob) -> _Placement:
    resources = {}
    if not guest.options.config_only:
        resources[APPLIANCE] = 1
    if guest.host:
        resources[source_resource(guest.host)] = 1
    return _Placement(guest.placement.hosts, tuple(sorted(resources.items())))


def _restrictions(address: str, workers: dict, placement: _Placement) -> list[str] | None:
    """Dask's ``workers=`` for a group: each host named by the job is a
    worker's name (its address now) or a worker's host name."""
    from xenshift.batch.runner import BatchError

    if not placement.workers:
        return None
    by_name = {str(w.get("name")): a for a, w in workers.items()}
    hosts = {w.get("host") for w in workers.values()}
    missing = [h for h in placement.workers if h not in by_name and h not in hosts]
    if missing:
        known = sorted(set(by_name) | {str(h) for h in hosts})
        raise BatchError(f"{address}: no worker named {', '.join(missing)} is "
                         f"connected (workers: {', '.join(known)})")
    return [by_name.get(h, h) for h in placement.workers]


def _check_resources(address: str, workers: dict, placement: _Placement,
                     restrictions: list[str] | None) -> None:
    """Refuse a group no connected worker can take: the scheduler would
    hold it forever."""
    from xenshift.batch.runner import BatchError

    able = [w for a, w in workers.items()
            if (restrictions is None or a in restrictions or w.get("host") in restrictions)
            and all(w.get("resources", {}).get(r, 0) >= n for r, n in placement.resources)]
    if not able:
        wanted = ", ".join(f"{r}={n}" for r, n in placement.resources)
        where = f" among {', '.join(placement.workers)}" if placement.workers else ""
        raise BatchError(f"{address}: no worker{where} offers the resources "
                         f"{wanted} (start workers with `xen-batch worker` or "
                         f"`dask worker --resources {wanted}`)")


def _failure(future) -> str:
    error = future.exception()
    if type(error).__name__ == "KilledWorker":
        return f"the workers converting it kept dying: {error}"
    return "".join(traceback.format_exception(type(error), error, future.traceback()))


def execute_on_cluster(address: str, runner: "Runner", journal: Journal,
                       guests: dict[str, GuestJob], todo: list[GuestRow]) -> None:
    """Convert ``todo`` on the cluster at ``address``, recording each result."""
    from distributed import Client, as_completed

    from xenshift.batch.runner import BatchError

    try:
        # How long to try: Dask's distributed.comm.timeouts.connect.
        client = Client(address, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as err:
        raise BatchError(f"{address}: cannot reach the Dask scheduler ({err})") from None
    with client:
        groups: dict[_Placement, list[GuestRow]] = {}
        for row in todo:
            groups.setdefault(_placement_of(guests[row.key]), []).append(row)
        workers = client.scheduler_info()["workers"]
        restrictions = {}
        for placement in groups:
            restrictions[placement] = _restrictions(address, workers, placement)
            _check_resources(address, workers, placement, restrictions[placement])
        journal.start_many([row.key for row in todo])
        attempts = {r.key: r.attempts for r in journal.rows()}
        rows = {}
        for placement, members in groups.items():
            tasks = [Task(guests[r.key], r.name, runner.job.output, attempts[r.key])
                     for r in members]
            keys = [f"xen-batch-{r.name}-{uuid.uuid4().hex}" for r in members]
            futures = client.map(convert_on_worker, tasks, key=keys, pure=False,
                                 retries=RETRIES, workers=restrictions[placement],
                                 resources=dict(placement.resources) or None,
                                 allow_other_workers=False)
            rows.update(zip(futures, members))
        with tqdm(total=len(todo), unit="guest", desc="xen-batch", disable=None) as bar:
            for future in as_completed(list(rows), loop=client.loop):
                row = rows.pop(future)
                if future.status == "error":
                    runner.settle_failed(journal, row, _failure(future), None, bar)
                    continue
                if future.status != "finished":
                    # The scheduler went away (its tasks are cancelled): the
                    # guests left stay running in the journal, and the next
                    # run settles them from what is published.
                    raise BatchError(f"{address}: the cluster lost {row.name}'s task "
                                     f"({future.status}); run the job again to go on")
                outcome: Outcome = future.result()
                future.release()
                if outcome.record is not None:
                    runner.settle_done(journal, row, outcome.record,
                                       outcome.record.get("seconds") or 0.0, bar)
                else:
                    runner.settle_failed(journal, row, outcome.error or "", None, bar,
                                         outcome.worker)
