"""Read-only access to a guest's files, from a disk or from a directory tree.

Every fact gatherer reads the guest through :class:`GuestFiles`, so the same
code inspects a libguestfs-mounted disk (``session.GuestfsFiles``) and a
plain directory holding a guest's ``/`` (:class:`TreeFiles`), which is what
the synthetic SUSE trees and rewrite tests use. Paths are absolute guest
paths; symlinks resolve inside the guest, never on the host.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol

# Linux's own limit on symlinks followed while resolving one path.
_MAX_LINKS = 40


class GuestFiles(Protocol):
    """The read-only file operations inspection needs."""

    def is_file(self, path: str) -> bool:
        """Whether ``path`` is a regular file (following symlinks)."""

    def is_dir(self, path: str) -> bool:
        """Whether ``path`` is a directory (following symlinks)."""

    def listdir(self, path: str) -> list[str]:
        """Names in directory ``path``, sorted; empty if it is not one."""

    def readlink(self, path: str) -> str | None:
        """The target of symlink ``path``, or None if it is not a symlink."""

    def read_bytes(self, path: str) -> bytes:
        """The whole content of file ``path``."""


def read_text(files: GuestFiles, path: str) -> str | None:
    """File ``path`` as text (undecodable bytes replaced), None if absent."""
    if not files.is_file(path):
        return None
    return files.read_bytes(path).decode("utf-8", errors="replace")


def find_program(files: GuestFiles, name: str) -> str | None:
    """Where the guest has program ``name`` in a standard binary directory."""
    for directory in ("/usr/sbin", "/usr/bin", "/sbin", "/bin"):
        if files.is_file(f"{directory}/{name}"):
            return f"{directory}/{name}"
    return None


class TreeFiles:
    """A guest's ``/`` laid out in a host directory."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    def _host(self, path: str, follow_last: bool = True) -> Path:
        """The host path of guest ``path``, resolving links within the tree."""
        pending = [p for p in path.split("/") if p]
        parts: list[str] = []
        links = 0
        while pending:
            name = pending.pop(0)
            if name == ".":
                continue
            if name == "..":
                if parts:
                    parts.pop()
                continue
            host = self.root.joinpath(*parts, name)
            if host.is_symlink() and (pending or follow_last):
                links += 1
                if links > _MAX_LINKS:
                    break
                target = os.readlink(host)
                if target.startswith("/"):
                    parts = []
                pending = [p for p in target.split("/") if p] + pending
                continue
            parts.append(name)
        return self.root.joinpath(*parts)

    def is_file(self, path: str) -> bool:
        """Whether ``path`` is a regular file (following symlinks)."""
        return self._host(path).is_file()

    def is_dir(self, path: str) -> bool:
        """Whether ``path`` is a directory (following symlinks)."""
        return self._host(path).is_dir()

    def listdir(self, path: str) -> list[str]:
        """Names in directory ``path``, sorted; empty if it is not one."""
        host = self._host(path)
        return sorted(os.listdir(host)) if host.is_dir() else []

    def readlink(self, path: str) -> str | None:
        """The target of symlink ``path``, or None if it is not a symlink."""
        host = self._host(path, follow_last=False)
        return os.readlink(host) if host.is_symlink() else None

    def read_bytes(self, path: str) -> bytes:
        """The whole content of file ``path``."""
        return self._host(path).read_bytes()
