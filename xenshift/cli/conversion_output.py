"""What the conversion commands print: the report, a plan, or JSON."""

from __future__ import annotations

import json
import sys

import click

from xenshift.convert.pipeline import ConversionResult
from xenshift.progress import Progress


def emit(text: str) -> None:
    """Write to stdout, passing undecodable bytes from configs through."""
    sys.stdout.buffer.write(text.encode("utf-8", "surrogateescape"))
    sys.stdout.flush()


def progress_for(as_json: bool) -> Progress:
    """Progress bars on a terminal, never around JSON output."""
    return Progress(False) if as_json else Progress()


def print_result(result: ConversionResult, *, as_json: bool,
                 dry_run: bool) -> None:
    """Print one conversion's outcome.

    Text mode: in a dry run the plan (a diff or the XML, then the guest
    changes) goes to stdout and the report to stderr, so the plan can be
    piped; otherwise the report and the written files go to stdout. JSON
    mode prints one object.
    """
    report = result.report
    if as_json:
        emit(json.dumps(result.to_json(dry_run), indent=2, ensure_ascii=False) + "\n")
        return
    for note in result.notes:
        click.echo(f"note: {note}", err=dry_run)
    if dry_run:
        emit(result.plan)
        if result.guest_plan is not None:
            emit(result.guest_plan.to_text())
        click.echo(report.to_text(), err=True, nl=False)
        return
    emit(report.to_text())
    if result.boot is not None:
        click.echo(f"booted to userspace in {result.boot.seconds:.0f} s: "
                   f"{result.boot.evidence}")
    for path in result.outputs:
        click.echo(f"wrote {path}")
    if result.defined:
        click.echo(f"defined {result.name} in libvirt")
