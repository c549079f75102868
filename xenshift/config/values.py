"""Writing values back as config text, in xl or xm (Python) syntax.

Edits and converters hand in plain Python values (``str``, ``int``, nested
``list``) or already-parsed :class:`~xenshift.config.syntax.Value` nodes;
this module renders them the way each tool reads them back.
"""

from __future__ import annotations

from typing import Union

from xenshift.config.numbers import strtol0
from xenshift.config.strings import quotable, quote
from xenshift.config.syntax import ListValue, Scalar, Value
from xenshift.errors import ConfigError

PlainValue = Union[str, int, list["PlainValue"]]

# A list longer than this on one line is written one item per line.
_ONE_LINE_LIMIT = 72


def to_plain(value: Value) -> PlainValue:
    """A parsed value as plain Python; numbers xl can read become ints."""
    if isinstance(value, ListValue):
        return [to_plain(v) for v in value.items]
    if value.is_number:
        number = strtol0(value.text)
        return value.text if number is None else number
    return value.text


def _scalar_xl(value: Scalar) -> str:
    return value.text if value.is_number else _string_xl(value.text)


def _string_xl(text: str) -> str:
    if not quotable(text):
        raise ConfigError(f"a NUL character cannot be written in an xl "
                          f"config: {text!r}")
    return quote(text)


def format_xl(value: PlainValue | Value, indent: str = "") -> str:
    """``value`` in xl syntax; long lists get one item per line."""
    if isinstance(value, Scalar):
        return _scalar_xl(value)
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        if value < 0:
            raise ConfigError(f"xl numbers have no sign: {value} cannot be "
                              "written")
        return str(value)
    if isinstance(value, str):
        return _string_xl(value)
    items = value.items if isinstance(value, ListValue) else value
    inner = indent + "    "
    parts = [format_xl(item, inner) for item in items]
    one_line = "[ " + ", ".join(parts) + " ]" if parts else "[]"
    if len(one_line) + len(indent) <= _ONE_LINE_LIMIT and "\n" not in one_line:
        return one_line
    return "[\n" + "".join(f"{inner}{p},\n" for p in parts) + indent + "]"


def format_xm(value: PlainValue | Value) -> str:
    """``value`` as a Python literal, for editing legacy xm files."""
    if isinstance(value, Scalar):
        return value.text if value.is_number else repr(value.text)
    if isinstance(value, (bool, int)):
        return str(int(value))
    if isinstance(value, str):
        return repr(value)
    items = value.items if isinstance(value, ListValue) else value
    return "[" + ", ".join(format_xm(item) for item in items) + "]"
