"""``xenshift config``: show, lint and edit xl/xm domain configs."""

from __future__ import annotations

import difflib
import json
import re
import sys

import click

from xenshift.atomic import write_atomic
from xenshift.cli.errors import report_errors
from xenshift.cli.json_text import json_text
from xenshift.config.document import Dialect, Document, load_config, parse_xl
from xenshift.config.edit import append, set_value, unset
from xenshift.config.lint import Severity, lint
from xenshift.config.syntax import Value
from xenshift.config.values import format_xl
from xenshift.errors import ConfigError, XenshiftError

_ASSIGNMENT = re.compile(r"([^=+]+?)(\+?=)(.*)\Z", re.S)


def _emit(text: str) -> None:
    # Undecodable bytes read from a config go back out as they came in.
    sys.stdout.buffer.write(text.encode("utf-8", "surrogateescape"))
    sys.stdout.flush()


def _note_dialect(doc: Document) -> None:
    if doc.dialect is Dialect.XM:
        click.echo(f"{doc.path}: note: legacy xm (Python) config, read as "
                   "Python; xl itself cannot read this file", err=True)


@click.group("config")
def config_group() -> None:
    """Read, check and edit xl/xm domain configuration files."""


@config_group.command("show")
@click.argument("file")
@click.option("--json", "as_json", is_flag=True,
              help="One JSON object: strings, integers and arrays.")
@report_errors
def show(file: str, as_json: bool) -> None:
    """Print the effective settings of FILE (after += and duplicates)."""
    doc = load_config(file).check()
    _note_dialect(doc)
    if as_json:
        _emit(json_text(doc.settings.to_json()) + "\n")
        return
    _emit("".join(f"{s.key} = {format_xl(s.value)}\n" for s in doc.settings))


@config_group.command("lint")
@click.argument("files", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True,
              help="Print the findings as a JSON array.")
def lint_command(files: tuple[str, ...], as_json: bool) -> None:
    """Report what xl would reject, ignore or misread in FILES.

    Exits 1 when any file has an error; warnings alone exit 0.
    """
    findings = []
    unreadable = []
    for file in files:
        try:
            findings.extend(lint(load_config(file)))
        except XenshiftError as err:
            unreadable.append(err)
    if as_json:
        out = [d.to_json() for d in findings] + [
            {"file": None, "line": None, "column": None, "severity": "error",
             "code": "unreadable", "message": str(e)} for e in unreadable]
        _emit(json.dumps(out, indent=2, ensure_ascii=False) + "\n")
    else:
        for err in unreadable:
            click.echo(f"{err}", err=True)
        _emit("".join(f"{d}\n" for d in findings))
        counts = {s: sum(1 for d in findings if d.severity is s) for s in Severity}
        click.echo(f"{len(files)} file(s): {counts[Severity.ERROR] + len(unreadable)} "
                   f"error(s), {counts[Severity.WARNING]} warning(s)", err=True)
    if unreadable or any(d.severity is Severity.ERROR for d in findings):
        sys.exit(1)


def _parse_cli_value(text: str) -> Value | str:
    """A value typed on the command line: xl syntax if it is, else text."""
    doc = parse_xl(f"v = {text}\n")
    if doc.ok and len(doc.statements) == 1:
        return doc.statements[0].value
    return text


def _write_or_diff(doc: Document, new: Document, dry_run: bool) -> None:
    if dry_run:
        diff = difflib.unified_diff(doc.text.splitlines(keepends=True),
                                    new.text.splitlines(keepends=True),
                                    f"a/{doc.path}", f"b/{doc.path}")
        _emit("".join(diff))
        return
    if new.text != doc.text:
        write_atomic(doc.path, new.to_bytes())


@config_group.command("set")
@click.argument("file")
@click.argument("assignments", nargs=-1, required=True)
@click.option("--dry-run", is_flag=True, help="Print a diff, change nothing.")
@report_errors
def set_command(file: str, assignments: tuple[str, ...], dry_run: bool) -> None:
    """Set keys in FILE in place: KEY=VALUE, or KEY+=VALUE to append.

    VALUE in xl syntax (1024, "text", [ "a", "b" ]) is used as written;
    anything else is taken as a string. Only the lines of the keys set
    change; comments and layout stay.
    """
    doc = load_config(file).check()
    new = doc
    for assignment in assignments:
        m = _ASSIGNMENT.match(assignment)
        if not m:
            raise ConfigError(f"expected KEY=VALUE or KEY+=VALUE, got "
                              f"{assignment!r}")
        key, op, raw = m.group(1).strip(), m.group(2), m.group(3).strip()
        value = _parse_cli_value(raw)
        new = append(new, key, value) if op == "+=" else \
            set_value(new, key, value)
    _write_or_diff(doc, new, dry_run)


@config_group.command("unset")
@click.argument("file")
@click.argument("keys", nargs=-1, required=True)
@click.option("--dry-run", is_flag=True, help="Print a diff, change nothing.")
@report_errors
def unset_command(file: str, keys: tuple[str, ...], dry_run: bool) -> None:
    """Remove KEYS from FILE in place; comments on their lines stay."""
    doc = load_config(file).check()
    new = doc
    for key in keys:
        new = unset(new, key)
    _write_or_diff(doc, new, dry_run)
