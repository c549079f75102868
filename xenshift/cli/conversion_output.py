"""What the conversion commands print: the report, a plan, or JSON."""

from __future__ import annotations

import json
import sys

import click

from xenshift.convert.pipeline import ConversionResult


def emit(text: str) -> None:
    """Write to stdout, passing undecodable bytes from configs through."""
    sys.stdout.buffer.write(text.encode("utf-8", "surrogateescape"))
    sys.stdout.flush()


def print_result(result: ConversionResult, *, as_json: bool,
                 dry_run: bool) -> None:
    """Print one conversion's outcome.

    Text mode: in a dry run the plan (a diff or the XML) goes to stdout and
    the report to stderr, so the plan can be piped; otherwise the report and
    the written files go to stdout. JSON mode prints one object.
    """
    report = result.report
    if as_json:
        out = {"name": result.name, "dry_run": dry_run,
               "outputs": [str(p) for p in result.outputs],
               "notes": result.notes, "report": report.to_json()}
        if dry_run:
            out[result.plan_kind] = result.plan
        emit(json.dumps(out, indent=2, ensure_ascii=False) + "\n")
        return
    for note in result.notes:
        click.echo(f"note: {note}", err=dry_run)
    if dry_run:
        emit(result.plan)
        click.echo(report.to_text(), err=True, nl=False)
        return
    emit(report.to_text())
    for path in result.outputs:
        click.echo(f"wrote {path}")
