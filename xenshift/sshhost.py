"""A host reached with ssh: ``ssh://[USER@]HOST[:PORT]``, and running commands there.

Authentication is ssh's own (agent, keys, ``~/.ssh/config``, known_hosts).
The host key is checked strictly unless the user says otherwise
(``accept-new`` records the key of a host never seen before, as ssh's
``StrictHostKeyChecking=accept-new`` does; a changed key is always refused).
A password, when one is needed, comes from a file (``-ip``) through
``SSH_ASKPASS``, so it never appears on a command line or in a log.
Every failure of ssh itself becomes an error saying which kind it was.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from xenshift.errors import InputError, XenshiftError

_URL = re.compile(r"ssh://(?:(?P<user>[^@/:\s]+)@)?(?P<host>[^@/:\s\[\]]+)(?::(?P<port>\d+))?/?")
HOST_KEY_CHECKING = ("yes", "accept-new")
CONNECT_TIMEOUT_S = 15
# ssh gives up on a host that stops answering after this many seconds.
_ALIVE_INTERVAL_S, _ALIVE_COUNT = 5, 3
COMMAND_TIMEOUT_S = 120
_SSH_FAILED = 255


class RemoteError(XenshiftError):
    """Something on the remote host, or the way to it, went wrong."""


class HostUnreachableError(RemoteError):
    """The host cannot be reached (refused, timed out, no route, unknown name)."""


class HostKeyError(RemoteError):
    """The host's key is unknown, or not the one known_hosts holds."""


class AuthenticationError(RemoteError):
    """The host refused every credential offered."""


@dataclass(frozen=True)
class SshTarget:
    """``ssh://[USER@]HOST[:PORT]``: a host reached with ssh."""

    host: str
    user: str | None = None
    port: int | None = None

    @classmethod
    def parse(cls, url: str, option: str = "-ic") -> "SshTarget":
        """The target of ``url``, or InputError naming ``option`` and what is wrong."""
        found = _URL.fullmatch(url)
        if not found:
            raise InputError(f"{option} {url!r}: expected ssh://[USER@]HOST[:PORT]")
        port = int(found["port"]) if found["port"] else None
        if port is not None and not 0 < port < 65536:
            raise InputError(f"{option} {url!r}: port {port} is out of range")
        return cls(found["host"], found["user"], port)

    def __str__(self) -> str:
        user = f"{self.user}@" if self.user else ""
        return f"ssh://{user}{self.host}" + (f":{self.port}" if self.port else "")

    @property
    def login(self) -> str:
        """``[USER@]HOST``, as messages name the host."""
        return f"{self.user}@{self.host}" if self.user else self.host

    def argv(self, ssh_command: str, remote: str, tty: bool = False) -> list[str]:
        """``SSH [-p PORT] [-tt] [USER@]HOST REMOTE``."""
        argv = shlex.split(ssh_command) or ["ssh"]
        if self.port:
            argv += ["-p", str(self.port)]
        if tty:
            argv.append("-tt")
        return argv + [self.login, remote]


@dataclass(frozen=True)
class SshOptions:
    """How to authenticate to a host and check its identity.

    ``identity`` and ``known_hosts`` replace ssh's defaults when given;
    ``password_file`` holds a password on its first line (virt-v2v's
    ``-ip``); ``host_key_checking`` is ``yes`` or ``accept-new``.
    """

    identity: str | None = None
    known_hosts: str | None = None
    password_file: str | None = None
    host_key_checking: str = "yes"

    def __post_init__(self) -> None:
        if self.host_key_checking not in HOST_KEY_CHECKING:
            raise ValueError(f"host key checking is one of {', '.join(HOST_KEY_CHECKING)}")

    def check(self) -> None:
        """InputError for a named file that cannot be read."""
        for option, path in (("--ssh-identity", self.identity),
                             ("--ssh-known-hosts", self.known_hosts),
                             ("-ip", self.password_file)):
            if path is not None and not os.access(path, os.R_OK):
                raise InputError(f"{option} {path}: no such readable file")


class SshHost:
    """Runs commands on one host with ssh, one connection per command.

    Use as a context manager: with a password file it holds the
    ``SSH_ASKPASS`` helper that hands ssh the password, removed at the end.
    """

    def __init__(self, target: SshTarget, options: SshOptions = SshOptions()):
        options.check()
        self.target = target
        self.options = options
        self._askpass: tempfile.TemporaryDirectory | None = None

    def __enter__(self) -> "SshHost":
        if self.options.password_file:
            self._askpass = tempfile.TemporaryDirectory(prefix="xenshift-askpass-")
            helper = Path(self._askpass.name) / "askpass"
            # The helper names the file, never the password.
            helper.write_text("#!/bin/sh\nexec head -n 1 -- "
                              f"{shlex.quote(os.path.abspath(self.options.password_file))}\n")
            helper.chmod(0o700)
        return self

    def __exit__(self, *exc) -> None:
        if self._askpass is not None:
            self._askpass.cleanup()
            self._askpass = None

    def ssh_argv(self) -> list[str]:
        """The ssh command line, up to the remote command."""
        o = self.options
        argv = ["ssh", "-o", f"StrictHostKeyChecking={o.host_key_checking}",
                "-o", f"ConnectTimeout={CONNECT_TIMEOUT_S}",
                "-o", f"ServerAliveInterval={_ALIVE_INTERVAL_S}",
                "-o", f"ServerAliveCountMax={_ALIVE_COUNT}",
                "-o", "BatchMode=" + ("no" if o.password_file else "yes")]
        if o.password_file:
            argv += ["-o", "NumberOfPasswordPrompts=1"]
        if o.identity:
            argv += ["-i", o.identity, "-o", "IdentitiesOnly=yes"]
        if o.known_hosts:
            argv += ["-o", f"UserKnownHostsFile={o.known_hosts}"]
        if self.target.port:
            argv += ["-p", str(self.target.port)]
        return argv + ["--", self.target.login]

    def env(self) -> dict[str, str]:
        """The environment ssh runs in (the askpass helper, with ``-ip``)."""
        env = dict(os.environ)
        if self._askpass is not None:
            env["SSH_ASKPASS"] = str(Path(self._askpass.name) / "askpass")
            env["SSH_ASKPASS_REQUIRE"] = "force"
        return env

    def command(self, *remote: str) -> list[str]:
        """The argv that runs ``remote`` (words, quoted for the remote shell)."""
        return self.ssh_argv() + [" ".join(shlex.quote(w) for w in remote)]

    def run(self, *remote: str, timeout: float = COMMAND_TIMEOUT_S,
            limit: int | None = None) -> subprocess.CompletedProcess:
        """Run ``remote`` there; its exit status is the caller's to judge,
        ssh's own failures raise. ``limit`` caps the bytes of output kept."""
        try:
            proc = subprocess.run(self.command(*remote), capture_output=True,
                                  stdin=subprocess.DEVNULL, env=self.env(), timeout=timeout)
        except subprocess.TimeoutExpired:
            raise HostUnreachableError(f"{self.target.login}: no answer within {timeout:.0f} s "
                                       f"to {' '.join(remote)}") from None
        except OSError as err:
            raise RemoteError(f"cannot run ssh: {err.strerror}") from None
        if proc.returncode == _SSH_FAILED:
            raise ssh_failure(self.target, proc.stderr.decode(errors="replace"))
        if limit is not None and len(proc.stdout) > limit:
            raise RemoteError(f"{self.target.login}: {' '.join(remote)} printed more than "
                              f"{limit} bytes")
        return proc


def ssh_failure(target: SshTarget, stderr: str) -> RemoteError:
    """The error for ssh's own failure, told apart by what ssh printed."""
    text = stderr.strip()
    last = text.splitlines()[-1] if text else "ssh failed"
    who = target.login
    if "REMOTE HOST IDENTIFICATION HAS CHANGED" in text:
        return HostKeyError(f"{who}: the host key is not the one known_hosts holds for it "
                            "(possibly someone in the middle): refused; check the key with "
                            "the host's admin")
    if "Host key verification failed" in text or "No ED25519 host key is known" in text \
            or "host key is known" in text:
        return HostKeyError(f"{who}: the host key is not in known_hosts: refused (check its "
                            "fingerprint and add it with ssh, or pass "
                            "--ssh-host-key-checking accept-new)")
    if "Permission denied" in text or "Too many authentication failures" in text:
        return AuthenticationError(f"{who}: authentication failed ({last})")
    if re.search(r"Connection (refused|timed out|closed|reset)|No route to host|"
                 r"Could not resolve|Network is unreachable|Broken pipe|"
                 r"Timeout, server|not responding|kex_exchange_identification", text):
        return HostUnreachableError(f"{who}: cannot reach the host ({last})")
    return RemoteError(f"{who}: ssh failed: {last}")


@contextmanager
def ssh_host(url: str, options: SshOptions = SshOptions(), option: str = "-ic") -> Iterator[SshHost]:
    """An :class:`SshHost` for ``url`` (InputError naming ``option`` if malformed)."""
    with SshHost(SshTarget.parse(url, option), options) as host:
        yield host
