"""Virtual framebuffer specs (``vfb=`` items), as xl's vfb loop reads them.

xl cuts the spec at commas, strips leading spaces, and stops at the first
item without ``=``, ignoring it and everything after it. Unknown keys are
ignored silently. We keep every ignored item in ``VfbSpec.unknown`` so the
linter can say so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from xenshift.config.devices.keyvalue import (
    decimal, join_items, set_fields, split_option, xl_items)
from xenshift.config.devices.spec_context import SpecContext
from xenshift.errors import Location

# xl reads these with atoi() and keeps whether the result is non-zero.
_SWITCHES = ("vnc", "vncunused", "sdl", "opengl")
_STRINGS = ("vnclisten", "vncpasswd", "display", "xauthority", "keymap")


@dataclass(frozen=True)
class VfbSpec:
    """One ``vfb=`` item: VNC and SDL settings of a PV framebuffer."""

    vnc: bool | None = None
    vnclisten: str | None = None
    vncdisplay: int | None = None
    vncunused: bool | None = None
    vncpasswd: str | None = None
    sdl: bool | None = None
    opengl: bool | None = None
    display: str | None = None
    xauthority: str | None = None
    keymap: str | None = None
    unknown: tuple[str, ...] = ()


def parse_vfb(text: str, location: Location | None = None) -> VfbSpec:
    """Parse one vfb spec as xl does; SpecError for a non-numeric number."""
    ctx = SpecContext("vfb", text, location)
    values: dict[str, Any] = {}
    unknown: list[str] = []
    items = xl_items(text)
    for index, item in enumerate(items):
        key, value = split_option(item)
        if value is None:
            unknown += items[index:]
            break
        if key in _SWITCHES:
            values[key] = decimal(ctx, item, value) != 0
        elif key == "vncdisplay":
            values[key] = decimal(ctx, item, value)
        elif key in _STRINGS:
            values[key] = value
        else:
            unknown.append(item)
    return VfbSpec(**values, unknown=tuple(unknown))


def format_vfb(spec: VfbSpec) -> str:
    """The spec as xl reads it back to an equal VfbSpec.

    ValueError for a value holding a comma, which no vfb spec can carry.
    """
    items = [f"{name}={int(value) if name in _SWITCHES else value}"
             for name, value in set_fields(spec, skip=("unknown",))]
    return join_items(items + list(spec.unknown))
