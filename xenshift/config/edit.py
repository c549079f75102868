"""Editing a config file while keeping every other byte of it.

Each edit computes text splices over the statements of the key it touches
and re-reads the result. Lines of other keys, comments, blank lines, quote
styles and list layout are never rewritten. An edit of a file that was
readable must give a readable file; anything else is a bug and raises.
"""

from __future__ import annotations

import io
import re
import tokenize
from dataclasses import dataclass

from xenshift.config.document import Dialect, Document, parse_config
from xenshift.config.lexer import Kind
from xenshift.config.lexer import tokenize as tokenize_xl
from xenshift.config.syntax import Assignment, ListValue, Op, Scalar, Value
from xenshift.config.strings import quote
from xenshift.config.values import PlainValue, format_xl, format_xm
from xenshift.errors import ConfigError

_XL_KEY = re.compile(r"[a-z][._0-9a-z]*\Z")
_XM_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


@dataclass(frozen=True)
class _Splice:
    start: int
    end: int
    text: str


def _apply(text: str, splices: list[_Splice]) -> str:
    splices = _insertions_outside_removals(text, splices)
    out = []
    pos = 0
    # Insertions (start == end) sort before a removal at the same place.
    for sp in sorted(splices, key=lambda s: (s.start, s.end)):
        out.append(text[pos:sp.start])
        out.append(sp.text)
        pos = sp.end
    out.append(text[pos:])
    return "".join(out)


def _insertions_outside_removals(text: str,
                                 splices: list[_Splice]) -> list[_Splice]:
    """Move hoisted-comment insertions out of text that another splice removes.

    A statement can start on the last line of an earlier statement of the
    same key ('...] ; key = [...'); the comments hoisted to its line start
    would land inside the earlier statement's removal, so they go to the
    start of the line where that removal begins.
    """
    removals = [sp for sp in splices if sp.end > sp.start]
    moved = []
    for sp in splices:
        pos = sp.start
        # Each move goes strictly backwards, so this ends.
        while sp.start == sp.end:
            cover = next((r for r in removals if r.start < pos < r.end), None)
            if cover is None:
                break
            pos = text.rfind("\n", 0, cover.start) + 1
        moved.append(_Splice(pos, pos, sp.text) if pos != sp.start else sp)
    return moved


def _format(doc: Document, value: PlainValue | Value, indent: str = "") -> str:
    if doc.dialect is Dialect.XM:
        return format_xm(value)
    return format_xl(value, indent)


def _check_key(doc: Document, key: str) -> None:
    pattern = _XM_KEY if doc.dialect is Dialect.XM else _XL_KEY
    if not pattern.match(key):
        rule = ("a Python name" if doc.dialect is Dialect.XM
                else "lower-case letters, digits, '_' and '.', starting "
                     "with a letter")
        raise ConfigError(f"'{key}' is not a valid key: keys are {rule}")


def _line_bounds(text: str, pos: int) -> tuple[int, int]:
    start = text.rfind("\n", 0, pos) + 1
    end = text.find("\n", pos)
    return start, len(text) if end < 0 else end


def _comments_within(doc: Document, start: int, end: int) -> list[str]:
    """Comments inside ``text[start:end]`` (a multi-line value), in order."""
    if doc.dialect is Dialect.XM:
        source = io.StringIO(doc.text[start:end])
        try:
            return [tok.string for tok in tokenize.generate_tokens(source.readline)
                    if tok.type == tokenize.COMMENT]
        except (tokenize.TokenError, SyntaxError):
            return []
    return [tok.text for tok in tokenize_xl(doc.text[start:end])
            if tok.kind is Kind.COMMENT]


def _hoisted(doc: Document, stmt: Assignment, start: int, end: int) -> str:
    """Comment lines to put before ``stmt`` for the comments a splice eats."""
    line_start = doc.text.rfind("\n", 0, stmt.start) + 1
    indent = doc.text[line_start:stmt.start]
    indent = indent if not indent.strip() else ""
    return "".join(f"{indent}{c}\n" for c in _comments_within(doc, start, end))


def _removal(doc: Document, stmt: Assignment) -> list[_Splice]:
    """Splices that delete a statement but keep every comment around it.

    Comments inside a multi-line value move to their own lines just before
    the statement's line.
    """
    splices = [_plain_removal(doc.text, stmt)]
    kept = _hoisted(doc, stmt, stmt.start, stmt.end)
    if kept:
        line_start = doc.text.rfind("\n", 0, stmt.start) + 1
        splices.insert(0, _Splice(line_start, line_start, kept))
    return splices


def _plain_removal(text: str, stmt: Assignment) -> _Splice:
    line_start, line_end = _line_bounds(text, stmt.end)
    line_start = _line_bounds(text, stmt.start)[0]
    after = stmt.end
    rest = text[after:line_end]
    stripped = rest.lstrip(" \t")
    if stripped.startswith(";"):
        after += len(rest) - len(stripped) + 1
        rest = text[after:line_end]
        stripped = rest.lstrip(" \t")
        if stripped:
            # 'key = 1; other = 2': drop 'key = 1; ' only.
            return _Splice(stmt.start, after + len(rest) - len(stripped), "")
    before = text[line_start:stmt.start]
    if before.strip(" \t"):
        # 'other = 2; key = 1': drop the separator before it too.
        sep = before.rstrip(" \t")
        cut = line_start + len(sep)
        if sep.endswith(";"):
            cut -= 1
        return _Splice(cut, after, "")
    if stripped.startswith("#"):
        # Keep a comment that followed the statement, as its own line.
        return _Splice(line_start + len(before), after + len(rest) - len(stripped), "")
    end = line_end + 1 if line_end < len(text) else line_end
    return _Splice(line_start, end, "")


def _reparse(doc: Document, text: str, what: str) -> Document:
    new = parse_config(text, doc.path)
    if doc.ok and not new.ok:
        raise AssertionError(f"{what} produced an unreadable config: "
                             f"{new.errors[0]}")
    return new


def set_value(doc: Document, key: str, value: PlainValue | Value,
              after: str | None = None) -> Document:
    """Set ``key`` so its effective value is ``value``.

    The last statement of the key is rewritten in place (as ``=``); earlier
    statements of the key, now pointless, are removed. A new key goes on
    its own line after the line of the last statement of ``after`` if that
    key is set, else at the end of the file.
    """
    _check_key(doc, key)
    text = doc.text
    stmts = doc.statements_for(key)
    if not stmts:
        line = f"{key} = {_format(doc, value)}\n"
        anchors = doc.statements_for(after) if after else []
        if anchors:
            pos = _line_bounds(text, anchors[-1].end)[1]
            if pos < len(text):
                return _reparse(doc, text[:pos + 1] + line + text[pos + 1:],
                                f"setting {key}")
        # xl drops a stray byte that ends the file (doc.ignored says so);
        # it must stay last, or it becomes an error.
        stray = text[-1:] if doc.ignored else ""
        body = text[:len(text) - len(stray)]
        sep = "" if not body or body.endswith("\n") else "\n"
        return _reparse(doc, f"{body}{sep}{line}{stray}", f"setting {key}")
    last = stmts[-1]
    indent = text[_line_bounds(text, last.start)[0]:last.start]
    indent = indent if not indent.strip() else ""
    rendered = _format(doc, value, indent)
    splices = [sp for s in stmts[:-1] for sp in _removal(doc, s)]
    kept = _hoisted(doc, last, last.start, last.end)
    if kept:
        line_start = text.rfind("\n", 0, last.start) + 1
        splices.append(_Splice(line_start, line_start, kept))
    if last.op is Op.APPEND:
        splices.append(_Splice(last.start, last.end, f"{key} = {rendered}"))
    else:
        splices.append(_Splice(last.value.start, last.value.end, rendered))
    return _reparse(doc, _apply(text, splices), f"setting {key}")


def unset(doc: Document, key: str) -> Document:
    """Remove every statement of ``key``; comments on their lines stay."""
    stmts = doc.statements_for(key)
    if not stmts:
        raise ConfigError(f"'{key}' is not set", None)
    splices = [sp for s in stmts for sp in _removal(doc, s)]
    return _reparse(doc, _apply(doc.text, splices), f"removing {key}")


def append(doc: Document, key: str, item: PlainValue | Value) -> Document:
    """Append ``item`` to list ``key``, or text to string ``key``.

    A list item goes into the last list literal of the key, following its
    layout (same line, or a new line with the same indentation and comma
    style). An unset key becomes a one-item list.
    """
    setting = doc.settings.get(key)
    if setting is None:
        return set_value(doc, key, [item] if not isinstance(item, ListValue)
                         else item)
    last = doc.statements_for(key)[-1]
    if isinstance(setting.value, Scalar):
        addition = item.text if isinstance(item, Scalar) else item
        if not isinstance(addition, str):
            raise ConfigError(f"'{key}' is a string; only text can be "
                              "appended to it")
        return set_value(doc, key, setting.value.text + addition)
    if not isinstance(last.value, ListValue):
        raise ConfigError(f"'{key}' is a list set with '+=' from a string")
    splices = _list_insertion(doc, last.value, item)
    return _reparse(doc, _apply(doc.text, splices), f"appending to {key}")


def _list_insertion(doc: Document, lst: ListValue,
                    item: PlainValue | Value) -> list[_Splice]:
    text = doc.text
    close = lst.end - 1
    if not lst.items:
        return [_Splice(lst.start, lst.end, _format(doc, [item] if not isinstance(
            item, ListValue) else item))]
    last = lst.items[-1]
    multiline = "\n" in text[lst.start:close]
    comma = _trailing_comma(text, last.end, close)
    if not multiline:
        return [_Splice(last.end, last.end, ", " + _format(doc, item))]
    line_start = text.rfind("\n", 0, last.start) + 1
    indent = text[line_start:last.start]
    indent = indent if not indent.strip() else "    "
    rendered = _format(doc, item, indent)
    splices = []
    if comma is None:
        splices.append(_Splice(last.end, last.end, ","))
        pos = last.end
    else:
        pos = comma + 1
    line_end = text.find("\n", pos)
    if line_end < 0 or line_end > close:
        # The closing bracket shares the last item's line.
        splices.append(_Splice(pos, pos, f"\n{indent}{rendered}"))
        return splices
    splices.append(_Splice(line_end, line_end,
                           f"\n{indent}{rendered}" + ("," if comma is not None else "")))
    return splices


def _trailing_comma(text: str, start: int, close: int) -> int | None:
    """Offset of the comma after a list's last item, if it has one.

    Only blanks, comments and that comma can stand between the last item
    and the closing bracket, in both dialects.
    """
    pos = start
    while pos < close:
        char = text[pos]
        if char == ",":
            return pos
        if char == "#":
            newline = text.find("\n", pos)
            pos = close if newline < 0 else newline
        pos += 1
    return None


def set_list_items(doc: Document, key: str, texts: list[str]) -> Document:
    """Give the string items of list ``key`` new texts, in place.

    Each changed item is rewritten where it stands, in its own quote style;
    everything else in the file, the list's layout included, stays. The
    list must keep its length (use :func:`set_value` otherwise).
    """
    setting = doc.settings.get(key)
    if setting is None or not isinstance(setting.value, ListValue) \
            or len(setting.value.items) != len(texts) \
            or not all(isinstance(i, Scalar) and not i.is_number
                       for i in setting.value.items):
        return set_value(doc, key, texts)
    splices = []
    for item, text in zip(setting.value.items, texts):
        if item.text == text:
            continue
        raw = doc.text[item.start:item.end]
        rendered = (format_xm(text) if doc.dialect is Dialect.XM
                    else quote(text, raw[0]))
        splices.append(_Splice(item.start, item.end, rendered))
    return _reparse(doc, _apply(doc.text, splices), f"editing {key}")
