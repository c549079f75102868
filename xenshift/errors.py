"""The project's exception hierarchy.

Every error carries where it happened (file, line, column, or a device) so
that the command-line layer can print ``FILE:LINE:COL: message`` and choose an
exit code without knowing which layer raised it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Location:
    """A place in an input: a file with an optional 1-based line and column.

    ``file`` may also name a device or another non-file source; the text
    form is always ``FILE[:LINE[:COL]]``.
    """

    file: str | None = None
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        parts = [self.file or "<input>"]
        if self.line is not None:
            parts.append(str(self.line))
            if self.column is not None:
                parts.append(str(self.column))
        return ":".join(parts)


class XenshiftError(Exception):
    """Base of every error xenshift raises on purpose.

    The CLI prints ``str(error)`` and exits with ``exit_code``; anything not
    derived from this class is a bug and is shown with its traceback.
    """

    exit_code = 1

    def __init__(self, message: str, location: Location | None = None):
        super().__init__(message)
        self.message = message
        self.location = location

    def __str__(self) -> str:
        if self.location is None:
            return self.message
        return f"{self.location}: {self.message}"


class ConfigError(XenshiftError):
    """One problem in a domain configuration, at a known place."""


class ConfigSyntaxError(ConfigError):
    """Text that Xen's config parser (libxlu) would reject.

    ``xl_line`` is the line libxlu itself names for the same mistake. It
    differs from ``location.line`` only where libxlu miscounts: an error
    found at a line end (a newline or a comment token) is reported by libxlu
    one line early.
    """

    def __init__(self, message: str, location: Location | None = None,
                 xl_line: int | None = None):
        super().__init__(message, location)
        self.xl_line = xl_line if xl_line is not None else (
            location.line if location else None)


class SpecError(ConfigError):
    """A malformed device specification (disk, vif, pci, ...).

    ``spec`` is the kind of device and ``item`` the offending part of the
    specification string, so the message can name both.
    """

    def __init__(self, message: str, location: Location | None = None,
                 spec: str | None = None, item: str | None = None):
        super().__init__(message, location)
        self.spec = spec
        self.item = item


class ConfigErrors(XenshiftError):
    """All the errors found in one input, reported together."""

    def __init__(self, errors: list[ConfigError]):
        if not errors:
            raise ValueError("ConfigErrors needs at least one error")
        super().__init__(errors[0].message, errors[0].location)
        self.errors = list(errors)

    def __str__(self) -> str:
        return "\n".join(str(e) for e in self.errors)


class InputError(XenshiftError):
    """An input that cannot be used at all: missing, unreadable, wrong kind."""


def printable(text: str) -> str:
    """``text`` with every unprintable character written as an escape.

    Inputs may be binary or hostile: a message must not send control
    characters (or undecodable bytes) to the user's terminal.
    """
    return "".join(c if c.isprintable() else ascii(c)[1:-1] for c in text)


def excerpt(text: str, limit: int = 40) -> str:
    """``text`` for a message: escaped as :func:`printable`, cut if long."""
    shown = printable(text[:limit])
    if len(text) > limit:
        shown += f"... ({len(text)} characters)"
    return shown
