"""String literals as libxlu reads them, and writing strings it reads back.

Escapes follow libxlu's ``xlu__cfgl_dequote`` exactly, including two quirks
that matter when a file is read: ``\\xHH`` is always rejected, and a
"numeric" escape ``\\N`` (N an octal digit) swallows what C ``strtoul`` in
base 10 reads from the next three characters and produces nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

_SIMPLE_ESCAPES = {
    '"': '"', "'": "'", "\\": "\\",
    "a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v",
}
_C_SPACE = " \t\n\v\f\r"


@dataclass(frozen=True)
class EscapeProblem:
    """A rejected escape: its offset inside the literal and the reason."""

    offset: int
    message: str


def _strtoul10_length(buf: str) -> int:
    """How many characters C ``strtoul(buf, &end, 10)`` consumes (0 if none)."""
    i = 0
    while i < len(buf) and buf[i] in _C_SPACE:
        i += 1
    if i < len(buf) and buf[i] in "+-":
        i += 1
    start = i
    while i < len(buf) and buf[i].isdigit() and buf[i].isascii():
        i += 1
    return i if i > start else 0


def unquote(raw: str) -> tuple[str, EscapeProblem | None]:
    """Decode a quoted literal (quotes included) the way libxlu does.

    Returns the value and, if an escape is invalid, the first problem. The
    caller has already checked that ``raw`` is a well-formed literal token.
    """
    if "\\" not in raw:
        return raw[1:-1], None
    body_end = len(raw) - 1
    out: list[str] = []
    p = 1
    while p < body_end:
        c = raw[p]
        p += 1
        if c != "\\":
            out.append(c)
            continue
        esc_at = p - 1
        nc = raw[p]
        p += 1
        simple = _SIMPLE_ESCAPES.get(nc)
        if simple is not None:
            out.append(simple)
        elif nc == "x":
            return "".join(out), EscapeProblem(
                esc_at, "xl cannot read \\x escapes (libxlu rejects every "
                        "hex escape); write the character itself")
        elif "0" <= nc <= "7":
            used = _strtoul10_length(raw[p:p + 3])
            if used <= 1:
                return "".join(out), EscapeProblem(
                    esc_at, f"invalid numeric escape \\{nc}{raw[p:p + 2]}: "
                            "xl needs at least two more digits and then drops "
                            "the character anyway; write the character itself")
            p += used
        else:
            return "".join(out), EscapeProblem(
                esc_at, f"invalid escape \\{nc} (xl knows \\\" \\' \\\\ "
                        "\\a \\b \\f \\n \\r \\t \\v)")
    return "".join(out), None


_WRITE_ESCAPES = {
    "\\": "\\\\", "\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n",
    "\r": "\\r", "\t": "\\t", "\v": "\\v",
}


def quote(value: str, quote_char: str = '"') -> str:
    """A literal that libxlu decodes back to exactly ``value``.

    Backslashes, the chosen quote and the control characters with a named
    escape are escaped; everything else is written as is.
    """
    parts = [quote_char]
    for c in value:
        if c == quote_char:
            parts.append("\\" + c)
        else:
            parts.append(_WRITE_ESCAPES.get(c, c))
    parts.append(quote_char)
    return "".join(parts)


def quotable(value: str) -> bool:
    """Whether ``value`` can be written as an xl string at all.

    A NUL cannot travel through libxlu's C strings.
    """
    return "\0" not in value
