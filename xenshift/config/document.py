"""A domain config file as read: its text, statements, settings and errors.

The file's text is kept verbatim, so writing a document gives back the same
bytes, and every statement knows the span it occupies, so an edit replaces
only that span (see :mod:`xenshift.config.edit`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from enum import Enum

from xenshift.config.parser import parse_tokens
from xenshift.config.settings import Settings, evaluate
from xenshift.config.syntax import Assignment
from xenshift.config.xm import PythonIsm, parse_xm
from xenshift.errors import ConfigErrors, ConfigSyntaxError
from xenshift.inputs import read_input

ENCODING = "utf-8"
# Undecodable bytes survive a read-write cycle unchanged.
ERRORS = "surrogateescape"


class Dialect(Enum):
    """Which tool the file was written for."""

    XL = "xl"
    XM = "xm"


@dataclass
class Document:
    """One config file: the source of truth for its bytes and its values."""

    path: str | None
    text: str
    dialect: Dialect
    statements: list[Assignment]
    settings: Settings
    errors: list[ConfigSyntaxError] = field(default_factory=list)
    pythonisms: list[PythonIsm] = field(default_factory=list)
    skipped: list[PythonIsm] = field(default_factory=list)
    xl_errors: list[ConfigSyntaxError] = field(default_factory=list)
    ignored: list[ConfigSyntaxError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the file could be read without errors."""
        return not self.errors

    def check(self) -> "Document":
        """Raise :class:`ConfigErrors` with every error, or return self."""
        if self.errors:
            raise ConfigErrors(list(self.errors))
        return self

    def to_bytes(self) -> bytes:
        """The file's bytes, exactly as read (or as edited)."""
        return self.text.encode(ENCODING, ERRORS)

    def statements_for(self, key: str) -> list[Assignment]:
        """Every statement that sets ``key``, in file order."""
        return [s for s in self.statements if s.key == key]


def parse_xl(text: str, path: str | None = None) -> Document:
    """Parse ``text`` strictly as an xl config (Xen's libxlu grammar)."""
    parsed = parse_tokens(text, path)
    settings, set_errors = evaluate(parsed.statements, path, text)
    errors = parsed.errors
    if set_errors:
        errors = sorted(errors + set_errors,
                        key=lambda e: (e.location.line, e.location.column))
    return Document(path, text, Dialect.XL, parsed.statements, settings,
                    errors, ignored=parsed.ignored)


def parse_config(text: str, path: str | None = None) -> Document:
    """Parse ``text`` as xl, or as a legacy xm (Python) config.

    A file is read as xm only when xl rejects it, Python accepts it, and it
    uses Python that an xl author would not write by accident (``True``,
    tuples, triple quotes, variables, expressions, statements). Otherwise
    the xl errors stand.
    """
    doc = parse_xl(text, path)
    if doc.ok:
        return doc
    xm = parse_xm(text)
    if xm is None or not xm.has_xm_evidence:
        return doc
    settings, set_errors = evaluate(xm.statements, path, text)
    return Document(path, text, Dialect.XM, xm.statements, settings,
                    set_errors, xm.pythonisms, xm.skipped, doc.errors)


def decode(data: bytes) -> str:
    """Bytes of a config file to text, reversibly."""
    return data.decode(ENCODING, ERRORS)


def load_config(path: str | os.PathLike) -> Document:
    """Read and parse the config file at ``path`` (errors stay on the doc)."""
    return parse_config(decode(read_input(path)), str(path))
