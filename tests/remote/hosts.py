"""Xen hosts for the remote-input tests: a real sshd in a network namespace.

Each host is a namespace joined to this one by a veth pair, running
Debian's sshd on its own host key, with an ``xl`` on its PATH that answers
``xl list`` and ``xl list -l NAME`` from files the test writes (the real
``xl`` needs a hypervisor).  The namespace shares this machine's file
system, so the host "serves" whatever images and configs the test names.
Closing a host stops every process in its namespace and removes it.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

SSHD = "/usr/sbin/sshd"
# RFC 2544's benchmarking range, as the migration tests use it.
NET = "198.18.{}.{}"
_FAKE_XL = r"""#!/bin/sh
# xl list [-l] [NAME], answered from STATE/NAME.state and STATE/NAME.json.
state=@STATE@
[ "$1" = list ] || { echo "xl (test host): only list is known" >&2; exit 1; }
shift
long=0
if [ "$1" = -l ]; then long=1; shift; fi
name=$1
if [ -n "$name" ] && [ ! -f "$state/$name.state" ]; then
    echo "$name is an invalid domain identifier (rc=-6)" >&2
    exit 1
fi
if [ $long = 1 ]; then
    cat "$state/$name.json"
    exit 0
fi
printf 'Name                                        ID   Mem VCPUs\tState\tTime(s)\n'
printf 'Domain-0                                     0  1024     2     r-----      10.0\n'
for f in "$state"/*.state; do
    [ -f "$f" ] || continue
    n=$(basename "$f" .state)
    if [ -z "$name" ] || [ "$n" = "$name" ]; then
        printf '%-40s %5d %5d %5d     %s %9s\n' "$n" 7 512 1 "$(cat "$f")" 1.0
    fi
done
"""


def sh(*cmd: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, check=check, timeout=60)


def keypair(path: Path) -> Path:
    """A new ed25519 key pair at ``path`` (and ``path``.pub)."""
    sh("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path))
    return path


@dataclass
class Client:
    """What the converter logs in with: a key and a known_hosts file."""

    identity: Path
    known_hosts: Path

    def args(self) -> list[str]:
        return ["--ssh-identity", str(self.identity), "--ssh-known-hosts", str(self.known_hosts)]


class XenHost:
    """One namespace host: sshd on ADDR:22, a fake xl, a state directory."""

    def __init__(self, root: Path, authorized: Path):
        tag = uuid.uuid4().hex[:6]
        subnet = int(tag[:2], 16) % 250 + 1
        self.ns, self.veth = f"xsX{tag}", f"xsx{tag}"
        self.local, self.addr = NET.format(subnet, 1), NET.format(subnet, 2)
        self.root = root
        self.xl_state = root / "xl"
        self.loops: list[str] = []
        self.sshd: subprocess.Popen | None = None
        try:
            self._network()
            self._sshd(authorized)
        except BaseException:
            self.close()
            raise

    def _network(self) -> None:
        sh("ip", "netns", "add", self.ns)
        sh("ip", "-n", self.ns, "link", "set", "lo", "up")
        sh("ip", "link", "add", self.veth + "a", "type", "veth", "peer", "name", self.veth + "b",
           "netns", self.ns)
        sh("ip", "addr", "add", self.local + "/24", "dev", self.veth + "a")
        sh("ip", "link", "set", self.veth + "a", "up")
        sh("ip", "-n", self.ns, "addr", "add", self.addr + "/24", "dev", self.veth + "b")
        sh("ip", "-n", self.ns, "link", "set", self.veth + "b", "up")

    def _sshd(self, authorized: Path) -> None:
        bindir = self.root / "bin"
        bindir.mkdir(parents=True)
        self.xl_state.mkdir()
        xl = bindir / "xl"
        xl.write_text(_FAKE_XL.replace("@STATE@", str(self.xl_state)))
        xl.chmod(0o755)
        self.host_key = keypair(self.root / "host_key")
        config = self.root / "sshd_config"
        config.write_text("\n".join([
            f"ListenAddress {self.addr}", f"HostKey {self.host_key}",
            f"AuthorizedKeysFile {authorized}", "PermitRootLogin prohibit-password",
            "PasswordAuthentication no", "KbdInteractiveAuthentication no", "UsePAM no",
            "StrictModes no", f"PidFile {self.root / 'sshd.pid'}",
            "Subsystem sftp internal-sftp", "MaxStartups 50", "MaxSessions 50",
            f"SetEnv PATH={bindir}:/usr/sbin:/usr/bin:/sbin:/bin", ""]))
        Path("/run/sshd").mkdir(exist_ok=True)  # sshd's privilege separation directory
        self.sshd = subprocess.Popen(["ip", "netns", "exec", self.ns, SSHD, "-D", "-e", "-f",
                                      str(config)], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                socket.create_connection((self.addr, 22), timeout=1).close()
                return
            except OSError:
                if self.sshd.poll() is not None:
                    raise RuntimeError(f"sshd did not start: {self.sshd.stderr.read()}")
                time.sleep(0.05)
        raise RuntimeError("sshd did not listen within 15 s")

    def url(self, user: str = "root") -> str:
        return f"ssh://{user}@{self.addr}"

    def known_hosts_line(self) -> str:
        """This host's key as a known_hosts line."""
        kind, key = Path(f"{self.host_key}.pub").read_text().split()[:2]
        return f"{self.addr} {kind} {key}\n"

    def domain(self, name: str, state: str, record: dict | None = None) -> None:
        """Make xl know ``name`` in ``state`` (``-b----``), with its libxl record."""
        (self.xl_state / f"{name}.state").write_text(state)
        if record is not None:
            (self.xl_state / f"{name}.json").write_text(json.dumps([record], indent=4))

    def forget(self, name: str) -> None:
        for suffix in (".state", ".json"):
            (self.xl_state / f"{name}{suffix}").unlink(missing_ok=True)

    def block_device(self, image: Path) -> str:
        """A read-only loop device on ``image``: an LVM-like ``phy:`` disk."""
        loop = sh("losetup", "-f", "--show", "-r", str(image)).stdout.strip()
        self.loops.append(loop)
        return loop

    def processes(self) -> list[int]:
        """Every process in the namespace."""
        out = sh("ip", "netns", "pids", self.ns, check=False).stdout
        return [int(p) for p in out.split()]

    def go_away(self) -> None:
        """The host goes down: every process in it (sshd, its sessions) killed."""
        for pid in self.processes():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self.sshd is not None:
            self.sshd.wait(timeout=30)

    def close(self) -> None:
        self.go_away()
        if self.sshd is not None and self.sshd.stderr:
            self.sshd.stderr.close()
        sh("ip", "link", "del", self.veth + "a", check=False)
        sh("ip", "netns", "del", self.ns, check=False)
        for loop in self.loops:
            sh("losetup", "-d", loop, check=False)
        shutil.rmtree(self.root, ignore_errors=True)


def client_for(hosts: list[XenHost], root: Path, identity: Path) -> Client:
    """A client whose known_hosts holds every host's key."""
    known = root / "known_hosts"
    known.write_text("".join(h.known_hosts_line() for h in hosts))
    return Client(identity, known)
