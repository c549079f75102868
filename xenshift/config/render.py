"""Writing a fresh xl file from settings read elsewhere (xm, libvirt XML).

An xm file cannot be edited into an xl file line by line, since its
Python has no xl spelling; its effective settings are written out instead,
one ``key = value`` line each, in the order they were first set.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from xenshift.config.numbers import strtol0
from xenshift.config.settings import Settings
from xenshift.config.syntax import Scalar, Value
from xenshift.config.values import format_xl

_XL_KEY = re.compile(r"[a-z][._0-9a-z]*\Z")


@dataclass(frozen=True)
class Unwritable:
    """A setting that has no xl spelling, and why."""

    key: str
    reason: str


def _unwritable_number(value: Value) -> str | None:
    if isinstance(value, Scalar):
        if value.is_number and strtol0(value.text) is None:
            return f"{value.text} is not a number xl can read"
        if value.is_number and value.text.startswith("-"):
            return f"xl numbers have no sign: {value.text}"
        return None
    for item in value.items:
        reason = _unwritable_number(item)
        if reason:
            return reason
    return None


def render_xl(settings: Settings, header: list[str]) -> tuple[str, list[Unwritable]]:
    """xl text for ``settings`` after ``# header`` lines, and what was left out."""
    lines = [f"# {line}".rstrip() + "\n" for line in header]
    left_out = []
    for setting in settings:
        if not _XL_KEY.match(setting.key):
            left_out.append(Unwritable(setting.key, "not a valid xl key name "
                                       "(an xm helper variable?)"))
            continue
        reason = _unwritable_number(setting.value)
        if reason:
            left_out.append(Unwritable(setting.key, reason))
            continue
        lines.append(f"{setting.key} = {format_xl(setting.value)}\n")
    return "".join(lines), left_out
