"""Vif rate limits, ``RATE[@INTERVAL]``, read as ``xlu_vif_parse_rate`` does.

RATE must match ``^[0-9]+[GMK]?[Bb]/s$``: G, M and K are decimal
multipliers and a lower-case ``b`` means bits. INTERVAL must match
``^[0-9]+[mu]?s?$``: seconds without a unit or with ``s``, else ms or us;
it defaults to 50 ms. libxlu reads both numbers with ``strtoull(..., 0)``,
so a leading 0 makes them octal, and reading stops at an 8 or 9; the checks
on what follows the number then see that digit. That is reproduced too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from xenshift.config.devices.spec_context import SpecContext
from xenshift.errors import Location

UINT32_MAX = 2**32 - 1
UINT64_MAX = 2**64 - 1
DEFAULT_INTERVAL_USECS = 50_000

_RATE = re.compile(r"[0-9]+[GMK]?[Bb]/s")
_INTERVAL = re.compile(r"[0-9]+[mu]?s?")
_STRTOULL = re.compile(r"0[0-7]*|[0-9]+")
_MULTIPLIERS = (("G", 10**9), ("M", 10**6), ("K", 10**3), ("", 1))
_MULTIPLIER = dict(_MULTIPLIERS)


@dataclass(frozen=True)
class VifRate:
    """A credit-based rate limit: bytes per second, replenished per interval."""

    bytes_per_second: int
    interval_usecs: int = DEFAULT_INTERVAL_USECS

    @property
    def bytes_per_interval(self) -> int:
        """The credit libxl gives the vif every ``interval_usecs``."""
        return self.bytes_per_second * self.interval_usecs // 1_000_000

    def __str__(self) -> str:
        """The rate as xl spells it, e.g. ``10MB/s@20ms``."""
        text = _rate_text(self.bytes_per_second)
        if self.interval_usecs != DEFAULT_INTERVAL_USECS:
            text += "@" + _interval_text(self.interval_usecs)
        return text


def parse_vif_rate(text: str, location: Location | None = None) -> VifRate:
    """Parse a ``rate=`` value on its own; SpecError if libxlu rejects it."""
    return read_rate(SpecContext("vif rate", text, location), text)


def read_rate(ctx: SpecContext, text: str) -> VifRate:
    """Parse a ``rate=`` value, reporting errors against the spec in ``ctx``."""
    rate_text, at, interval_text = text.partition("@")
    if not rate_text:
        raise ctx.error("no rate specified in", text)
    if not _RATE.fullmatch(rate_text):
        raise ctx.error("invalid rate", rate_text)
    amount, unit = _strtoull(rate_text)
    if amount == 0 or amount > UINT32_MAX:
        raise ctx.error("rate overflow", rate_text)
    amount *= _MULTIPLIER.get(unit[0], 1)
    if "b" in unit[:2]:
        amount //= 8
    interval = _read_interval(ctx, interval_text) if at else DEFAULT_INTERVAL_USECS
    if amount > UINT64_MAX // interval:
        raise ctx.error("rate overflow", text)
    return VifRate(amount, interval)


def _read_interval(ctx: SpecContext, text: str) -> int:
    if not _INTERVAL.fullmatch(text):
        raise ctx.error("invalid replenishment interval", text)
    interval, unit = _strtoull(text)
    if interval == 0 or interval > UINT32_MAX:
        raise ctx.error("replenishment interval overflow", text)
    if unit[:1] in ("", "s"):
        interval *= 1_000_000
    elif unit[0] == "m":
        interval *= 1_000
    if interval > UINT32_MAX:
        raise ctx.error("replenishment interval overflow", text)
    return interval


def _strtoull(text: str) -> tuple[int, str]:
    """``strtoull(text, &rest, 0)`` on text that starts with a digit."""
    match = _STRTOULL.match(text)
    assert match is not None
    digits = match.group()
    return int(digits, 8 if digits.startswith("0") else 10), text[match.end():]


def _rate_text(bytes_per_second: int) -> str:
    if bytes_per_second == 0:
        # Only a bit rate below 8 b/s rounds down to zero bytes.
        return "1b/s"
    for letter, factor in (("B", 1), ("b", 8)):
        amount = bytes_per_second * factor
        for prefix, multiplier in _MULTIPLIERS:
            if amount % multiplier == 0 and amount // multiplier <= UINT32_MAX:
                return f"{amount // multiplier}{prefix}{letter}/s"
    raise ValueError(f"no vif rate gives {bytes_per_second} bytes per second")


def _interval_text(usecs: int) -> str:
    if usecs % 1_000_000 == 0:
        return f"{usecs // 1_000_000}s"
    if usecs % 1_000 == 0:
        return f"{usecs // 1_000}ms"
    return f"{usecs}us"
