"""Legacy xm configs: Python files that xend executed.

xm evaluated a domain config as Python, so old files carry ``True``,
tuples, triple-quoted strings, variables and string arithmetic. This reader
parses the file with Python's own parser and evaluates only literals and a
few safe operations (names bound earlier, ``+`` and ``%``); nothing in the
file is executed. Statements it cannot evaluate (``import``, calls, ``if``)
are skipped with a warning naming them.

Every construct xl would reject is recorded as a *Python-ism* with its
location, so the linter can say what to write instead.
"""

from __future__ import annotations

import ast
import warnings
from dataclasses import dataclass

from xenshift.config.syntax import (Assignment, ListValue, Op, Scalar, Value,
                                    concat_values)
from xenshift.errors import Location


@dataclass(frozen=True)
class PythonIsm:
    """A Python construct in an xm file that xl cannot read."""

    line: int
    column: int
    message: str
    # A negative number or a fraction is more likely a slip in an xl file
    # than a sign of xm, so those do not make a file xm.
    xm_evidence: bool = True


@dataclass
class XmParse:
    """Result of reading an xm file."""

    statements: list[Assignment]
    pythonisms: list[PythonIsm]
    skipped: list[PythonIsm]

    @property
    def has_xm_evidence(self) -> bool:
        """Whether the file uses Python an xl author would not write by slip."""
        return any(p.xm_evidence for p in self.pythonisms + self.skipped)


class _Unevaluable(Exception):
    def __init__(self, node: ast.AST, what: str, evidence: bool = True):
        super().__init__(what)
        self.node = node
        self.what = what
        # An unknown bare name is the classic xl slip (type=hvm), not xm.
        self.evidence = evidence


class _Offsets:
    """Maps Python's (line, UTF-8 byte column) to character offsets."""

    def __init__(self, text: str):
        self.lines = text.splitlines(keepends=True)
        self.starts = [0]
        for line in self.lines:
            self.starts.append(self.starts[-1] + len(line))

    def column(self, lineno: int, byte_col: int) -> int:
        """0-based character column of a byte column on a 1-based line."""
        line = self.lines[lineno - 1] if lineno - 1 < len(self.lines) else ""
        return len(line.encode("utf-8", "surrogateescape")[:byte_col]
                   .decode("utf-8", "surrogateescape"))

    def offset(self, lineno: int, byte_col: int) -> int:
        """Character offset into the text."""
        return self.starts[lineno - 1] + self.column(lineno, byte_col)


class _Evaluator:
    def __init__(self, text: str):
        self.text = text
        self.offsets = _Offsets(text)
        self.names: dict[str, Value] = {}
        self.pythonisms: list[PythonIsm] = []

    def bind(self, name: str, op: Op, value: Value) -> None:
        """Record a variable so later statements can refer to it."""
        previous = self.names.get(name)
        if op is Op.APPEND and previous is not None:
            joined = concat_values(previous, value)
            if joined is None:
                self.names.pop(name)
                return
            value = joined
        self.names[name] = value

    def _ism(self, node: ast.AST, message: str, evidence: bool = True) -> None:
        self.pythonisms.append(PythonIsm(
            node.lineno, self.offsets.column(node.lineno, node.col_offset) + 1,
            message, evidence))

    def _span(self, node: ast.expr) -> tuple[int, int, int, int]:
        start = self.offsets.offset(node.lineno, node.col_offset)
        end = self.offsets.offset(node.end_lineno, node.end_col_offset)
        return start, end, node.lineno, self.offsets.column(
            node.lineno, node.col_offset) + 1

    def _scalar(self, node: ast.expr, text: str, is_number: bool) -> Scalar:
        start, end, line, col = self._span(node)
        return Scalar(text, is_number, start, end, line, col)

    def value(self, node: ast.expr) -> Value:
        """Evaluate a config value expression, recording Python-isms."""
        if isinstance(node, ast.Constant):
            return self._constant(node)
        if isinstance(node, (ast.List, ast.Tuple)):
            if isinstance(node, ast.Tuple):
                self._ism(node, "tuples are Python: xl lists are written "
                                "[a, b]")
            items = [self.value(item) for item in node.elts]
            start, end, line, col = self._span(node)
            return ListValue(items, start, end, line, col)
        if isinstance(node, ast.Name):
            if node.id not in self.names:
                raise _Unevaluable(node, f"the undefined name '{node.id}'",
                                   evidence=False)
            self._ism(node, f"'{node.id}' refers to a Python variable: xl has "
                            "no variables; write the value itself")
            return self._relocated(self.names[node.id], node)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) \
                and isinstance(node.operand, ast.Constant) \
                and type(node.operand.value) is int:
            self._ism(node, "xl numbers have no sign", evidence=False)
            return self._scalar(node, str(-node.operand.value), True)
        if isinstance(node, ast.BinOp):
            return self._binop(node)
        raise _Unevaluable(node, f"a Python {type(node).__name__} expression")

    def _relocated(self, value: Value, node: ast.expr) -> Value:
        start, end, line, col = self._span(node)
        if isinstance(value, Scalar):
            return Scalar(value.text, value.is_number, start, end, line, col)
        return ListValue(value.items, start, end, line, col)

    def _constant(self, node: ast.Constant) -> Value:
        v = node.value
        if isinstance(v, bool):
            self._ism(node, f"{v} is Python: xl booleans are the numbers 1 "
                            "and 0")
            return self._scalar(node, "1" if v else "0", True)
        if isinstance(v, int):
            return self._scalar(node, str(v), True)
        if isinstance(v, float):
            self._ism(node, f"xl numbers are whole: {v!r} has a fraction",
                      evidence=False)
            return self._scalar(node, repr(v), False)
        if isinstance(v, str):
            source = self.text[self._span(node)[0]:self._span(node)[1]]
            if source.lstrip("rRbBuU").startswith(('"""', "'''")):
                self._ism(node, "triple-quoted strings are Python: xl "
                                "strings are quoted on one line")
            return self._scalar(node, v, False)
        raise _Unevaluable(node, f"the Python value {v!r}")

    def _binop(self, node: ast.BinOp) -> Value:
        left = self.value(node.left)
        right_node = node.right
        if isinstance(node.op, ast.Add):
            right = self.value(right_node)
            self._ism(node, "'+' is Python: xl has no expressions; write "
                            "the joined value")
            if isinstance(left, Scalar) and isinstance(right, Scalar) \
                    and left.is_number == right.is_number:
                text = (str(int(left.text) + int(right.text))
                        if left.is_number else left.text + right.text)
                return self._scalar(node, text, left.is_number)
            if isinstance(left, ListValue) and isinstance(right, ListValue):
                start, end, line, col = self._span(node)
                return ListValue(left.items + right.items, start, end, line,
                                 col)
        elif isinstance(node.op, ast.Mod) and isinstance(left, Scalar) \
                and not left.is_number:
            right = self.value(right_node)
            args = tuple(_python(item) for item in right.items) \
                if isinstance(right, ListValue) else (_python(right),)
            self._ism(node, "'%' formatting is Python: xl has no "
                            "expressions; write the formatted string")
            try:
                return self._scalar(node, left.text % args, False)
            except (TypeError, ValueError) as err:
                raise _Unevaluable(node, f"string formatting ({err})") from err
        raise _Unevaluable(node, "this Python operation")


def _python(value: Value) -> object:
    if isinstance(value, ListValue):
        return [_python(v) for v in value.items]
    return int(value.text) if value.is_number else value.text


def _statement_span(ev: _Evaluator, node: ast.stmt) -> tuple[int, int]:
    return (ev.offsets.offset(node.lineno, node.col_offset),
            ev.offsets.offset(node.end_lineno, node.end_col_offset))


def parse_xm(text: str) -> XmParse | None:
    """Read ``text`` as an xm config, or None if it is not valid Python."""
    try:
        # Python's warnings about odd escapes are not the user's business.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tree = ast.parse(text)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        # CPython's parser gives up on deep nesting with the last two.
        return None
    ev = _Evaluator(text)
    statements: list[Assignment] = []
    skipped: list[PythonIsm] = []
    for node in tree.body:
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue  # a docstring or a bare comment string
        target, op = _target(node)
        if target is None:
            skipped.append(PythonIsm(
                node.lineno, ev.offsets.column(node.lineno, node.col_offset) + 1,
                f"Python statement '{type(node).__name__.lower()}' is not "
                "a setting; xenshift skips it"))
            continue
        try:
            value = ev.value(node.value)
        except _Unevaluable as err:
            skipped.append(PythonIsm(
                err.node.lineno,
                ev.offsets.column(err.node.lineno, err.node.col_offset) + 1,
                f"'{target}' is computed with {err.what}, which xenshift "
                "does not run; the setting is left out", err.evidence))
            continue
        start, end = _statement_span(ev, node)
        statements.append(Assignment(
            target, op, value, start, end, node.lineno,
            ev.offsets.column(node.lineno, node.col_offset) + 1))
        ev.bind(target, op, value)
    return XmParse(statements, ev.pythonisms, skipped)


def _target(node: ast.stmt) -> tuple[str | None, Op]:
    if isinstance(node, ast.Assign) and len(node.targets) == 1 \
            and isinstance(node.targets[0], ast.Name):
        return node.targets[0].id, Op.ASSIGN
    if isinstance(node, ast.AugAssign) and isinstance(node.op, ast.Add) \
            and isinstance(node.target, ast.Name):
        return node.target.id, Op.APPEND
    return None, Op.ASSIGN


def location_of(path: str | None, ism: PythonIsm) -> Location:
    """The location of a Python-ism in ``path``."""
    return Location(path, ism.line, ism.column)
