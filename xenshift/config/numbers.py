"""Numbers as xl reads them: C ``strtol(text, &end, 0)`` on the whole text.

libxlu keeps every number as text; xl converts it on lookup with base 0, so a
leading ``0`` means octal (``010`` is 8) and ``0x`` means hex. Text that
``strtol`` does not consume entirely (``09``, ``1e5``, ``0x``) or that
overflows a 64-bit ``long`` is not a number to xl.
"""

from __future__ import annotations

import re

LONG_MIN = -(2**63)
LONG_MAX = 2**63 - 1

_HEX = re.compile(r"0[xX][0-9a-fA-F]+\Z")
_OCT = re.compile(r"0[0-7]*\Z")
_DEC = re.compile(r"[1-9][0-9]*\Z")


def strtol0(text: str) -> int | None:
    """The value xl's ``xlu_cfg_get_long`` gives ``text``, or None if it fails.

    The xl lexer never produces a sign, but values read from xm (Python)
    configs can be negative, and ``strtol`` accepts a leading ``-``.
    """
    if text.startswith("-"):
        magnitude = strtol0(text[1:]) if text[1:2] != "-" else None
        if magnitude is None and text[1:] != str(LONG_MAX + 1):
            return None
        return -(magnitude if magnitude is not None else LONG_MAX + 1)
    if _DEC.match(text):
        if len(text) > len(str(LONG_MAX)):
            # Too large anyway; and Python refuses to convert decimal
            # strings of thousands of digits.
            return None
        value = int(text, 10)
    elif _HEX.match(text):
        value = int(text, 16)
    elif _OCT.match(text):
        value = int(text, 8)
    else:
        return None
    if value > LONG_MAX:
        return None
    return value


def is_octal_trap(text: str) -> bool:
    """True for numbers like ``010`` that xl reads as octal, not decimal."""
    return len(text) > 1 and text[0] == "0" and text[1] not in "xX"


def number_problem(text: str) -> str | None:
    """Why xl cannot read ``text`` as a number, or None when it can."""
    if strtol0(text) is not None:
        return None
    if _HEX.match(text) or _OCT.match(text) or _DEC.match(text):
        return f"{text} does not fit in a 64-bit integer"
    if text[0] == "0" and len(text) > 1 and text[1] not in "xX":
        return (f"{text} starts with 0, so xl reads it as octal, "
                f"and it has digits that are not octal")
    if text in ("0x", "0X"):
        return "0x has no hex digits after it"
    return f"{text} is not a number (xl numbers are decimal, 0x-hex or 0-octal)"
