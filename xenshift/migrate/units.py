"""Parsing of the sizes and rates users type: ``1G``, ``40M/s``, ``1Gbit``."""

from __future__ import annotations

import re

from xenshift.migrate.errors import OptionError

_BINARY = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
# Bit rates are network units, so they scale by 1000 like tc and iperf do.
_DECIMAL = {"": 1, "k": 10 ** 3, "m": 10 ** 6, "g": 10 ** 9, "t": 10 ** 12}

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*$", re.I)
_RATE = re.compile(
    r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b|bit|bps)?(?:/s)?\s*$", re.I)


def parse_size(text: str) -> int:
    """Bytes in ``text``: a number with an optional K/M/G/T (binary) suffix."""
    m = _SIZE.match(text)
    if not m:
        raise OptionError(f"not a size: {text!r} (try 512M or 1G)")
    return int(float(m.group(1)) * _BINARY[m.group(2).lower()])


def parse_rate(text: str) -> int:
    """Bytes per second in ``text``.

    ``40M/s``, ``40MB/s`` and ``40MiB/s`` are bytes with binary multiples;
    ``1Gbit`` or ``100Mbps`` are bits with decimal multiples, as for links.
    """
    m = _RATE.match(text)
    if not m:
        raise OptionError(f"not a rate: {text!r} (try 40M/s or 1Gbit)")
    value, prefix, unit = float(m.group(1)), m.group(2).lower(), (m.group(3) or "").lower()
    if unit in ("bit", "bps"):
        return int(value * _DECIMAL[prefix] / 8)
    return int(value * _BINARY[prefix])


def parse_percent(text: str) -> float:
    """A fraction in 0..1 from ``10%`` or ``0.1``."""
    t = text.strip()
    try:
        value = float(t[:-1]) / 100 if t.endswith("%") else float(t)
    except ValueError:
        raise OptionError(f"not a percentage: {text!r}") from None
    if not 0 < value <= 1:
        raise OptionError(f"percentage out of range: {text!r}")
    return value


def format_bytes(n: float) -> str:
    """A short human form of a byte count: ``1.5 GiB``."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024:
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return f"{n:.1f} TiB"
