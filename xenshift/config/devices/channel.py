"""PV channel specs (``channel=`` items, xen-pv-channel(7)), as xl reads them.

Each comma-separated item is ``key=value`` with blanks trimmed on both
sides. xl fails on an item that is not ``key=value``, on a missing or
unknown ``connection``, and on ``connection=socket`` without ``path``; it
warns about and ignores an unknown key, which we keep in ``unknown``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from xenshift.config.devices.keyvalue import join_items, xl_items, xl_pair
from xenshift.config.devices.spec_context import SpecContext
from xenshift.errors import Location

ChannelConnection = Literal["pty", "socket"]


@dataclass(frozen=True)
class ChannelSpec:
    """One ``channel=`` item. ``path`` is the socket; xl ignores it for pty."""

    connection: ChannelConnection
    name: str | None = None
    backend: str | None = None
    path: str | None = None
    unknown: tuple[str, ...] = ()


def parse_channel(text: str, location: Location | None = None) -> ChannelSpec:
    """Parse one channel spec as xl does; SpecError where xl fails."""
    ctx = SpecContext("channel", text, location)
    values: dict[str, Any] = {}
    unknown: list[str] = []
    for item in xl_items(text):
        key, value = xl_pair(ctx, item)
        if key == "connection" and value not in ("pty", "socket"):
            raise ctx.error("unknown value for connection", item)
        if key in ("connection", "name", "backend", "path"):
            values[key] = value
        else:
            unknown.append(item)
    if "connection" not in values:
        raise ctx.error("no connection= (pty or socket) given")
    if values["connection"] == "socket" and "path" not in values:
        raise ctx.error("connection=socket needs a path=")
    return ChannelSpec(**values, unknown=tuple(unknown))


def format_channel(spec: ChannelSpec) -> str:
    """The spec as xl reads it back to an equal ChannelSpec.

    ValueError for a value xl cannot carry: an empty one, one with a comma
    or ``=``, or one with blanks at either end.
    """
    items = [f"connection={spec.connection}"]
    for key in ("name", "backend", "path"):
        value = getattr(spec, key)
        if value is None:
            continue
        if not value or "=" in value or value != value.strip():
            raise ValueError(f"a channel {key} cannot be {value!r}")
        items.append(f"{key}={value}")
    return join_items(items + list(spec.unknown))
