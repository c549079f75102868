"""Kernel command lines and where each one is written in the guest."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class KernelCmdline:
    """One kernel command line found in a guest file.

    ``origin`` says what carries it: a boot entry (``menuentry 'Debian'``,
    ``title SLES``) or a variable (``GRUB_CMDLINE_LINUX``, ``DEFAULT_APPEND``).
    """

    file: str
    line: int
    origin: str
    args: tuple[str, ...]

    def values(self, key: str) -> list[str]:
        """The values of every ``key=value`` argument, in order."""
        prefix = key + "="
        return [a[len(prefix):] for a in self.args if a.startswith(prefix)]

    @property
    def where(self) -> str:
        """``FILE:LINE``, for messages."""
        return f"{self.file}:{self.line}"


def split_cmdline(text: str) -> tuple[str, ...]:
    """Split a command line into arguments (the kernel splits on blanks)."""
    return tuple(text.split())
