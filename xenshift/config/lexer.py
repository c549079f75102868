"""The xl config lexer, token for token what libxlu's flex scanner does.

Keys are ``[a-z][._0-9a-z]*``, numbers ``[0-9][0-9a-fx]*`` (checked later),
strings are quoted on one line, ``#`` comments run to a newline that must be
there, and only space and tab are blanks. Anything else starts a lexical
error that, as in libxlu, swallows the rest of the word.

Spaces produce no token: a token's offsets into the source text are enough
to write the file back unchanged.
"""

from __future__ import annotations

import re
from enum import IntEnum


class Kind(IntEnum):
    """Token kinds. ERROR tokens are reported, then ignored by the parser."""

    IDENT = 1
    NUMBER = 2
    STRING = 3
    ASSIGN = 4      # =
    APPEND = 5      # +=
    SEMI = 6
    LBRACKET = 7
    RBRACKET = 8
    COMMA = 9
    NEWLINE = 10
    COMMENT = 11
    ERROR = 12
    EOF = 13


class Token:
    """One token: kind, source offsets and 1-based line and column."""

    __slots__ = ("kind", "start", "end", "line", "column", "text")

    def __init__(self, kind: Kind, start: int, end: int, line: int,
                 column: int, text: str):
        self.kind = kind
        self.start = start
        self.end = end
        self.line = line
        self.column = column
        self.text = text

    def __repr__(self) -> str:
        return f"Token({self.kind.name}, {self.text!r}, {self.line}:{self.column})"


_PUNCT = {"=": Kind.ASSIGN, ";": Kind.SEMI, "[": Kind.LBRACKET,
          "]": Kind.RBRACKET, ",": Kind.COMMA}

# Alternatives are tried in order; each starts with a different character
# class, so order only matters where flex's longest match would decide
# (``+=`` before the Python-ish ``+``).
_TOKEN_RE = re.compile(r"""
    (?P<space>[ \t]+)
  | (?P<newline>\n)
  | (?P<comment>\#[^\n]*(?=\n))
  | (?P<ident>[a-z][._0-9a-z]*)
  | (?P<number>[0-9][0-9a-fx]*)
  | (?P<string>"(?:[^"\\\n\x00]|\\[^\n\x00])*"|'(?:[^'\\\n\x00]|\\[^\n\x00])*')
  | (?P<append>\+=)
  | (?P<punct>[=;\[\],])
  | (?P<eofcomment>\#[^\n]*\Z)
  | (?P<error>[^ \t\n][^ \t\n]*)
""", re.VERBOSE)

_KINDS = {"ident": Kind.IDENT, "number": Kind.NUMBER, "string": Kind.STRING,
          "append": Kind.APPEND, "newline": Kind.NEWLINE,
          "comment": Kind.COMMENT, "eofcomment": Kind.ERROR,
          "error": Kind.ERROR}

# Characters whose presence means the file was probably written for xm,
# which evaluated configs as Python (libxlu's "likely_python" set).
PYTHON_CHARS = frozenset("+-.():")


def tokenize(text: str) -> list[Token]:
    """Split ``text`` into tokens, ending with an EOF token.

    Never fails: malformed input becomes ERROR tokens, which the parser turns
    into located errors.
    """
    tokens: list[Token] = []
    append = tokens.append
    line = 1
    line_start = 0
    for m in _TOKEN_RE.finditer(text):
        group = m.lastgroup
        if group == "space":
            continue
        start = m.start()
        if group == "punct":
            kind = _PUNCT[m.group()]
        else:
            kind = _KINDS[group]
        append(Token(kind, start, m.end(), line, start - line_start + 1,
                     m.group()))
        if kind is Kind.NEWLINE:
            line += 1
            line_start = start + 1
    end = len(text)
    append(Token(Kind.EOF, end, end, line, end - line_start + 1, ""))
    return tokens
