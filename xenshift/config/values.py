"""Writing values back as config text, in xl or xm (Python) syntax.

Edits and converters hand in plain Python values (``str``, ``int``, nested
``list``) or already-parsed :class:`~xenshift.config.syntax.Value` nodes;
this module renders them the way each tool reads them back.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator, TypeVar, Union

from xenshift.config.numbers import strtol0
from xenshift.config.strings import quotable, quote
from xenshift.config.syntax import ListValue, Scalar, Value
from xenshift.errors import ConfigError

PlainValue = Union[str, int, list["PlainValue"]]
T = TypeVar("T")

# A list longer than this on one line is written one item per line.
_ONE_LINE_LIMIT = 72
# Lists nested deeper than this are indented no further: a list nested
# thousands deep stays valid and its text grows linearly, not with the
# square of its depth.
_INDENT_DEPTH = 8


def _children(node: PlainValue | Value) -> list | None:
    if isinstance(node, ListValue):
        return node.items
    if isinstance(node, list):
        return node
    return None


def fold(value: PlainValue | Value, leaf: Callable[[Any], T],
         branch: Callable[[Any, list[T], int], T]) -> T:
    """Combine a (possibly nested) value bottom-up, without recursion.

    ``leaf(scalar)`` maps each non-list; ``branch(node, results, depth)``
    maps each list from its items' results, ``depth`` being the number of
    lists around it. xl reads lists nested thousands deep, beyond Python's
    recursion limit, so every walk over values goes through here.
    """
    items = _children(value)
    if items is None:
        return leaf(value)
    # (list, iterator over its items, results so far) of each open list.
    stack: list[tuple[Any, Iterator, list[T]]] = [(value, iter(items), [])]
    while True:
        node, pending, results = stack[-1]
        for child in pending:
            nested = _children(child)
            if nested is None:
                results.append(leaf(child))
            else:
                stack.append((child, iter(nested), []))
                break
        else:
            stack.pop()
            done = branch(node, results, len(stack))
            if not stack:
                return done
            stack[-1][2].append(done)


def _plain_scalar(value: Scalar) -> PlainValue:
    if value.is_number:
        number = strtol0(value.text)
        return value.text if number is None else number
    return value.text


def to_plain(value: Value) -> PlainValue:
    """A parsed value as plain Python; numbers xl can read become ints."""
    return fold(value, _plain_scalar, lambda node, items, depth: items)


def _scalar_xl(value: Scalar) -> str:
    return value.text if value.is_number else _string_xl(value.text)


def _string_xl(text: str) -> str:
    if not quotable(text):
        raise ConfigError(f"a NUL character cannot be written in an xl "
                          f"config: {text!r}")
    return quote(text)


def _leaf_xl(value: PlainValue | Scalar) -> str:
    if isinstance(value, Scalar):
        return _scalar_xl(value)
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        if value < 0:
            raise ConfigError(f"xl numbers have no sign: {value} cannot be "
                              "written")
        return str(value)
    return _string_xl(value)


def format_xl(value: PlainValue | Value, indent: str = "") -> str:
    """``value`` in xl syntax; long lists get one item per line."""
    def branch(node: object, parts: list[str], depth: int) -> str:
        outer = indent + "    " * min(depth, _INDENT_DEPTH)
        inner = outer + "    "
        one_line = "[ " + ", ".join(parts) + " ]" if parts else "[]"
        if len(one_line) + len(outer) <= _ONE_LINE_LIMIT and "\n" not in one_line:
            return one_line
        return "[\n" + "".join(f"{inner}{p},\n" for p in parts) + outer + "]"

    return fold(value, _leaf_xl, branch)


def _leaf_xm(value: PlainValue | Scalar) -> str:
    if isinstance(value, Scalar):
        return value.text if value.is_number else repr(value.text)
    if isinstance(value, (bool, int)):
        return str(int(value))
    return repr(value)


def format_xm(value: PlainValue | Value) -> str:
    """``value`` as a Python literal, for editing legacy xm files."""
    return fold(value, _leaf_xm,
                lambda node, parts, depth: "[" + ", ".join(parts) + "]")
