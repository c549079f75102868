"""The process that *is* a running simulated domain.

Started as ``python -m xenshift.migrate.backend.sim_process ROOT`` (a
host's ``sim`` directory), it detaches and reads the name of its domain
``ROOT/NAME`` from stdin; then it runs the native vCPU loop in a thread
(which releases the GIL) and serves leases on ``ROOT/NAME/ctl.sock``.  So a
receiver can start one before a migration arrives and name it later.  A
lease is one byte on a connection:

* ``R`` (source side): if the connection drops before ``K``, resume the
  domain and turn log-dirty off.  A killed migration thus leaves the source
  running.
* ``K``: the holder is done; nothing happens when it disconnects.

The starter creates the domain's files while this process boots and then
writes ``SPAWN_GO`` on its stdin; a stdin that closes without it means the
starter died or failed, and what it created is removed.  Likewise when the
starter is gone before it reads ``ready``.  A stdin that closes before a
name came ends the process with nothing to remove.

With ``--incoming`` (a migration's destination) the stdin pipe stays open
after ``SPAWN_GO`` as the receiver's lease: ``K`` on it means the hand-over
is done and the domain outlives the receiver; the pipe closing before that
destroys the domain.  The lease holds from the first byte, so the receiver
can load pages while this process is still starting, and a receiver
killed at any point leaves nothing behind.
"""

from __future__ import annotations

import argparse
import os
import selectors
import signal
import socket
import sys
import threading
from pathlib import Path

from xenshift.migrate.backend.sim_files import DomainFiles
from xenshift.migrate.backend.sim_pool import remove_domain
from xenshift.native import lib

LEASE_RESUME, LEASE_KEEP = b"R", b"K"
SPAWN_GO = b"G"
NAME_MAX = 255  # a file name's limit


def _detach() -> None:
    """Double fork so the domain belongs to no toolstack process."""
    if os.fork():
        os._exit(0)
    os.setsid()
    if os.fork():
        os._exit(0)


class DomainProcess:
    def __init__(self, path: Path, owner_fd: int | None):
        self.dir_fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        self.files = DomainFiles(path)
        self.owner_fd = owner_fd  # an incoming domain's receiver pipe
        self.leases: dict[socket.socket, bytes] = {}
        self.stopping = False
        self.sel = selectors.DefaultSelector()
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(str(path / "ctl.sock"))
        self.listener.listen(8)
        self.sel.register(self.listener, selectors.EVENT_READ)
        if owner_fd is not None:
            self.sel.register(owner_fd, selectors.EVENT_READ)
        self.vcpu = threading.Thread(target=self._run_vcpu, daemon=True)

    def current_path(self) -> Path:
        """The domain directory, wherever renames have moved it."""
        return Path(os.readlink(f"/proc/self/fd/{self.dir_fd}"))

    def _run_vcpu(self) -> None:
        f = self.files
        lib.xs_sim_run(f.ctl, f.mem_ptr, f.pages * 4096, f.bitmap, f.words)

    def start(self) -> None:
        self.vcpu.start()
        (self.current_path() / "pid").write_text(f"{os.getpid()}\n")

    def serve(self) -> None:
        while not self.stopping:
            for key, _ in self.sel.select(timeout=0.2):
                if key.fileobj is self.listener:
                    conn, _ = self.listener.accept()
                    self.sel.register(conn, selectors.EVENT_READ)
                    self.leases[conn] = b""
                elif key.fileobj == self.owner_fd:
                    self._owner_event()
                else:
                    self._lease_event(key.fileobj)
        self.shutdown()

    def _owner_event(self) -> None:
        """The receiver's pipe: ``K`` commits the domain, EOF destroys it."""
        data = os.read(self.owner_fd, 64)
        if data and LEASE_KEEP not in data:
            return
        self.sel.unregister(self.owner_fd)
        os.close(self.owner_fd)
        self.owner_fd = None
        if not data:
            self.destroy_self()

    def _lease_event(self, conn: socket.socket) -> None:
        data = conn.recv(64)
        if data:
            self.leases[conn] = data[-1:]
            return
        kind = self.leases.pop(conn)
        self.sel.unregister(conn)
        conn.close()
        if kind == LEASE_RESUME:
            # The migrating process died: run again, as if nothing happened.
            self.files.ctl.throttle_permille = 1000
            self.files.request(lib.XS_SIM_RUNNING, False)

    def destroy_self(self) -> None:
        """Stop the vCPU, remove the domain (a pool region goes back,
        scrubbed, once nothing writes to it) and stop."""
        self.shutdown()
        remove_domain(self.current_path())
        self.stopping = True

    def shutdown(self) -> None:
        """Stop the vCPU thread (idempotent)."""
        lib.xs_sim_stop(self.files.ctl)
        self.vcpu.join(timeout=5)


def _read_name() -> str | None:
    """The domain's name, one line on stdin (checked by the starter); None
    if stdin closes first.  Read a byte at a time: what follows the line
    is the starter's, read from the raw descriptor later."""
    name = b""
    while len(name) <= NAME_MAX:
        byte = os.read(0, 1)
        if not byte:
            return None
        if byte == b"\n":
            return name.decode()
        name += byte
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sim_process")
    parser.add_argument("root", type=Path)
    parser.add_argument("--incoming", action="store_true")
    args = parser.parse_args(argv)
    _detach()
    name = _read_name()
    if name is None:
        return 0
    path = (args.root / name).resolve()
    if os.read(0, 1) != SPAWN_GO:
        remove_domain(path)
        return 1
    proc = DomainProcess(path, os.dup(0) if args.incoming else None)

    def stop(_signum, _frame):
        proc.stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    proc.start()
    # Tell the starter we are up, then let go of its pipe.
    try:
        sys.stdout.write(f"ready {os.getpid()}\n")
        sys.stdout.flush()
    except OSError:
        # The starter is gone: nobody knows this domain exists.
        proc.destroy_self()
        return 1
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    proc.serve()
    return 0


if __name__ == "__main__":
    sys.exit(main())
