"""A real Dask cluster for the batch tests: a ``dask scheduler`` and two
workers, ``w1`` on this host and ``w2`` in a network namespace of its own
(a second host) joined to this one by a veth pair.

The scheduler listens on this side's veth address, which both workers
reach; ``w1`` listens on loopback, ``w2`` on its veth address. Workers run
without a nanny, so ``kill -9`` of a worker is the death of that host's
conversions. Every process started here is stopped by :meth:`close`, and
every wait is bounded.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from tests.migrate.hosts import wait_for

BIN = Path(sys.executable).parent
DASK = str(BIN / "dask")
XEN_BATCH = str(BIN / "xen-batch")
ROOT = Path(__file__).resolve().parents[2]
NET = "198.18.{}.{}"   # RFC 2544's benchmarking range: never routed
WORKER_TTL = "8s"      # how long the scheduler waits for a silent worker


def _sh(*cmd: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, check=check, timeout=60)


def _free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


@dataclass
class Cluster:
    """The scheduler and the two workers, with their processes."""

    tmp: Path
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:6])
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)
    _client: object = None

    def __post_init__(self) -> None:
        subnet = int(self.tag[:2], 16) % 250 + 1
        self.ns = f"xsd{self.tag}"
        self.veth = f"xsd{self.tag}"
        self.here = NET.format(subnet, 1)
        self.there = NET.format(subnet, 2)
        self.port = _free_port("127.0.0.1")
        self.address = f"tcp://{self.here}:{self.port}"
        self.logs = self.tmp / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)

    def env(self) -> dict[str, str]:
        """The workers' environment: this checkout's code, a short TTL."""
        return {**os.environ, "PYTHONPATH": str(ROOT),
                "DASK_DISTRIBUTED__SCHEDULER__WORKER_TTL": WORKER_TTL,
                "PYTHONUNBUFFERED": "1"}

    def start(self) -> "Cluster":
        _sh("ip", "netns", "add", self.ns)
        _sh("ip", "-n", self.ns, "link", "set", "lo", "up")
        _sh("ip", "link", "add", self.veth + "a", "type", "veth", "peer", "name",
            self.veth + "b", "netns", self.ns)
        _sh("ip", "addr", "add", self.here + "/24", "dev", self.veth + "a")
        _sh("ip", "link", "set", self.veth + "a", "up")
        _sh("ip", "-n", self.ns, "addr", "add", self.there + "/24", "dev", self.veth + "b")
        _sh("ip", "-n", self.ns, "link", "set", self.veth + "b", "up")
        self._spawn("scheduler", [DASK, "scheduler", "--host", self.here, "--port",
                                  str(self.port), "--no-dashboard", "--no-show"])
        for name in ("w1", "w2"):
            self.start_worker(name)
        return self

    def _spawn(self, name: str, cmd: list[str]) -> subprocess.Popen:
        log = open(self.logs / f"{name}.log", "a")
        proc = subprocess.Popen(cmd, env=self.env(), stdout=log, stderr=subprocess.STDOUT,
                                cwd=self.tmp, start_new_session=True)
        log.close()
        self.procs[name] = proc
        return proc

    def start_worker(self, name: str) -> subprocess.Popen:
        """Start worker ``name`` (w1 here, w2 in the namespace) and wait
        until the scheduler has it."""
        common = ["--name", name, "--nthreads", "2", "--no-nanny", "--no-dashboard",
                  "--local-directory", str(self.tmp / f"dask-{name}")]
        if name == "w2":
            # The second host starts its worker the documented way.
            cmd = ["ip", "netns", "exec", self.ns, XEN_BATCH, "worker", self.address,
                   "--appliances", "1", "--host", self.there, *common]
        else:
            cmd = [DASK, "worker", self.address, "--resources", "appliance=1",
                   "--host", "127.0.0.1", *common]
        proc = self._spawn(name, cmd)
        assert wait_for(lambda: name in self.workers(), 60, 0.2), self.log(name)
        return proc

    def client(self):
        """The tests' own client of the scheduler (one, kept)."""
        if self._client is None:
            from distributed import Client
            self._client = Client(self.address, timeout=30, set_as_default=False)
        return self._client

    def workers(self) -> dict[str, str]:
        """Connected workers: name → address."""
        info = self.client().scheduler_info()["workers"]
        return {str(w["name"]): address for address, w in info.items()}

    def executing(self) -> dict[str, list[str]]:
        """Worker name → keys of the tasks it is running (not those the
        scheduler gave it to run once it has the resources)."""
        def keys(dask_worker) -> list[str]:
            return [str(ts.key) for ts in dask_worker.state.executing]

        names = {address: name for name, address in self.workers().items()}
        answers = self.client().run(keys, on_error="return")
        return {names.get(address, address): found for address, found in answers.items()
                if isinstance(found, list)}

    def kill(self, name: str) -> None:
        """``kill -9`` of one process (a worker, or the scheduler)."""
        proc = self.procs.pop(name)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)

    def cut(self, up: bool = False) -> None:
        """Cut (or restore) the network between the two hosts."""
        _sh("ip", "link", "set", self.veth + "a", "up" if up else "down")

    def log(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")[-3000:]

    def close(self) -> None:
        """Stop everything: the scheduler shuts its workers down, and what
        is left after a bounded wait is killed."""
        if self._client is not None:
            try:
                self._client.shutdown()
            except Exception:  # noqa: BLE001 - it may be down already
                self._client.close()
        for proc in self.procs.values():
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=20)
        self.procs.clear()
        _sh("ip", "link", "del", self.veth + "a", check=False)
        _sh("ip", "netns", "del", self.ns, check=False)
