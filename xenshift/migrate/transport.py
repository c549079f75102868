"""Byte pipes between source and destination: TCP with mutual TLS, plain
TCP (only when asked for), and ssh-style stdio, plus the bandwidth cap.

Every connection offers the same small surface: ``send`` and ``sendv``
(gathered writes, so page data goes from guest memory to the kernel without
a copy where the socket allows), ``readinto`` and ``read_exact``.  A TLS
peer that cannot present a certificate signed by the configured CA is
refused during the handshake, before a byte of stream is read.
"""

from __future__ import annotations

import os
import shlex
import socket
import ssl
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from xenshift.migrate.errors import AuthenticationError, OptionError, TransportError

CONNECT_TIMEOUT = 10.0
# How long a peer may stay silent in the middle of a migration.
IO_TIMEOUT = 120.0
IOV_MAX = 1024


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

    def __init__(self, limiter: RateLimiter | None = None):
        self.limiter = limiter
        self.bytes_sent = 0

    def send(self, data) -> None:
        self.sendv([data])

    def sendv(self, parts) -> None:
        total = sum(len(p) for p in parts)
        if self.limiter is not None:
            self.limiter.consume(total)
        try:
            self._sendv([memoryview(p).cast("B") for p in parts if len(p)])
        except (OSError, ValueError) as err:
            raise TransportError(f"{self.name}: send failed: {_reason(err)}") from None
        self.bytes_sent += total

    def readinto(self, view: memoryview) -> int:
        try:
            return self._readinto(view)
        except (OSError, ValueError) as err:
            raise TransportError(f"{self.name}: receive failed: {_reason(err)}") from None

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


class SocketConnection(Connection):
    def __init__(self, sock: socket.socket, name: str, limiter: RateLimiter | None = None):
        super().__init__(limiter)
        self.sock = sock
        self.name = name
        sock.settimeout(IO_TIMEOUT)
        self._tls = isinstance(sock, ssl.SSLSocket)

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

    def close(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


class PipeConnection(Connection):
    """Two file descriptors (stdin/stdout, or an ssh child's pipes)."""

    def __init__(self, rfd: int, wfd: int, name: str, proc: subprocess.Popen | None = None,
                 limiter: RateLimiter | None = None):
        super().__init__(limiter)
        self.rfd, self.wfd, self.name, self.proc = rfd, wfd, name, proc

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

    def close(self) -> None:
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

    def __init__(self, host: str, port: int, tls: TlsConfig | None):
        self.tls = tls.server_context() if tls else None
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
        return SocketConnection(sock, name, limiter)

    def close(self) -> None:
        self.sock.close()


def _tune(sock: socket.socket) -> None:
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def connect(host: str, port: int, tls: TlsConfig | None,
            limiter: RateLimiter | None = None) -> SocketConnection:
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
    return SocketConnection(sock, name, limiter)


def spawn_stdio(command: str, name: str, limiter: RateLimiter | None = None) -> PipeConnection:
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
    return PipeConnection(rfd, wfd, name, proc, limiter)


def receiver_command(host: str, ssh_command: str | None, args: list[str]) -> str:
    """The shell command that starts the receiver, as xl builds it.

    ``ssh_command`` defaults to ``ssh``; an empty one means ``host`` is itself
    the command to run (xl's ``-s ""``).
    """
    tail = " ".join(shlex.quote(a) for a in ["xen-migrate", "--receive", "--stdio", *args])
    if ssh_command == "":
        return f"{host} {tail}"
    return f"{ssh_command or 'ssh'} {shlex.quote(host)} {tail}"
