"""Splitting ``key=value,flag,...`` device specs the way xl does.

xl cuts most device specs with ``strtok(spec, ",")`` and strips leading
spaces from each item; a few (channel, vnuma) split each item once more at
``=`` and trim white space on both sides. The helpers here reproduce those
two cuts, read the numbers found in values, and run the strict loop xl uses
for usbctrl and usbdev; ``join_items`` and ``set_fields`` serve the
formatters.
"""

from __future__ import annotations

import re
from dataclasses import fields
from typing import Any, Callable, Mapping

from xenshift.config.devices.spec_context import SpecContext
from xenshift.config.numbers import strtol0

# Reads the value of one item: (spec, item, value) -> parsed value.
Reader = Callable[[SpecContext, str, str], object]

_DECIMAL = re.compile(r"[0-9]+")
# xl reads these numbers into C integers of at most 64 bits: 20 digits.
_MAX_DIGITS = 20
_C_SPACE = " \t\n\v\f\r"


def xl_items(text: str) -> list[str]:
    """The items of a comma-separated spec, as xl's ``strtok`` loop sees them.

    Empty items vanish (``strtok`` skips runs of commas); leading spaces are
    dropped, so an item of spaces only becomes the empty string.
    """
    return [item.lstrip(" ") for item in text.split(",") if item]


def join_items(items: list[str]) -> str:
    """The inverse of :func:`xl_items`: items joined with commas.

    An empty item is written as a space, since an empty one would vanish.
    ValueError for an item that holds a comma, which no spec can carry.
    """
    for item in items:
        if "," in item:
            raise ValueError(f"a spec item cannot contain a comma: {item!r}")
    return ",".join(item or " " for item in items)


def split_option(item: str) -> tuple[str, str | None]:
    """``key=value`` as ``(key, value)``; a bare flag as ``(flag, None)``."""
    key, equals, value = item.partition("=")
    return (key, value) if equals else (item, None)


def xl_pair(ctx: SpecContext, item: str) -> tuple[str, str]:
    """``key = value`` as xl's ``split_string_into_pair`` plus ``trim`` cut it.

    That helper tokenises with ``strtok(item, "=")``: runs of ``=`` count as
    one. An item with no text on one side of the ``=`` makes xl fail, and
    text after a second ``=`` is dropped silently; both are SpecErrors.
    """
    parts = [part.strip(_C_SPACE) for part in item.split("=") if part]
    if len(parts) < 2:
        raise ctx.error("not a key=value item", item)
    if len(parts) > 2:
        raise ctx.error("more than one '=' (xl drops the text after the second) in", item)
    return parts[0], parts[1]


def decimal(ctx: SpecContext, item: str, value: str) -> int:
    """A non-negative decimal integer, or a SpecError naming ``item``.

    xl reads these with ``atoi``/``strtoul``, which turn junk into 0 or stop
    at it silently; a spec relying on that is a mistake, so it is refused.
    """
    if not _DECIMAL.fullmatch(value):
        raise ctx.error("not a decimal number", item)
    if len(value.lstrip("0")) > _MAX_DIGITS:
        raise ctx.error("a number too large for xl", item)
    return int(value)


def c_unsigned(text: str) -> int | None:
    """A non-negative C integer literal (decimal, ``0x`` hex or ``0`` octal)
    as ``strtoul(text, &end, 0)`` reads it whole, or None."""
    if text.startswith("-"):
        return None
    return strtol0(text)


def read_options(ctx: SpecContext, readers: Mapping[str, Reader]) -> dict[str, Any]:
    """Parse ``ctx.text`` as xl's strict ``key=value`` loops do.

    Every item must be ``key=value`` with a key in ``readers`` (xl exits on
    anything else); a repeated key keeps its last value.
    """
    values: dict[str, Any] = {}
    for item in xl_items(ctx.text):
        key, value = split_option(item)
        reader = readers.get(key) if value is not None else None
        if reader is None or value is None:
            raise ctx.error("unknown parameter", item)
        values[key] = reader(ctx, item, value)
    return values


def set_fields(spec: Any, skip: tuple[str, ...] = ()) -> list[tuple[str, Any]]:
    """(name, value) of each field of dataclass ``spec`` that is not None,
    in declaration order, leaving out the names in ``skip``."""
    return [(field.name, getattr(spec, field.name)) for field in fields(spec)
            if field.name not in skip and getattr(spec, field.name) is not None]


def with_item(text: str, key: str, value: str | None) -> str:
    """``text`` with item ``key=`` set to ``value``, or removed for None.

    The other items keep their spelling and order; a new item goes last.
    """
    out: list[str] = []
    found = False
    for item in text.split(","):
        if split_option(item.lstrip(" "))[0] != key:
            out.append(item)
            continue
        if value is not None and not found:
            out.append(f"{key}={value}")
        found = True
    if value is not None and not found:
        out = [item for item in out if item.strip()] + [f"{key}={value}"]
    return ",".join(out)
