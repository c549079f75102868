"""Numbers read from guest files, which may hold anything.

``str.isdigit`` admits digits ``int`` refuses (superscripts, other
scripts), and Python refuses to convert more than 4,300 digits: a guest
file must not turn either into a crash.
"""

from __future__ import annotations

# More digits than any count, index or version part in a real guest file.
MAX_DIGITS = 18


def small_int(text: str) -> int | None:
    """``text`` as a plain decimal number of at most MAX_DIGITS, else None."""
    if text.isascii() and text.isdigit() and len(text) <= MAX_DIGITS:
        return int(text)
    return None
