"""Effective settings: what xl sees after ``+=`` and duplicate keys.

libxlu keeps every statement; a lookup finds the last one for a key, and a
``+=`` statement carries the concatenation of everything before it. This
module computes that view once, with typed getters that behave like
``xlu_cfg_get_string``/``_long``/``_list`` but raise located errors instead
of printing warnings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator

from xenshift.config.numbers import strtol0
from xenshift.config.syntax import (Assignment, ListValue, Op, Scalar, Value,
                                    concat_values)
from xenshift.config.values import to_plain
from xenshift.errors import ConfigError, ConfigSyntaxError, Location

JsonValue = str | int | list["JsonValue"]


@dataclass
class Setting:
    """The effective value of one key and the statements that made it."""

    key: str
    value: Value
    op: Op
    statement: Assignment
    history: list[Assignment] = field(default_factory=list)

    @property
    def line(self) -> int:
        """Line of the statement that decides the value."""
        return self.statement.line

    @property
    def duplicates(self) -> list[Assignment]:
        """Earlier ``=`` statements whose value the last one throws away."""
        last_assign = max((i for i, s in enumerate(self.history)
                           if s.op is Op.ASSIGN), default=-1)
        return [s for s in self.history[:last_assign] if s.op is Op.ASSIGN]


def _value_end_line(text: str, value: Value) -> int:
    """The line a value ends on, where libxlu notices a ``+=`` mismatch."""
    return value.line + text.count("\n", value.start, value.end)


def evaluate(statements: list[Assignment], path: str | None,
             text: str) -> tuple["Settings", list[ConfigSyntaxError]]:
    """Apply statements in order as libxlu does; return settings and errors."""
    table: dict[str, Setting] = {}
    errors: list[ConfigSyntaxError] = []
    for stmt in statements:
        prev = table.get(stmt.key)
        value = stmt.value
        if stmt.op is Op.APPEND and prev is not None:
            joined = concat_values(prev.value, value)
            if joined is None:
                kinds = ("a list", "a string") if isinstance(
                    prev.value, ListValue) else ("a string", "a list")
                errors.append(ConfigSyntaxError(
                    f"'{stmt.key} +=' adds {kinds[1]} to {kinds[0]} "
                    f"(set on line {prev.line}); xl can only add a list to a "
                    "list or a string to a string",
                    Location(path, stmt.line, stmt.column),
                    _value_end_line(text, value)))
                continue
            value = joined
        history = prev.history if prev is not None else []
        history.append(stmt)
        table[stmt.key] = Setting(stmt.key, value, stmt.op, stmt, history)
    return Settings(table, path), errors


def _to_json(value: Value, op: Op) -> JsonValue:
    # A joined string is text to xl even when it looks like a number.
    if isinstance(value, Scalar) and op is Op.APPEND:
        return value.text
    return to_plain(value)


class Settings:
    """Key → effective :class:`Setting`, in order of first appearance."""

    def __init__(self, table: dict[str, Setting], path: str | None):
        self._table = table
        self.path = path

    def __contains__(self, key: str) -> bool:
        return key in self._table

    def __iter__(self) -> Iterator[Setting]:
        return iter(self._table.values())

    def __len__(self) -> int:
        return len(self._table)

    def keys(self) -> list[str]:
        """Keys in the order they first appear in the file."""
        return list(self._table)

    def get(self, key: str) -> Setting | None:
        """The effective setting of ``key``, or None if it is not set."""
        return self._table.get(key)

    def location(self, key: str) -> Location:
        """Where the deciding statement of ``key`` is."""
        stmt = self._table[key].statement
        return Location(self.path, stmt.line, stmt.column)

    # Typed lookups, mirroring libxlu's getters.

    def get_string(self, key: str) -> str | None:
        """The string value of ``key`` (numbers as written), like xlu."""
        setting = self._table.get(key)
        if setting is None:
            return None
        if not isinstance(setting.value, Scalar):
            raise ConfigError(f"'{key}' is a list but should be a single "
                              "value", self.location(key))
        return setting.value.text

    def get_long(self, key: str) -> int | None:
        """``key`` as xl reads a number: strtol base 0, no ``+=``."""
        setting = self._table.get(key)
        if setting is None:
            return None
        text = self.get_string(key)
        if setting.op is Op.APPEND:
            raise ConfigError(f"'{key}' is set with '+=', which xl refuses "
                              "for numbers", self.location(key))
        number = strtol0(text)
        if number is None:
            raise ConfigError(f"'{key}' = {text!r} is not a valid number",
                              self.location(key))
        return number

    def get_bool(self, key: str) -> bool | None:
        """``key`` as an xl boolean: a number, 0 false, anything else true."""
        number = self.get_long(key)
        return None if number is None else number != 0

    def get_list(self, key: str) -> ListValue | None:
        """The list value of ``key``; a single value is an error, as in xl."""
        setting = self._table.get(key)
        if setting is None:
            return None
        if not isinstance(setting.value, ListValue):
            raise ConfigError(f"'{key}' is a single value but should be a "
                              "list", self.location(key))
        return setting.value

    def get_string_list(self, key: str) -> list[Scalar] | None:
        """The string items of list ``key`` (nested lists are an error)."""
        value = self.get_list(key)
        if value is None:
            return None
        items = []
        for item in value.items:
            if not isinstance(item, Scalar):
                raise ConfigError(f"'{key}' has a nested list where a string "
                                  "is expected",
                                  Location(self.path, item.line, item.column))
            items.append(item)
        return items

    def to_json(self) -> dict[str, JsonValue]:
        """One JSON object: strings as strings, numbers as integers, lists.

        A number is an integer only where xl would read it as one: written
        unquoted, set with ``=``, and valid for ``strtol``.
        """
        return {s.key: _to_json(s.value, s.op) for s in self._table.values()}
