"""``xen-batch``: convert a fleet as one job (run, status, retry, report)."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import click

from xenshift.atomic import write_atomic
from xenshift.batch.cluster import APPLIANCE
from xenshift.batch.jobfile import load_job
from xenshift.batch.journal import JOURNAL_NAME, Journal, State
from xenshift.batch.placement import SOURCE_RESOURCE
from xenshift.batch.report import job_report, render_html
from xenshift.batch.runner import appliance_slots, run_job
from xenshift.cli.errors import report_errors
from xenshift.errors import InputError

JOB = click.argument("jobfile", type=click.Path(dir_okay=False, path_type=Path))
CLUSTER = click.option("--cluster", metavar="tcp://SCHED:8786",
                       help="Run the conversions on this Dask scheduler's workers "
                            "(default: the job's cluster, else here).")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def batch() -> None:
    """Convert many Xen guests as one job, in parallel, resumable after a crash."""


def _run(jobfile: Path, workers: int | None, retry_failed: bool,
         only_failed: bool, cluster: str | None) -> None:
    job = load_job(jobfile)
    summary = run_job(job, workers, retry_failed, only_failed,
                      log=lambda line: click.echo(line, err=True), cluster=cluster)
    counts = {s: sum(1 for r in summary.rows if r.state is s) for s in State}
    click.echo(f"{len(summary.rows)} guests: {counts[State.DONE]} done, "
               f"{counts[State.FAILED]} failed, {counts[State.PENDING]} pending "
               f"(this run: {len(summary.converted)} converted, "
               f"{len(summary.failed)} failed, {len(summary.skipped)} already done)")
    if not summary.ok:
        sys.exit(1)


@batch.command("run")
@JOB
@click.option("--workers", type=click.IntRange(min=1),
              help="Parallel conversions (default: the job's workers).")
@CLUSTER
@report_errors
def run(jobfile: Path, workers: int | None, cluster: str | None) -> None:
    """Convert every guest of JOBFILE not converted yet."""
    _run(jobfile, workers, retry_failed=False, only_failed=False, cluster=cluster)


@batch.command("retry")
@JOB
@click.option("--failed", "only_failed", is_flag=True,
              help="Retry only the guests that failed.")
@click.option("--workers", type=click.IntRange(min=1))
@CLUSTER
@report_errors
def retry(jobfile: Path, only_failed: bool, workers: int | None,
          cluster: str | None) -> None:
    """Convert failed guests again (and, without --failed, pending ones)."""
    _run(jobfile, workers, retry_failed=True, only_failed=only_failed, cluster=cluster)


def _journal(jobfile: Path) -> tuple[Path, Journal]:
    job = load_job(jobfile)
    if not (job.output / JOURNAL_NAME).exists():
        raise InputError(f"{job.output}: no journal yet; run `xen-batch run "
                         f"{jobfile}` first")
    # Read-only: a runner may be writing it right now.
    return job.path, Journal(job.output, read_only=True)


@batch.command("status")
@JOB
@click.option("--json", "as_json", is_flag=True)
@report_errors
def status(jobfile: Path, as_json: bool) -> None:
    """Show each guest's state."""
    path, journal = _journal(jobfile)
    rows = journal.rows()
    problems = journal.check()
    journal.close()
    if as_json:
        click.echo(json.dumps({"guests": [
            {"name": r.name, "source": r.key, "target": r.target,
             "state": r.state.value, "attempts": r.attempts,
             "seconds": r.seconds, "error": r.error, "worker": r.worker,
             "location": r.location} for r in rows],
            "problems": problems}, indent=2))
        return
    width = max((len(r.name) for r in rows), default=4)
    hosts = max((len(r.worker or "local") for r in rows), default=6)
    click.echo(f"{'GUEST':{width}}  TARGET  STATE    TRIES  {'WORKER':{hosts}}  TIME")
    for r in rows:
        seconds = f"{r.seconds:.1f}s" if r.seconds is not None else "-"
        worker = r.worker or ("local" if r.state in (State.DONE, State.FAILED) else "-")
        click.echo(f"{r.name:{width}}  {r.target:6}  {r.state.value:7}  "
                   f"{r.attempts:5}  {worker:{hosts}}  {seconds}"
                   + (f"  {r.error.strip().splitlines()[-1]}" if r.error else ""))
    for problem in problems:
        click.echo(f"journal: {problem}", err=True)


@batch.command("report")
@JOB
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--html", "html_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Write a self-contained HTML page.")
@report_errors
def report(jobfile: Path, as_json: bool, html_file: Path | None) -> None:
    """Per guest: the result, time, changes, warnings and readiness facts."""
    path, journal = _journal(jobfile)
    data = job_report(str(path), journal.rows())
    journal.close()
    if html_file is not None:
        write_atomic(html_file, render_html(data).encode())
        click.echo(f"wrote {html_file}")
    if as_json:
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
    elif html_file is None:
        s = data["summary"]
        click.echo(f"{data['job']}: {s['guests']} guests, {s['done']} done, "
                   f"{s['failed']} failed, {s['seconds']:.1f} s, "
                   f"{s['changes']} changes, {s['warnings']} warnings")
        for g in data["guests"]:
            line = f"  {g['name']}: {g['state']}"
            if g["worker"]:
                line += f" on {g['worker']}"
            if g["seconds"] is not None:
                line += f" in {g['seconds']:.1f} s"
            line += f", {g['changes']} changes, {len(g['warnings'])} warnings"
            if g["error"]:
                line += f" - {g['error'].strip().splitlines()[-1]}"
            click.echo(line)


@batch.command("worker", context_settings={"ignore_unknown_options": True})
@click.argument("scheduler")
@click.option("--appliances", type=click.IntRange(min=0),
              help="Disk conversions at once (default: one per 1.2 GiB of free "
                   "memory, as a local run).")
@click.option("--source", "sources", multiple=True, metavar="HOST[=N]",
              help="This worker reads the disks of Xen host HOST (N at once, "
                   "default 1); repeatable.")
@click.argument("dask_args", nargs=-1, type=click.UNPROCESSED)
@report_errors
def worker(scheduler: str, appliances: int | None, sources: tuple[str, ...],
           dask_args: tuple[str, ...]) -> None:
    """Start a Dask worker for xen-batch jobs on SCHEDULER.

    It runs `dask worker SCHEDULER` with the resources jobs ask for; other
    options (--name, --nthreads, --nworkers, ...) go to dask worker as given.
    """
    dask = shutil.which("dask") or str(Path(sys.executable).parent / "dask")
    resources = [f"{APPLIANCE}={appliance_slots() if appliances is None else appliances}"]
    for source in sources:
        host, _, count = source.partition("=")
        resources.append(f"{SOURCE_RESOURCE.format(host)}={count or 1}")
    os.execv(dask, [dask, "worker", scheduler, "--resources", ",".join(resources),
                    *dask_args])


def main() -> None:
    """Console-script entry point."""
    batch(prog_name="xen-batch")
