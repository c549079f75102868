"""Syntax-tree nodes of a domain config, shared by the xl and xm readers.

Each node keeps its source offsets, so edits can replace exactly the text a
statement or value occupies and leave every other byte alone. Values are
already decoded: a :class:`Scalar` holds the string after escapes, or the
digits of a number as written.
"""

from __future__ import annotations

from enum import Enum
from typing import Union


class Op(Enum):
    """How a statement binds its key: ``=`` replaces, ``+=`` appends."""

    ASSIGN = "="
    APPEND = "+="


class Scalar:
    """A string or a number. ``is_number`` is true for an unquoted number."""

    __slots__ = ("text", "is_number", "start", "end", "line", "column")

    def __init__(self, text: str, is_number: bool, start: int, end: int,
                 line: int, column: int):
        self.text = text
        self.is_number = is_number
        self.start = start
        self.end = end
        self.line = line
        self.column = column

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, Scalar) and other.text == self.text
                and other.is_number == self.is_number)

    def __hash__(self) -> int:
        return hash((self.text, self.is_number))

    def __repr__(self) -> str:
        return f"Scalar({self.text!r}{', number' if self.is_number else ''})"


class ListValue:
    """A bracketed list; items are scalars or nested lists."""

    __slots__ = ("items", "start", "end", "line", "column")

    def __init__(self, items: list["Value"], start: int, end: int, line: int,
                 column: int):
        self.items = items
        self.start = start
        self.end = end
        self.line = line
        self.column = column

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ListValue) and other.items == self.items

    def __hash__(self) -> int:
        return hash(tuple(self.items))

    def __repr__(self) -> str:
        return f"ListValue({self.items!r})"


Value = Union[Scalar, ListValue]


class Assignment:
    """``key = value`` or ``key += value``.

    ``start``/``end`` span the statement from the key to the end of the
    value; ``line``/``column`` locate the key.
    """

    __slots__ = ("key", "op", "value", "start", "end", "line", "column")

    def __init__(self, key: str, op: Op, value: Value, start: int, end: int,
                 line: int, column: int):
        self.key = key
        self.op = op
        self.value = value
        self.start = start
        self.end = end
        self.line = line
        self.column = column

    def __repr__(self) -> str:
        return f"Assignment({self.key} {self.op.value} {self.value!r})"


def concat_values(previous: Value, added: Value) -> Value | None:
    """libxlu's ``+=``: strings concatenate, lists append, else None.

    The result sits where ``added`` is. A joined scalar is text, never a
    number: xl refuses to read a ``+=`` value as a number.
    """
    if isinstance(previous, Scalar) and isinstance(added, Scalar):
        return Scalar(previous.text + added.text, False, added.start,
                      added.end, added.line, added.column)
    if isinstance(previous, ListValue) and isinstance(added, ListValue):
        return ListValue(previous.items + added.items, added.start, added.end,
                         added.line, added.column)
    return None
