"""Two simulated hosts in network namespaces joined by a veth pair, test
certificates, and helpers to run xen-migrate and sim commands in them."""

from __future__ import annotations

import mmap
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from xenshift.migrate.backend.sim import SimBackend
from xenshift.migrate.backend.sim_pool import HostPool, PoolStatus, Region
from xenshift.native import PAGE_SIZE, ffi, lib

BIN = Path(sys.executable).parent
XEN_MIGRATE = str(BIN / "xen-migrate")
XENSHIFT = str(BIN / "xenshift")
# RFC 2544's benchmarking range: never routed, owned by these namespaces.
NET = "198.18.{}.{}"
MIB = (1 << 20) // PAGE_SIZE  # pages in a MiB


def sh(*cmd: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, check=check, timeout=timeout)


def heap_is_zero(pool: HostPool, region: Region) -> bool:
    """Every byte of ``region`` of the pool's heap is zero (native check)."""
    with open(pool.heap, "rb") as f, mmap.mmap(f.fileno(), region.count * PAGE_SIZE,
                                               prot=mmap.PROT_READ,
                                               offset=region.first * PAGE_SIZE) as mem:
        ptr = ffi.from_buffer(mem)
        try:
            return bool(lib.xs_is_zero(ffi.cast("uint8_t *", ptr), len(mem)))
        finally:
            ffi.release(ptr)


def pool_is_whole(status: PoolStatus) -> bool:
    """What "nothing left behind" means for a host's pool: it is its full
    size, no domain holds any of it, and every page is known zero."""
    return not status.held and status.clean == status.pages


def wait_for(predicate, timeout: float = 10.0, interval: float = 0.02) -> bool:
    """Poll ``predicate`` until it holds (True) or ``timeout`` passes (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False


def domain_processes(root: Path) -> list[int]:
    """Domain processes whose command line names the state dir ``root``."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if b"sim_process" in cmdline and str(root).encode() in cmdline:
                pids.append(int(entry.name))
    return pids


@dataclass
class NsHost:
    """A namespace with its own state dir: one simulated Xen host."""

    ns: str
    addr: str
    root: Path
    procs: list[subprocess.Popen] = field(default_factory=list)

    @property
    def backend(self) -> SimBackend:
        return SimBackend(self.root / "sim")

    def env(self) -> dict[str, str]:
        return {**os.environ, "XENSHIFT_STATE_DIR": str(self.root), "PYTHONUNBUFFERED": "1"}

    def cmd(self, *args: str) -> list[str]:
        return ["ip", "netns", "exec", self.ns, *args]

    def run(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        return subprocess.run(self.cmd(*args), env=self.env(), capture_output=True, text=True,
                              timeout=timeout)

    def popen(self, *args: str, **kw) -> subprocess.Popen:
        """Start a process in the namespace; ``clear`` kills it if still running."""
        proc = subprocess.Popen(self.cmd(*args), env=self.env(), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, **kw)
        self.procs.append(proc)
        return proc

    def names(self) -> list[str]:
        return [d.name for d in self.backend.list_domains()]

    def stray_processes(self) -> list[int]:
        return domain_processes(self.root)

    @property
    def pool(self) -> HostPool:
        return HostPool(self.root)

    def wait_empty(self, timeout: float = 15.0) -> bool:
        """Wait (bounded) until the host holds nothing: no domain dir, no
        domain process, and its memory pool, if it has one, whole again
        (no region held, every free page scrubbed)."""
        sim = self.root / "sim"
        return wait_for(lambda: not any(sim.glob("*")) and not self.stray_processes()
                        and pool_is_whole(self.pool.status()), timeout, 0.1)

    def clear(self) -> None:
        """Kill what this host's tests started, then remove every domain."""
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.communicate(timeout=30)
        self.procs.clear()
        for d in self.backend.list_domains():
            self.backend.open_source(d.name).destroy()
        for pid in self.stray_processes():
            os.kill(pid, signal.SIGKILL)
        shutil.rmtree(self.root / "sim", ignore_errors=True)


class HostPair:
    """Namespaces A (source) and B (destination) on a veth pair."""

    def __init__(self, rate: str | None = None):
        tag = uuid.uuid4().hex[:6]
        subnet = int(tag[:2], 16) % 250 + 1
        self.a = NsHost(f"xsA{tag}", NET.format(subnet, 1), Path(f"/dev/shm/xenshift-A{tag}"))
        self.b = NsHost(f"xsB{tag}", NET.format(subnet, 2), Path(f"/dev/shm/xenshift-B{tag}"))
        self.veth = f"xsv{tag}"
        try:
            self._setup(rate)
        except BaseException:
            self.close()
            raise

    def _setup(self, rate: str | None) -> None:
        for h in (self.a, self.b):
            sh("ip", "netns", "add", h.ns)
            sh("ip", "-n", h.ns, "link", "set", "lo", "up")
            h.root.mkdir(parents=True)
        sh("ip", "link", "add", self.veth + "a", "netns", self.a.ns, "type", "veth",
           "peer", "name", self.veth + "b", "netns", self.b.ns)
        for h, end in ((self.a, "a"), (self.b, "b")):
            sh("ip", "-n", h.ns, "addr", "add", h.addr + "/24", "dev", self.veth + end)
            sh("ip", "-n", h.ns, "link", "set", self.veth + end, "up")
            if rate:
                sh("ip", "netns", "exec", h.ns, "tc", "qdisc", "add", "dev", self.veth + end,
                   "root", "tbf", "rate", rate, "burst", "256kb", "latency", "50ms")

    def close(self) -> None:
        for h in (self.a, self.b):
            h.clear()
            shutil.rmtree(h.root, ignore_errors=True)
            sh("ip", "netns", "del", h.ns, check=False)


@dataclass(frozen=True)
class Certs:
    ca: Path
    server: tuple[Path, Path]
    client: tuple[Path, Path]
    rogue: tuple[Path, Path]  # signed by another CA

    def args(self, pair: tuple[Path, Path]) -> list[str]:
        return ["--tls-cert", str(pair[0]), "--tls-key", str(pair[1]), "--tls-ca", str(self.ca)]


def make_certs(d: Path) -> Certs:
    """A CA, server and client certificates, and a client of a rogue CA."""
    def key_and_csr(name: str) -> None:
        sh("openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
           "-nodes", "-keyout", str(d / f"{name}.key"), "-out", str(d / f"{name}.csr"),
           "-subj", f"/CN={name}")

    def ca(name: str) -> None:
        sh("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
           "-nodes", "-keyout", str(d / f"{name}.key"), "-out", str(d / f"{name}.pem"),
           "-days", "2", "-subj", f"/CN={name}")

    def sign(name: str, by: str) -> tuple[Path, Path]:
        key_and_csr(name)
        sh("openssl", "x509", "-req", "-in", str(d / f"{name}.csr"), "-CA", str(d / f"{by}.pem"),
           "-CAkey", str(d / f"{by}.key"), "-CAcreateserial", "-out", str(d / f"{name}.pem"),
           "-days", "2")
        return d / f"{name}.pem", d / f"{name}.key"

    ca("ca")
    ca("rogue-ca")
    return Certs(d / "ca.pem", sign("server", "ca"), sign("client", "ca"), sign("rogue", "rogue-ca"))


def wait_listening(host: NsHost, port: int, timeout: float = 15.0) -> None:
    """Bounded wait until something listens on ``port`` in ``host``'s namespace."""
    if not wait_for(lambda: host.run("ss", "-Hltn", f"sport = :{port}", timeout=10).stdout.strip(),
                    timeout, 0.05):
        raise TimeoutError(f"nothing listens on {host.addr}:{port}")
