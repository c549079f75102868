"""JSON text of nested values, laid out as ``json.dumps(indent=2)`` does.

Written without recursion: a config value may nest lists thousands deep
(xl reads them), and the json module recurses once per level.
"""

from __future__ import annotations

import json
from typing import Any, Iterator

_END = object()


def json_text(value: Any, ensure_ascii: bool = False) -> str:
    """``value`` (dicts, lists and JSON scalars) as indented JSON text."""
    out: list[str] = []
    # [pending (key, item) pairs, closing bracket, depth, first item?]
    stack: list[list] = []

    def start(node: Any, depth: int) -> None:
        if isinstance(node, dict):
            pairs: Iterator = iter(node.items())
            brackets = "{}"
        elif isinstance(node, (list, tuple)):
            pairs = ((None, item) for item in node)
            brackets = "[]"
        else:
            out.append(json.dumps(node, ensure_ascii=ensure_ascii))
            return
        if not node:
            out.append(brackets)
            return
        out.append(brackets[0])
        stack.append([pairs, brackets[1], depth, True])

    start(value, 0)
    while stack:
        entry = stack[-1]
        pairs, close, depth, first = entry
        pair = next(pairs, _END)
        if pair is _END:
            stack.pop()
            out.append("\n" + "  " * depth + close)
            continue
        entry[3] = False
        key, item = pair
        out.append(("\n" if first else ",\n") + "  " * (depth + 1))
        if key is not None:
            out.append(json.dumps(str(key), ensure_ascii=ensure_ascii) + ": ")
        start(item, depth + 1)
    return "".join(out)
