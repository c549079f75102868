"""What every part of the xen backend shares: the open libxenctrl handles,
domain info, and the xl/xenstore commands (``Toolstack``).

The backend, its source domains and its destination import this module
and not each other.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from typing import Any, BinaryIO

from xenshift.migrate.errors import BackendError, DomainNotFoundError

PROT_READ = 1


@dataclass(frozen=True)
class Handles:
    """Open libxenctrl and libxenforeignmemory handles plus the binding."""

    ffi: Any
    lib: Any
    xch: Any
    fmem: Any


def dominfo(h: Handles, domid: int):
    """``struct xs_xen_dominfo`` of domain ``domid``, or DomainNotFoundError."""
    info = h.ffi.new("struct xs_xen_dominfo[1]")
    if h.lib.xs_xen_dominfo(h.xch, domid, info, 1) != 1 or info[0].domid != domid:
        raise DomainNotFoundError(f"no Xen domain with id {domid}")
    return info[0]


class Toolstack:
    """The xl and xenstore commands the backend needs besides libxenctrl.

    xenstore writes go through libxenstore in the binding (``lib``): the
    suspend request is one, and a process started for it would be part of
    the guest's downtime.
    """

    def __init__(self, ffi: Any, lib: Any):
        self._ffi, self._lib = ffi, lib

    def run(self, *args: str) -> str:
        """``xl ARGS``' output, or BackendError."""
        return self._command("xl", *args)

    def _command(self, *argv: str) -> str:
        try:
            out = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as err:
            raise BackendError(f"{' '.join(argv)}: {err}") from None
        if out.returncode:
            raise BackendError(f"{' '.join(argv)}: {out.stderr.strip()}")
        return out.stdout

    def migrate_receive(self, log: BinaryIO) -> subprocess.Popen:
        """``xl migrate-receive -p``: builds a domain, paused, from the xl
        stream on its stdin, speaking xl's handshake on its stdout; its
        messages go to ``log``."""
        try:
            return subprocess.Popen(["xl", "migrate-receive", "-p"], stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE, stderr=log, bufsize=0)
        except OSError as err:
            raise BackendError(f"xl migrate-receive: {err.strerror}") from None

    def xenstore_list(self, path: str) -> list[str]:
        """The children of ``path``; none if it does not exist."""
        try:
            return self._command("xenstore-list", path).split()
        except BackendError:
            return []

    def xenstore_read(self, path: str) -> str | None:
        try:
            return self._command("xenstore-read", path).rstrip("\n")
        except BackendError:
            return None

    def xenstore_write(self, path: str, value: str) -> None:
        if self._lib.xs_xenstore_write(path.encode(), value.encode()) < 0:
            raise BackendError(f"xenstore write of {path}: "
                               f"{os.strerror(self._ffi.errno) or 'failed'}")

    def domid(self, name: str) -> int:
        try:
            return int(name) if name.isdigit() else int(self.run("domid", name))
        except (BackendError, ValueError):
            raise DomainNotFoundError(f"no Xen domain called {name}") from None

    def name(self, domid: int) -> str:
        return self.run("domname", str(domid)).strip()

    def config(self, domid: int) -> dict[str, Any]:
        """libxl's JSON domain config, as xl migrate sends it."""
        data = json.loads(self.run("list", "-l", str(domid)))
        return data[0]["config"]

    def rename(self, domid: int, name: str) -> None:
        self.run("rename", str(domid), name)

    def destroy(self, domid: int) -> None:
        self.run("destroy", str(domid))
