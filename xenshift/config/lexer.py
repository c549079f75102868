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
from operator import itemgetter


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


class Token(tuple):
    """One token: kind, source offsets, 1-based line and column, and text.

    A tuple underneath: a config has dozens of tokens and a fleet thousands
    of configs, and tuples are several times cheaper to make than objects.
    """

    __slots__ = ()

    kind = property(itemgetter(0))
    start = property(itemgetter(1))
    end = property(itemgetter(2))
    line = property(itemgetter(3))
    column = property(itemgetter(4))
    text = property(itemgetter(5))

    def __repr__(self) -> str:
        return f"Token({self.kind.name}, {self.text!r}, {self.line}:{self.column})"


def make_token(kind: Kind, start: int, end: int, line: int, column: int,
               text: str) -> Token:
    """A token from its fields."""
    return tuple.__new__(Token, (kind, start, end, line, column, text))


# Blanks are folded into the following token's match, so the scanner
# stops once per token. Groups, in order, give the token kinds of _KINDS;
# each alternative starts with a different character class, so order only
# matters where flex's longest match would decide (``+=`` before ``+``).
_TOKEN_RE = re.compile(r"""[ \t]*(?:
    (\n)
  | (\#[^\n]*(?=\n))
  | ([a-z][._0-9a-z]*)
  | ([0-9][0-9a-fx]*)
  | ("(?:[^"\\\n\x00]|\\[^\n\x00])*"|'(?:[^'\\\n\x00]|\\[^\n\x00])*')
  | (\+=)
  | (=)
  | (;)
  | (\[)
  | (\])
  | (,)
  | (\#[^\n]*\Z)
  | ([^ \t\n][^ \t\n]*)
)""", re.VERBOSE)

_KINDS = (None, Kind.NEWLINE, Kind.COMMENT, Kind.IDENT, Kind.NUMBER,
          Kind.STRING, Kind.APPEND, Kind.ASSIGN, Kind.SEMI, Kind.LBRACKET,
          Kind.RBRACKET, Kind.COMMA, Kind.ERROR, Kind.ERROR)

# Characters whose presence means the file was probably written for xm,
# which evaluated configs as Python (libxlu's "likely_python" set).
PYTHON_CHARS = frozenset("+-.():")


def tokenize(text: str) -> list[Token]:
    """Split ``text`` into tokens, ending with an EOF token.

    Never fails: malformed input becomes ERROR tokens, which the parser turns
    into located errors. Blanks at the very end of the text match nothing
    and are skipped.
    """
    tokens: list[Token] = []
    append = tokens.append
    new = tuple.__new__
    kinds = _KINDS
    newline = Kind.NEWLINE
    line = 1
    line_start = 0
    for m in _TOKEN_RE.finditer(text):
        group = m.lastindex
        start, end = m.span(group)
        kind = kinds[group]
        append(new(Token, (kind, start, end, line, start - line_start + 1,
                           m.group(group))))
        if kind is newline:
            line += 1
            line_start = end
    end = len(text)
    append(make_token(Kind.EOF, end, end, line, end - line_start + 1, ""))
    return tokens
