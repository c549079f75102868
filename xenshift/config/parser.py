"""The xl config parser: libxlu's grammar, with clearer errors and recovery.

Grammar (libxlu_cfg_y.y, Xen 4.17)::

    file       := stmt* [assignment]          # last newline is optional
    stmt       := assignment end | end
    end        := NEWLINE | ';'
    assignment := IDENT ('=' | '+=') value
    value      := STRING | NUMBER | '[' NL* [items] ']'
    items      := value NL* (',' NL* value NL*)* [',' NL*]

A statement is rejected at the first token that cannot continue it, the same
token libxlu's LALR parser stops at, so the first error of a file is on the
line libxlu names. Unlike libxlu, parsing resumes at the next statement and
every error is reported, each with a column and a message that says what to
write instead.
"""

from __future__ import annotations

from dataclasses import dataclass

from xenshift.config.lexer import PYTHON_CHARS, Kind, Token, tokenize
from xenshift.config.strings import unquote
from xenshift.config.syntax import Assignment, ListValue, Op, Scalar, Value
from xenshift.errors import ConfigSyntaxError, Location, excerpt
from xenshift.limits import MAX_TOKEN_LENGTH, nesting_problem, token_problem

_VALUE_START = (Kind.STRING, Kind.NUMBER, Kind.LBRACKET)


class _Abort(Exception):
    """Raised inside a statement at the first token that cannot continue it."""

    def __init__(self, token: Token, message: str, depth: int,
                 at: tuple[int, int] | None = None):
        super().__init__(message)
        self.token = token        # where the grammar breaks
        self.message = message
        self.depth = depth
        self.at = at              # (line, column) to show, if not the token


def _describe(tok: Token) -> str:
    if tok.kind is Kind.NEWLINE:
        return "the end of the line"
    if tok.kind is Kind.EOF:
        return "the end of the file"
    return f"'{excerpt(tok.text)}'"


class _Parser:
    """One parse of one text; collects statements and errors."""

    def __init__(self, text: str, path: str | None):
        self.text = text
        self.path = path
        self.all_tokens = tokenize(text)
        skipped = (Kind.COMMENT, Kind.ERROR)
        self.tokens = [t for t in self.all_tokens if t[0] not in skipped]
        self.pos = 0
        self.statements: list[Assignment] = []
        self.errors: list[ConfigSyntaxError] = []
        # (offset, line) of each lexical error, in order.
        self.lexical_errors: list[tuple[int, int]] = []
        self.likely_python = False
        self.ignored: list[ConfigSyntaxError] = []
        self.string_values: dict[int, str] = {}

    # -- errors -----------------------------------------------------------

    def _error(self, line: int, column: int, message: str,
               xl_line: int | None = None) -> None:
        self.errors.append(ConfigSyntaxError(
            message, Location(self.path, line, column), xl_line))

    def _lexical_errors(self) -> None:
        previous: Token | None = None
        for tok in self.all_tokens:
            kind = tok[0]
            if tok[2] - tok[1] > MAX_TOKEN_LENGTH:
                self.lexical_errors.append((tok.start, tok.line))
                self._error(tok.line, tok.column,
                            token_problem(tok.end - tok.start, "a token"))
            if kind is not Kind.ERROR and kind is not Kind.STRING:
                previous = tok
                continue
            if kind is Kind.ERROR and tok.end == len(self.text) \
                    and len(tok.text.encode("utf-8", "surrogateescape")) == 1:
                # libxlu's scanner reports a bad byte only once it has read
                # past it; a single one ending the file is never reported,
                # so xl accepts the file.
                self.ignored.append(ConfigSyntaxError(
                    f"xl ignores the stray {tok.text!r} that ends the file",
                    Location(self.path, tok.line, tok.column)))
            elif tok.kind is Kind.ERROR:
                self.lexical_errors.append((tok.start, tok.line))
                self._error(tok.line, tok.column,
                            self._lexical_message(tok, previous))
            elif tok.kind is Kind.STRING:
                self.string_values[tok.start], problem = unquote(tok.text)
                if problem is not None:
                    self.lexical_errors.append((tok.start, tok.line))
                    self._error(tok.line, tok.column + problem.offset,
                                problem.message)
            previous = tok

    def _lexical_message(self, tok: Token, previous: Token | None) -> str:
        text = tok.text
        first = text[0]
        if first in PYTHON_CHARS:
            self.likely_python = True
        adjacent = previous is not None and previous.end == tok.start
        if first == "#":
            return ("the comment at the end of the file has no newline after "
                    "it, which xl rejects: end the file with a newline")
        if first == "\r":
            return ("carriage return: xl accepts only Unix line ends "
                    "(convert the file with dos2unix)")
        if first == "\0":
            return "NUL byte in the config"
        if first in "\"'":
            if text.startswith(first * 3):
                return ("triple-quoted strings are Python (xm) syntax; xl "
                        "strings are quoted on one line")
            return (f"string opened with {first} is not closed on this line "
                    "(xl strings cannot span lines)")
        if first == "-" and len(text) > 1 and text[1].isdigit():
            return f"xl numbers have no sign: {excerpt(text)} cannot be written"
        if first == "." and adjacent and previous.kind is Kind.NUMBER:
            return (f"xl numbers are whole: {excerpt(previous.text)}{excerpt(text)} has a "
                    "fraction")
        if first == "+":
            return ("'+' is Python (xm) syntax: xl has no expressions; "
                    "use 'key += value' to append")
        if first == "(":
            return ("parentheses are Python (xm) syntax: xl lists are "
                    "written [a, b]")
        if first in PYTHON_CHARS:
            return f"'{first}' is Python (xm) syntax, not xl: {excerpt(text)}"
        word = text.split("=", 1)[0]
        if word in ("True", "False", "None"):
            return (f"{excerpt(word)} is Python (xm) syntax: xl booleans are the "
                    "numbers 1 and 0")
        if first.isalpha() and first.isascii():
            if "=" in text:
                return (f"'{excerpt(word)}': keys must be lower case in xl "
                        f"(write '{excerpt(word.lower())}')")
            return (f"unquoted word '{excerpt(word)}': xl values are \"strings\", "
                    "numbers or [lists]")
        if first == "_":
            return f"'{excerpt(word)}': keys must start with a lower-case letter"
        return f"unexpected character {first!r} in '{excerpt(text)}'"

    # -- grammar ----------------------------------------------------------

    def parse(self) -> None:
        self._lexical_errors()
        tokens = self.tokens
        while True:
            tok = tokens[self.pos]
            kind = tok.kind
            if kind is Kind.EOF:
                break
            if kind is Kind.NEWLINE or kind is Kind.SEMI:
                self.pos += 1
                continue
            try:
                self._statement()
            except _Abort as abort:
                self._report(abort)
                self._recover(abort.depth)
        self.errors.sort(key=lambda e: (e.location.line, e.location.column))

    def _statement(self) -> None:
        # Tokens are tuples; unpacking them is the cheap way to read fields
        # on this path, which runs for every statement of every config.
        tokens = self.tokens
        key = tokens[self.pos]
        key_kind, key_start, _, key_line, key_column, key_text = key
        if key_kind is not Kind.IDENT:
            if key.kind is Kind.ASSIGN or key.kind is Kind.APPEND:
                raise _Abort(key, f"missing key name before '{excerpt(key.text)}'", 0)
            raise _Abort(key, "expected a key name at the start of a "
                              f"statement, found {_describe(key)}", 0)
        op_tok = tokens[self.pos + 1]
        op_kind = op_tok[0]
        if op_kind is Kind.ASSIGN:
            op = Op.ASSIGN
        elif op_kind is Kind.APPEND:
            op = Op.APPEND
        else:
            raise _Abort(op_tok, f"expected '=' or '+=' after key "
                                 f"'{excerpt(key_text)}', found {_describe(op_tok)}", 0)
        self.pos += 2
        value = self._value(0)
        end = tokens[self.pos]
        end_kind = end[0]
        if not (end_kind is Kind.NEWLINE or end_kind is Kind.SEMI
                or end_kind is Kind.EOF):
            if end_kind in _VALUE_START or end_kind is Kind.IDENT:
                raise _Abort(end, f"a second value {_describe(end)} after the "
                                  f"value of '{excerpt(key_text)}': put lists in "
                                  "[ ] with commas, and one statement per "
                                  "line or separated by ';'", 0)
            raise _Abort(end, f"expected the end of the line or ';' after the "
                              f"value of '{excerpt(key_text)}', found {_describe(end)}",
                         0)
        self.statements.append(Assignment(
            key_text, op, value, key_start, value.end, key_line, key_column))

    def _value(self, depth: int) -> Value:
        """The value at the current token, nested lists included.

        Iterative, with the open lists on a stack of their own: xl reads
        lists nested thousands deep, far beyond Python's recursion limit.
        """
        tokens = self.tokens
        # (opening '[', items so far) of each list still open.
        open_lists: list[tuple[Token, list[Value]]] = []
        while True:
            value = self._item(depth + len(open_lists), open_lists)
            if value is None:
                continue
            while open_lists:
                open_tok, items = open_lists[-1]
                items.append(value)
                self._skip_newlines()
                sep = tokens[self.pos]
                if sep[0] is Kind.COMMA:
                    self.pos += 1
                    self._skip_newlines()
                elif sep.kind is not Kind.RBRACKET:
                    self._bad_separator(sep, open_tok, depth + len(open_lists))
                value = self._close(open_lists, depth)
                if value is None:
                    break
            else:
                return value

    def _item(self, depth: int,
              open_lists: list[tuple[Token, list[Value]]]) -> Value | None:
        """A scalar or an empty list; None after opening a list with items."""
        tok = self.tokens[self.pos]
        kind, start, end, line, column, text = tok
        if kind is Kind.STRING:
            self.pos += 1
            return Scalar(self.string_values[start], False, start, end, line,
                          column)
        if kind is Kind.NUMBER:
            self.pos += 1
            return Scalar(text, True, start, end, line, column)
        if kind is Kind.LBRACKET:
            too_deep = nesting_problem(depth + 1)
            if too_deep is not None:
                raise _Abort(tok, too_deep, depth)
            self.pos += 1
            open_lists.append((tok, []))
            self._skip_newlines()
            return self._close(open_lists, depth - len(open_lists) + 1)
        if kind is Kind.IDENT and depth > 0 and self.tokens[self.pos + 1].kind \
                in (Kind.ASSIGN, Kind.APPEND):
            raise _Abort(tok, f"a list is not closed with ']' before the next "
                              f"setting '{excerpt(tok.text)}'", depth)
        if kind is Kind.IDENT:
            raise _Abort(tok, f"unquoted word '{excerpt(tok.text)}': xl values are "
                              f"\"strings\", numbers or [lists] "
                              f"(write \"{excerpt(tok.text)}\")", depth)
        if kind is Kind.COMMA:
            raise _Abort(tok, "empty list item: a ',' needs a value before "
                              "it", depth)
        raise _Abort(tok, f"expected a value (a \"string\", a number or a "
                          f"[list]), found {_describe(tok)}", depth)

    def _close(self, open_lists: list[tuple[Token, list[Value]]],
               base: int) -> ListValue | None:
        """The innermost open list if the current token closes it, else None.

        ``base`` is the depth outside the outermost open list.
        """
        tok = self.tokens[self.pos]
        open_tok, items = open_lists[-1]
        if tok[0] is Kind.EOF:
            raise self._unclosed(open_tok, base + len(open_lists))
        if tok[0] is not Kind.RBRACKET:
            return None
        open_lists.pop()
        self.pos += 1
        return ListValue(items, open_tok.start, tok.end, open_tok.line,
                         open_tok.column)

    def _bad_separator(self, sep: Token, open_tok: Token, depth: int) -> None:
        if sep.kind is Kind.EOF:
            raise self._unclosed(open_tok, depth)
        if sep.kind in _VALUE_START or sep.kind is Kind.IDENT:
            raise _Abort(sep, f"missing ',' before {_describe(sep)} "
                              "in a list", depth)
        raise _Abort(sep, f"expected ',' or ']' in a list, found "
                          f"{_describe(sep)}", depth)

    def _skip_newlines(self) -> None:
        tokens = self.tokens
        while tokens[self.pos][0] is Kind.NEWLINE:
            self.pos += 1

    def _unclosed(self, open_tok: Token, depth: int) -> _Abort:
        # Point after the last thing in the list, where ']' is missing and
        # where libxlu points too, rather than at the end of the file.
        back = self.pos - 1
        while self.tokens[back].kind is Kind.NEWLINE and \
                self.tokens[back] is not open_tok:
            back -= 1
        last = self.tokens[back]
        return _Abort(self.tokens[self.pos],
                      f"missing ']': the list opened at line {open_tok.line} "
                      f"column {open_tok.column} is never closed", depth,
                      at=(last.line, last.column + len(last.text)))

    # -- recovery ---------------------------------------------------------

    def _report(self, abort: _Abort) -> None:
        tok = abort.token
        # The line libxlu's parser gives the token: a newline counts on its
        # own line; end-of-file has no location of its own and keeps the
        # previous token's.
        if tok.kind is Kind.EOF and len(self.tokens) > 1:
            first_line = self.tokens[-2].line
        else:
            first_line = tok.line
        # libxlu stays silent about a syntax error on or before the line of
        # a lexical error met earlier; those are its consequences.
        if any(start < tok.start and line >= first_line
               for start, line in self.lexical_errors):
            return
        # libxlu also counts a token that ends in a newline one line early.
        xl_line = first_line - 1 if tok.kind is Kind.NEWLINE else first_line
        line, column = tok.line, tok.column
        if abort.at is not None:
            line, column = abort.at
        elif tok.kind is Kind.NEWLINE:
            comment = self._comment_before(tok)
            if comment is not None:
                column = comment.column
        self._error(line, column, abort.message, xl_line)

    def _comment_before(self, newline: Token) -> Token | None:
        for tok in reversed(self.all_tokens):
            if tok.end == newline.start and tok.kind is Kind.COMMENT:
                return tok
            if tok.start < newline.start:
                return None
        return None

    def _recover(self, depth: int) -> None:
        """Skip to the start of the next statement.

        Inside an unclosed list, a line that starts like a statement
        (``key =``) ends the skip, so a missing ']' costs one error.
        """
        tokens = self.tokens
        pos = self.pos
        while True:
            tok = tokens[pos]
            kind = tok.kind
            if kind is Kind.EOF:
                break
            if kind is Kind.LBRACKET:
                depth += 1
            elif kind is Kind.RBRACKET:
                depth = max(0, depth - 1)
            elif kind is Kind.NEWLINE:
                if depth == 0:
                    pos += 1
                    break
                nxt, after = tokens[pos + 1], tokens[pos + 2] if pos + 2 < len(tokens) else tokens[-1]
                if nxt.kind is Kind.IDENT and after.kind in (Kind.ASSIGN, Kind.APPEND):
                    pos += 1
                    break
            pos += 1
        self.pos = pos


@dataclass
class ParseResult:
    """Statements and errors (sorted by position) of one xl text.

    ``ignored`` holds text xl accepts but drops without a word, for the
    linter; ``likely_python`` is libxlu's hint that the file is xm.
    """

    statements: list[Assignment]
    errors: list[ConfigSyntaxError]
    ignored: list[ConfigSyntaxError]
    likely_python: bool


def parse_tokens(text: str, path: str | None = None) -> ParseResult:
    """Parse xl text into statements and located errors."""
    parser = _Parser(text, path)
    parser.parse()
    return ParseResult(parser.statements, parser.errors, parser.ignored,
                       parser.likely_python)
