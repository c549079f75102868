"""Byte pipes between source and destination: TCP with mutual TLS, plain
TCP (only when asked for), and ssh-style stdio, plus the bandwidth cap.

Every connection offers the same small surface: ``send`` and ``sendv``
(gathered writes, where a part may be a :class:`FileSpan`), ``readinto``,
``readinto_file`` and ``read_exact``.  On plain sockets and pipes, guest
memory that is a file goes to the wire with ``sendfile`` and comes off it
with ``splice``: the kernel moves page data without a copy through this
process, and the receiver never takes a page fault per fresh page.  A TLS
peer that cannot present a certificate signed by the configured CA is
refused during the handshake, before a byte of stream is read.
"""

from __future__ import annotations

import fcntl
import os
import select
import shlex
import socket
import ssl
import stat
import struct
import subprocess
import termios
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from xenshift.migrate.errors import AuthenticationError, OptionError, TransportError

CONNECT_TIMEOUT = 10.0
# How long a peer may stay silent in the middle of a migration, unless the
# user says otherwise (xen-migrate --io-timeout).
IO_TIMEOUT = 120.0
IOV_MAX = 1024
# Bytes one splice moves through the kernel pipe: 1 MiB, the largest pipe an
# unprivileged process may ask for (/proc/sys/fs/pipe-max-size).
SPLICE_CHUNK = 1 << 20


@dataclass(frozen=True)
class FileSpan:
    """A run of bytes of an open file that is also mapped as ``view``.

    Connections that can send it from the file (``sendfile``) do; the
    others send ``view``.
    """

    fd: int
    offset: int
    view: memoryview

    def __len__(self) -> int:
        return len(self.view)


class RateLimiter:
    """Token bucket shared by all connections of one migration.

    ``rate`` is bytes per second; ``None`` means no cap.  The bucket holds
    at most 50 ms of credit so a pause cannot be followed by a burst.
    """

    def __init__(self, rate: int | None):
        self.rate = rate
        self._lock = threading.Lock()
        self._credit = 0.0
        self._stamp = time.monotonic()

    def lift(self) -> None:
        """Remove the cap (done at switch-over, when the guest is stopped)."""
        self.rate = None

    def consume(self, n: int) -> None:
        while True:
            with self._lock:
                rate = self.rate
                if rate is None:
                    return
                now = time.monotonic()
                self._credit = min(self._credit + (now - self._stamp) * rate, rate * 0.05 + n)
                self._stamp = now
                if self._credit >= n:
                    self._credit -= n
                    return
                wait = (n - self._credit) / rate
            time.sleep(min(wait, 0.05))


class Connection:
    """A bidirectional byte stream with exact reads and gathered writes."""

    name = "connection"

    def __init__(self, limiter: RateLimiter | None = None, silence: float = IO_TIMEOUT):
        self.limiter = limiter
        # Seconds the peer may stay silent (or stop reading) before this
        # connection is given up as lost.
        self.silence = silence
        self.bytes_sent = 0
        # A page sender thread and the control stream can share one
        # connection: one sendv's bytes must not interleave with another's
        # (under TLS that would break the records themselves).
        self._send_lock = threading.Lock()

    def send(self, data) -> None:
        self.sendv([data])

    def sendv(self, parts) -> None:
        """Send buffers and :class:`FileSpan` parts, in order, completely,
        and whole with respect to other threads' sends."""
        total = sum(len(p) for p in parts)
        if self.limiter is not None:
            self.limiter.consume(total)
        with self._send_lock:
            self._send_all(parts)
            self.bytes_sent += total

    def _send_all(self, parts) -> None:
        try:
            run: list[memoryview] = []
            for p in parts:
                if isinstance(p, FileSpan) and self._sendfile_fd() is not None:
                    if run:
                        self._sendv(run)
                        run = []
                    _sendfile(self._sendfile_fd(), p, self.silence)
                elif len(p):
                    run.append(memoryview(p.view if isinstance(p, FileSpan) else p).cast("B"))
            if run:
                self._sendv(run)
        except (OSError, ValueError) as err:
            raise TransportError(f"{self.name}: send failed: {_reason(err)}") from None

    def readinto(self, view: memoryview) -> int:
        try:
            return self._readinto(view)
        except (OSError, ValueError) as err:
            raise TransportError(f"{self.name}: receive failed: {_reason(err)}") from None

    def readinto_file(self, fd: int, offset: int, size: int) -> int | None:
        """Move up to ``size`` bytes into file ``fd`` at ``offset`` in the
        kernel; the count (0 at the end of the stream), or None when this
        connection cannot (the caller then reads through a buffer)."""
        pipe = self._splice_source()
        if pipe is None:
            return None
        try:
            return pipe.move(fd, offset, size)
        except (OSError, ValueError) as err:
            raise TransportError(f"{self.name}: receive failed: {_reason(err)}") from None

    def drain(self) -> None:
        """Wait (bounded) until the peer has taken all that was sent.

        Socket buffers hold megabytes: a round is not over while they do.
        Ending rounds here keeps the measured rate that of the link (not of
        filling a buffer) and keeps the last live round's backlog out of
        the downtime.
        """
        probe = self._queue_probe()
        if probe is None:
            return
        fd, request = probe
        # Registered for no event, poll still reports an error or hang-up:
        # unacknowledged bytes of a reset connection never drain.
        poller = select.poll()
        poller.register(fd, 0)
        deadline = time.monotonic() + self.silence
        while _queued(fd, request) > 0:
            if poller.poll(1):
                raise TransportError(f"{self.name}: connection lost")
            if time.monotonic() > deadline:
                raise TransportError(f"{self.name}: the peer stopped reading")

    def _queue_probe(self) -> tuple[int, int] | None:
        """The descriptor holding our unsent bytes and the ioctl counting them."""
        return None

    def _sendfile_fd(self) -> int | None:
        """The descriptor ``sendfile`` may write to, if any."""
        return None

    def _splice_source(self) -> "_Splicer | None":
        return None

    def read_exact(self, n: int, what: str) -> bytes:
        buf = bytearray(n)
        view = memoryview(buf)
        got = 0
        while got < n:
            k = self.readinto(view[got:])
            if not k:
                raise TransportError(f"{self.name}: peer closed the connection while "
                                     f"waiting for {what}")
            got += k
        return bytes(buf)

    def _sendv(self, parts: list[memoryview]) -> None:
        raise NotImplementedError

    def _readinto(self, view: memoryview) -> int:
        raise NotImplementedError

    def close(self) -> None:
        """Close both directions; safe to call twice."""


def _reason(err: Exception) -> str:
    if isinstance(err, socket.timeout):
        return "timed out"
    return getattr(err, "strerror", None) or str(err) or type(err).__name__


def _queued(fd: int, request: int) -> int:
    """An ioctl that counts queued bytes (SIOCOUTQ, FIONREAD); 0 if refused."""
    try:
        return struct.unpack("i", fcntl.ioctl(fd, request, b"\0\0\0\0"))[0]
    except OSError:
        return 0


def _wait(fd: int, events: int, timeout: float) -> None:
    """Block until ``fd`` is ready (sockets with a timeout are non-blocking)."""
    poller = select.poll()
    poller.register(fd, events)
    if not poller.poll(timeout * 1000):
        raise socket.timeout("timed out")


def _sendfile(out_fd: int, span: FileSpan, timeout: float) -> None:
    """All of ``span`` to ``out_fd`` with sendfile: the page cache hands the
    pages to the socket or pipe, no copy passes through this process."""
    offset, end = span.offset, span.offset + len(span)
    while offset < end:
        try:
            n = os.sendfile(out_fd, span.fd, offset, end - offset)
        except BlockingIOError:
            _wait(out_fd, select.POLLOUT, timeout)
            continue
        if n == 0:
            raise OSError("the memory file ended early")
        offset += n


class _Splicer:
    """Moves bytes from a socket or pipe into a file at an offset.

    A socket needs a pipe in between (splice has a pipe at one end); a pipe
    splices straight into the file.
    """

    def __init__(self, source_fd: int, is_pipe: bool, timeout: float):
        self.source = source_fd
        self.timeout = timeout
        self.pipe: tuple[int, int] | None = None
        if not is_pipe:
            self.pipe = os.pipe2(os.O_CLOEXEC)
            try:
                fcntl.fcntl(self.pipe[1], fcntl.F_SETPIPE_SZ, SPLICE_CHUNK)
            except OSError:
                pass  # a smaller pipe only means more calls

    def move(self, fd: int, offset: int, size: int) -> int:
        if self.pipe is None:
            return self._splice(self.source, fd, min(size, SPLICE_CHUNK), offset)
        moved = self._splice(self.source, self.pipe[1], min(size, SPLICE_CHUNK), None)
        done = 0
        while done < moved:
            n = os.splice(self.pipe[0], fd, moved - done, offset_dst=offset + done)
            if n == 0:
                raise OSError("the guest memory file took no data")
            done += n
        return moved

    def _splice(self, src: int, dst: int, size: int, offset: int | None) -> int:
        while True:
            try:
                return os.splice(src, dst, size, offset_dst=offset)
            except BlockingIOError:
                _wait(src, select.POLLIN, self.timeout)

    def close(self) -> None:
        if self.pipe is not None:
            for fd in self.pipe:
                os.close(fd)
            self.pipe = None


class SocketConnection(Connection):
    def __init__(self, sock: socket.socket, name: str, limiter: RateLimiter | None = None,
                 silence: float = IO_TIMEOUT):
        super().__init__(limiter, silence)
        self.sock = sock
        self.name = name
        sock.settimeout(silence)
        self._tls = isinstance(sock, ssl.SSLSocket)
        self._splicer: _Splicer | None = None

    def _sendv(self, parts: list[memoryview]) -> None:
        if self._tls:
            # SSL sockets have no sendmsg; each part goes out without a copy.
            for p in parts:
                self.sock.sendall(p)
            return
        while parts:
            n = self.sock.sendmsg(parts[:IOV_MAX])
            while parts and n >= len(parts[0]):
                n -= len(parts[0])
                parts.pop(0)
            if n:
                parts[0] = parts[0][n:]

    def _readinto(self, view: memoryview) -> int:
        return self.sock.recv_into(view)

    def _queue_probe(self) -> tuple[int, int] | None:
        # SIOCOUTQ (= TIOCOUTQ): bytes the peer has not acknowledged yet.
        return self.sock.fileno(), termios.TIOCOUTQ

    def _sendfile_fd(self) -> int | None:
        return None if self._tls else self.sock.fileno()

    def _splice_source(self) -> _Splicer | None:
        if self._tls:
            return None
        if self._splicer is None:
            self._splicer = _Splicer(self.sock.fileno(), False, self.silence)
        return self._splicer

    def close(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        if self._splicer is not None:
            self._splicer.close()
            self._splicer = None


class PipeConnection(Connection):
    """Two file descriptors (stdin/stdout, or an ssh child's pipes)."""

    def __init__(self, rfd: int, wfd: int, name: str, proc: subprocess.Popen | None = None,
                 limiter: RateLimiter | None = None, silence: float = IO_TIMEOUT):
        super().__init__(limiter, silence)
        self.rfd, self.wfd, self.name, self.proc = rfd, wfd, name, proc
        self._splicer: _Splicer | None = None

    def _sendv(self, parts: list[memoryview]) -> None:
        while parts:
            n = os.writev(self.wfd, parts[:IOV_MAX])
            while parts and n >= len(parts[0]):
                n -= len(parts[0])
                parts.pop(0)
            if n:
                parts[0] = parts[0][n:]

    def _readinto(self, view: memoryview) -> int:
        return os.readv(self.rfd, [view])

    def _queue_probe(self) -> tuple[int, int] | None:
        # A pipe counts what the peer (ssh, or the receiver) has not read;
        # a socket given as stdout, what it has not acknowledged.
        if stat.S_ISSOCK(os.fstat(self.wfd).st_mode):
            return self.wfd, termios.TIOCOUTQ
        return self.wfd, termios.FIONREAD

    def _sendfile_fd(self) -> int | None:
        return self.wfd

    def _splice_source(self) -> _Splicer | None:
        if self._splicer is None:
            # stdin may be a socket (inetd, a socketpair) rather than a pipe.
            is_pipe = stat.S_ISFIFO(os.fstat(self.rfd).st_mode)
            self._splicer = _Splicer(self.rfd, is_pipe, self.silence)
        return self._splicer

    def close(self) -> None:
        if self._splicer is not None:
            self._splicer.close()
            self._splicer = None
        for fd in {self.rfd, self.wfd}:
            try:
                os.close(fd)
            except OSError:
                pass
        if self.proc is not None:
            try:
                self.proc.wait(timeout=CONNECT_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@dataclass(frozen=True)
class TlsConfig:
    """Mutual TLS: our certificate and key, and the CA that signs peers.

    The CA is the trust anchor of the migration network: a peer is
    accepted when its certificate chains to it, whatever its host name,
    since hosts are often reached by address.
    """

    cert: Path
    key: Path
    ca: Path

    def _context(self, purpose: int) -> ssl.SSLContext:
        ctx = ssl.SSLContext(purpose)
        try:
            ctx.load_cert_chain(self.cert, self.key)
            ctx.load_verify_locations(self.ca)
        except (OSError, ssl.SSLError) as err:
            raise OptionError(f"cannot load TLS material: {_reason(err)}") from None
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_REQUIRED
        return ctx

    def server_context(self) -> ssl.SSLContext:
        return self._context(ssl.PROTOCOL_TLS_SERVER)

    def client_context(self) -> ssl.SSLContext:
        return self._context(ssl.PROTOCOL_TLS_CLIENT)


def parse_address(text: str, default_port: int) -> tuple[str, int]:
    """``HOST[:PORT]`` or ``[V6]:PORT``."""
    host, port = text, default_port
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        if rest.startswith(":"):
            port = rest[1:]
    elif text.count(":") == 1:
        host, port = text.split(":")
    try:
        port = int(port)
    except ValueError:
        raise OptionError(f"bad port in {text!r}") from None
    if not host or not 0 < port < 65536:
        raise OptionError(f"bad address {text!r}")
    return host, port


class Listener:
    """A listening TCP socket; ``accept`` does the TLS handshake."""

    def __init__(self, host: str, port: int, tls: TlsConfig | None,
                 silence: float = IO_TIMEOUT):
        self.tls = tls.server_context() if tls else None
        self.silence = silence
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            family, _, _, _, addr = infos[0]
            self.sock = socket.socket(family, socket.SOCK_STREAM)
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.sock.bind(addr)
            self.sock.listen(16)
        except OSError as err:
            raise TransportError(f"cannot listen on {host}:{port}: {_reason(err)}") from None
        self.address = self.sock.getsockname()[:2]

    def accept(self, timeout: float | None, limiter: RateLimiter | None = None) -> SocketConnection:
        """The next connection; a failed TLS handshake raises AuthenticationError."""
        self.sock.settimeout(timeout)
        try:
            sock, peer = self.sock.accept()
        except socket.timeout:
            raise TransportError("no connection arrived in time") from None
        name = f"{peer[0]}:{peer[1]}"
        _tune(sock)
        if self.tls is not None:
            sock.settimeout(CONNECT_TIMEOUT)
            try:
                sock = self.tls.wrap_socket(sock, server_side=True)
            except (ssl.SSLError, OSError) as err:
                sock.close()
                raise AuthenticationError(f"refused {name}: TLS handshake failed: "
                                          f"{_reason(err)}") from None
        return SocketConnection(sock, name, limiter, self.silence)

    def close(self) -> None:
        self.sock.close()


def _tune(sock: socket.socket) -> None:
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def connect(host: str, port: int, tls: TlsConfig | None,
            limiter: RateLimiter | None = None, silence: float = IO_TIMEOUT) -> SocketConnection:
    """Connect (and with ``tls`` authenticate both ways) to a receiver."""
    name = f"{host}:{port}"
    try:
        sock = socket.create_connection((host, port), timeout=CONNECT_TIMEOUT)
    except OSError as err:
        raise TransportError(f"cannot connect to {name}: {_reason(err)}") from None
    _tune(sock)
    if tls is not None:
        try:
            sock = tls.client_context().wrap_socket(sock)
        except (ssl.SSLError, OSError) as err:
            sock.close()
            raise AuthenticationError(f"{name}: TLS handshake failed: {_reason(err)}") from None
    return SocketConnection(sock, name, limiter, silence)


def spawn_stdio(command: str, name: str, limiter: RateLimiter | None = None,
                silence: float = IO_TIMEOUT) -> PipeConnection:
    """Run ``command`` through ``sh -c`` and talk to its stdin/stdout, like xl."""
    try:
        proc = subprocess.Popen(["sh", "-c", command], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, close_fds=True)
    except OSError as err:
        raise TransportError(f"cannot run {command!r}: {_reason(err)}") from None
    rfd, wfd = os.dup(proc.stdout.fileno()), os.dup(proc.stdin.fileno())
    # Only the duplicates stay open, so closing them is the peer's EOF.
    proc.stdout.close()
    proc.stdin.close()
    return PipeConnection(rfd, wfd, name, proc, limiter, silence)


def receiver_command(host: str, ssh_command: str | None, args: list[str]) -> str:
    """The shell command that starts the receiver, as xl builds it.

    ``ssh_command`` defaults to ``ssh``, run as ``SSH HOST xen-migrate
    --receive --stdio ARGS``; an empty one means ``host`` is itself the
    whole command (xl's ``-s ""``), so the stream can go to any receiver
    that speaks xl's protocol on stdio: ``xl migrate-receive`` too.
    """
    if ssh_command == "":
        return host
    tail = " ".join(shlex.quote(a) for a in ["xen-migrate", "--receive", "--stdio", *args])
    return f"{ssh_command or 'ssh'} {shlex.quote(host)} {tail}"
