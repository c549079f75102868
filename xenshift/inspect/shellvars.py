"""Shell-style ``KEY=value`` files: /etc/default/grub, sysconfig, ifcfg, os-release.

Guests keep much of their configuration as shell variable assignments. We
read them without running a shell: quotes are removed as the shell would,
``$(...)`` and backticks are kept as text, ``KEY+=value`` appends (dracut).
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

_ASSIGN = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)(\+?=)(.*)$")


@dataclass(frozen=True)
class ShellVar:
    """One assignment: ``line`` is 1-based; ``append`` for ``+=``."""

    name: str
    value: str
    line: int
    append: bool = False


def unquote(text: str) -> str:
    """The value of a shell word list, quotes removed, a trailing comment dropped."""
    try:
        return " ".join(shlex.split(text, comments=True))
    except ValueError:  # unbalanced quotes: keep what is there
        return text.strip()


def parse_shell_vars(text: str) -> list[ShellVar]:
    """Every assignment in ``text``, in order."""
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        match = _ASSIGN.match(line)
        if match:
            name, op, rest = match.groups()
            found.append(ShellVar(name, unquote(rest), number, op == "+="))
    return found


def shell_values(text: str) -> dict[str, str]:
    """The final value of each variable, as a shell sourcing ``text`` sees it."""
    values: dict[str, str] = {}
    for var in parse_shell_vars(text):
        values[var.name] = values.get(var.name, "") + var.value if var.append else var.value
    return values
