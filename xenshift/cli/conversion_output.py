"""What the conversion commands print: the report, a plan, or JSON."""

from __future__ import annotations

import difflib
import json
import sys
from pathlib import Path

import click

from xenshift.convert.report import ChangeReport


def emit(text: str) -> None:
    """Write to stdout, passing undecodable bytes from configs through."""
    sys.stdout.buffer.write(text.encode("utf-8", "surrogateescape"))
    sys.stdout.flush()


def unified_diff(before: str, after: str, source: str, output: str) -> str:
    """A unified diff from the source file's text to the converted text."""
    return "".join(difflib.unified_diff(
        before.splitlines(keepends=True), after.splitlines(keepends=True),
        source, output))


def print_result(report: ChangeReport, *, as_json: bool, dry_run: bool,
                 outputs: list[Path], plan: str | None, plan_key: str,
                 notes: list[str]) -> None:
    """Print one conversion's outcome.

    Text mode: in a dry run the plan (a diff or the XML) goes to stdout and
    the report to stderr, so the plan can be piped; otherwise the report and
    the written files go to stdout. JSON mode prints one object.
    """
    if as_json:
        out = {"dry_run": dry_run, "outputs": [str(p) for p in outputs],
               "notes": notes, "report": report.to_json()}
        if dry_run:
            out[plan_key] = plan
        emit(json.dumps(out, indent=2, ensure_ascii=False) + "\n")
        return
    for note in notes:
        click.echo(f"note: {note}", err=dry_run)
    if dry_run:
        emit(plan or "")
        click.echo(report.to_text(), err=True, nl=False)
        return
    emit(report.to_text())
    for path in outputs:
        click.echo(f"wrote {path}")
