"""A read-only NBD server on a unix socket whose reads come from a block device over ssh.

nbdkit's ssh plugin reads files through SFTP, which gives a block device
(an LVM volume: most Xen guests' disks) a size of 0. This relay serves
such a device instead: one ssh session runs a small read loop on the host
(``dd`` of the byte ranges asked for; nothing is written there), and the
relay answers NBD's fixed newstyle handshake and READ commands from it.
Everything else a client may ask is refused: the export is read-only.

Run as ``python -m xenshift.remote.nbd_relay SOCKET DEVICE -- SSH-ARGV…``;
it prints ``ready SIZE`` once it serves, or ``error: …`` and exits.
"""

from __future__ import annotations

import os
import shlex
import signal
import socketserver
import struct
import subprocess
import sys
import threading

_NBDMAGIC, _IHAVEOPT = b"NBDMAGIC", b"IHAVEOPT"
_FLAG_FIXED_NEWSTYLE, _FLAG_NO_ZEROES = 1, 2
_OPT_EXPORT_NAME, _OPT_ABORT, _OPT_INFO, _OPT_GO = 1, 2, 6, 7
_REP_MAGIC = 0x3E889045565A9
_REP_ACK, _REP_INFO, _REP_ERR_UNSUP = 1, 3, (1 << 31) + 1
_INFO_EXPORT = 0
_TX_HAS_FLAGS, _TX_READ_ONLY = 1, 2
_REQUEST_MAGIC, _REPLY_MAGIC = 0x25609513, 0x67446698
_CMD_READ, _CMD_WRITE, _CMD_DISC = 0, 1, 2
_EPERM, _EIO, _EINVAL = 1, 5, 22
# The largest read a client may ask for (QEMU's own limit).
MAX_READ = 32 << 20
_OPTION_LIMIT = 4096
# What the relay logs when its ssh session ends under it.
LOST = "error: the ssh session to the host ended"


def reader_script(device: str) -> str:
    """The host side: print the device's size, then copy each range asked for."""
    dev = shlex.quote(device)
    return (f"blockdev --getsize64 {dev} || exit 3; "
            "while read -r off len; do "
            f"dd if={dev} bs=1M iflag=skip_bytes,count_bytes,fullblock skip=\"$off\" "
            "count=\"$len\" status=none || exit 4; done")


class RemoteReader:
    """The ssh session running :func:`reader_script`; one read at a time."""

    def __init__(self, argv: list[str]):
        # ssh's own messages go to the relay's log (its stderr).
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.lock = threading.Lock()
        line = self.proc.stdout.readline()
        if not line.strip().isdigit():
            self.proc.kill()
            self.proc.wait()
            raise OSError(f"the reader did not start (ssh exit status {self.proc.returncode})")
        self.size = int(line)
        self.dead = False

    def read(self, offset: int, length: int) -> bytes | None:
        """``length`` bytes at ``offset``, or None once the session is gone."""
        with self.lock:
            if self.dead:
                return None
            try:
                self.proc.stdin.write(f"{offset} {length}\n".encode())
                self.proc.stdin.flush()
                data = self.proc.stdout.read(length)
            except OSError:
                data = b""
            if len(data) != length:
                self.dead = True
                print(f"{LOST}: the read of {length} bytes at {offset} got {len(data)}",
                      file=sys.stderr, flush=True)
                return None
            return data

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()


def _recv(sock, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError("client went away")
        data += chunk
    return data


class _Handler(socketserver.BaseRequestHandler):
    reader: RemoteReader

    def handle(self) -> None:
        try:
            if self._handshake():
                self._transmission()
        except (ConnectionError, OSError, struct.error):
            return

    def _reply(self, option: int, kind: int, data: bytes = b"") -> None:
        self.request.sendall(struct.pack(">QIII", _REP_MAGIC, option, kind, len(data)) + data)

    def _handshake(self) -> bool:
        sock, size = self.request, self.reader.size
        flags = _TX_HAS_FLAGS | _TX_READ_ONLY
        sock.sendall(_NBDMAGIC + _IHAVEOPT + struct.pack(">H", _FLAG_FIXED_NEWSTYLE |
                                                          _FLAG_NO_ZEROES))
        client = struct.unpack(">I", _recv(sock, 4))[0]
        while True:
            magic, option, length = struct.unpack(">8sII", _recv(sock, 16))
            if magic != _IHAVEOPT or length > _OPTION_LIMIT:
                return False
            _recv(sock, length)
            if option == _OPT_EXPORT_NAME:
                zeroes = b"" if client & _FLAG_NO_ZEROES else bytes(124)
                sock.sendall(struct.pack(">QH", size, flags) + zeroes)
                return True
            if option == _OPT_ABORT:
                self._reply(option, _REP_ACK)
                return False
            if option in (_OPT_INFO, _OPT_GO):
                self._reply(option, _REP_INFO, struct.pack(">HQH", _INFO_EXPORT, size, flags))
                self._reply(option, _REP_ACK)
                if option == _OPT_GO:
                    return True
            else:
                self._reply(option, _REP_ERR_UNSUP)

    def _transmission(self) -> None:
        sock = self.request
        while True:
            magic, _flags, kind, handle, offset, length = struct.unpack(
                ">IHHQQI", _recv(sock, 28))
            if magic != _REQUEST_MAGIC or kind == _CMD_DISC:
                return
            if kind == _CMD_WRITE:
                _recv(sock, length)
                sock.sendall(struct.pack(">IIQ", _REPLY_MAGIC, _EPERM, handle))
                continue
            if kind != _CMD_READ or length > MAX_READ or offset + length > self.reader.size:
                sock.sendall(struct.pack(">IIQ", _REPLY_MAGIC, _EINVAL, handle))
                continue
            data = self.reader.read(offset, length)
            if data is None:
                sock.sendall(struct.pack(">IIQ", _REPLY_MAGIC, _EIO, handle))
                continue
            sock.sendall(struct.pack(">IIQ", _REPLY_MAGIC, 0, handle) + data)


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


def _watch_parent(server: _Server, parent: int) -> None:
    # The relay must not outlive the conversion that started it.
    while os.getppid() == parent:
        threading.Event().wait(1.0)
    server.shutdown()


def main(argv: list[str]) -> int:
    """``SOCKET DEVICE -- SSH-ARGV…``: serve DEVICE of the ssh host on SOCKET."""
    if len(argv) < 4 or argv[2] != "--":
        print("usage: nbd_relay SOCKET DEVICE -- SSH-ARGV...", file=sys.stderr)
        return 2
    socket_path, device, ssh_argv = argv[0], argv[1], argv[3:]
    try:
        reader = RemoteReader(ssh_argv + [reader_script(device)])
    except OSError as err:
        print(f"error: {err}", flush=True)
        return 1
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    handler = type("Handler", (_Handler,), {"reader": reader})
    try:
        with _Server(socket_path, handler) as server:
            print(f"ready {reader.size}", flush=True)
            threading.Thread(target=_watch_parent, args=(server, os.getppid()),
                             daemon=True).start()
            server.serve_forever()
    finally:
        reader.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
