"""The guest's files as the planners change them, line by line.

Planners never build whole files: they replace a line, append lines,
create a file or set a shell variable, each with a reason, and the draft
keeps the original text so the plan can show every file's before and
after. Lines are only replaced or appended, never inserted or deleted, so
the line numbers the facts give stay right for every planner.
"""

from __future__ import annotations

import re

from xenshift.convert.guest.plan import FileEdit, LineChange, LinkEdit
from xenshift.inspect.shellvars import parse_shell_vars, shell_values
from xenshift.inspect.texts import GuestTexts


def replace_word(line: str, old: str, new: str) -> str:
    """``line`` with each whole word ``old`` replaced by ``new``.

    A word here is delimited by blanks, quotes, ``=`` or the line's ends, so
    ``/dev/xvda1`` matches in ``root=/dev/xvda1`` and ``"/dev/xvda1 "`` but
    not in ``/dev/xvda10``. An empty ``new`` removes the word and one blank
    next to it.
    """
    pattern = r"(?<![^\s\"'=])" + re.escape(old) + r"(?![^\s\"',])"
    if new:
        return re.sub(pattern, lambda _: new, line)
    line = re.sub(r"[ \t]" + pattern, "", line)
    return re.sub(pattern + r"[ \t]?", "", line)


def shell_assignment(name: str, value: str) -> str:
    """``NAME="value"`` as a shell file writes it."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$")
    return f'{name}="{escaped}"'


class Draft:
    """Working copies of the guest's text files and links, with their history."""

    def __init__(self, texts: GuestTexts):
        self._original = dict(texts.texts)
        self._lines: dict[str, list[str]] = {}
        self._changes: dict[str, list[LineChange]] = {}
        self._links_before = dict(texts.links)
        self._links: dict[str, str | None] = dict(texts.links)
        self._link_reasons: dict[str, tuple[str, str]] = {}

    # -- reading ------------------------------------------------------------

    def text(self, path: str) -> str | None:
        """The current content of ``path`` (None: no such file)."""
        if path in self._lines:
            return "".join(self._lines[path])
        return self._original.get(path)

    def line(self, path: str, number: int) -> str:
        """Line ``number`` (1-based) of ``path``, without its line ending."""
        return self._current(path)[number - 1].rstrip("\r\n")

    def var(self, path: str, name: str) -> str | None:
        """The current value of shell variable ``name`` in ``path``."""
        return shell_values(self.text(path) or "").get(name)

    def link(self, path: str) -> str | None:
        """The target of symlink ``path`` (None: no such link)."""
        return self._links.get(path)

    def _current(self, path: str) -> list[str]:
        if path not in self._lines:
            self._lines[path] = (self._original.get(path) or "").splitlines(keepends=True)
        return self._lines[path]

    # -- changing -----------------------------------------------------------

    def replace_line(self, concern: str, path: str, number: int, new: str,
                     reason: str) -> None:
        """Replace line ``number`` of ``path`` by ``new`` (same line ending)."""
        lines = self._current(path)
        old = lines[number - 1]
        body = old.rstrip("\r\n")
        if new == body:
            return
        lines[number - 1] = new + old[len(body):]
        self._record(path, LineChange(concern, number, body, new, reason))

    def append_lines(self, concern: str, path: str, new: list[str], reason: str) -> None:
        """Add ``new`` lines at the end of ``path`` (created if absent)."""
        lines = self._current(path)
        if lines and not lines[-1].endswith("\n"):
            lines[-1] += "\n"
        for text in new:
            lines.append(text + "\n")
            self._record(path, LineChange(concern, len(lines), None, text, reason))

    def create(self, concern: str, path: str, text: str, reason: str) -> None:
        """Write a new file ``path`` holding ``text``."""
        if self.text(path) is not None:
            raise ValueError(f"{path} exists in the guest; edit it instead")
        self._lines[path] = text.splitlines(keepends=True) or [""]
        self._record(path, LineChange(concern, None, None, text, reason))

    def comment_out(self, concern: str, path: str, number: int, reason: str) -> None:
        """Disable line ``number`` of a shell-style file, keeping it for reference."""
        self.replace_line(concern, path, number,
                          f"# {self.line(path, number)}  # disabled by xenshift", reason)

    def set_var(self, concern: str, path: str, name: str, value: str, reason: str) -> None:
        """Set shell variable ``name`` in ``path``: its last assignment, or a new line."""
        assignment = shell_assignment(name, value)
        found = [v for v in parse_shell_vars(self.text(path) or "") if v.name == name]
        if found:
            self.replace_line(concern, path, found[-1].line, assignment, reason)
        else:
            self.append_lines(concern, path, [assignment], reason)

    def set_link(self, concern: str, path: str, target: str | None, reason: str) -> None:
        """Point symlink ``path`` at ``target``, or remove it (``target`` None)."""
        if self._links.get(path) == target:
            return
        self._links[path] = target
        self._link_reasons[path] = (concern, reason)

    def _record(self, path: str, change: LineChange) -> None:
        self._changes.setdefault(path, []).append(change)

    # -- result -------------------------------------------------------------

    def file_edits(self) -> tuple[FileEdit, ...]:
        """One edit per changed file, in path order."""
        edits = []
        for path in sorted(self._changes):
            after = self.text(path)
            before = self._original.get(path)
            if after != before:
                edits.append(FileEdit(path, before, after, tuple(self._changes[path])))
        return tuple(edits)

    def link_edits(self) -> tuple[LinkEdit, ...]:
        """One edit per changed symlink (original to final), in path order."""
        edits = []
        for path, (concern, reason) in sorted(self._link_reasons.items()):
            before, after = self._links_before.get(path), self._links.get(path)
            if before != after:
                edits.append(LinkEdit(concern, path, before, after, reason))
        return tuple(edits)
