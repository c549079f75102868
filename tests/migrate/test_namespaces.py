"""Live migration between two namespace hosts: acceptance, faults, refusals.

Each test runs real ``xen-migrate`` processes: the receiver in namespace B,
the sender and the simulated domain in namespace A, TLS certificates made
here with openssl.  Every wait is bounded.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.migrate.hosts import (
    MIB, XEN_MIGRATE, XENSHIFT, HostPair, heap_is_zero, make_certs, pool_is_whole,
    wait_listening)
from xenshift.migrate.backend.sim_pool import Region

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces need root")

VERIFIER = Path("/usr/lib/xen-4.17/bin/verify-stream-v2")
HERE = Path(__file__).resolve().parent
_ports = iter(range(18000, 19000))


# Both hosts have a memory pool: domains up to this size (the fault tests'
# among them) come from it, bigger ones get fresh memory.
POOL_PAGES = 64 * MIB


@pytest.fixture(scope="module")
def pair():
    p = HostPair()
    try:
        for host in (p.a, p.b):
            host.pool.resize(POOL_PAGES)
        yield p
    finally:
        p.close()


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    return make_certs(tmp_path_factory.mktemp("certs"))


@pytest.fixture(autouse=True)
def clean_hosts(pair):
    yield
    pair.a.clear()
    pair.b.clear()


def start_receiver(pair, certs, *extra: str, port: int | None = None):
    port = port or next(_ports)
    proc = pair.b.popen(XEN_MIGRATE, "--receive", "--listen", f"{pair.b.addr}:{port}",
                        "--backend", "sim", "--json", "--timeout", "120",
                        *certs.args(certs.server), *extra)
    wait_listening(pair.b, port)
    return proc, port


def start_plain_receiver(pair, port: int, *extra: str):
    """A receiver on plain TCP: page data lands with splice."""
    proc = pair.b.popen(XEN_MIGRATE, "--receive", "--listen", f"{pair.b.addr}:{port}",
                        "--backend", "sim", "--json", "--timeout", "120", "--insecure", *extra)
    wait_listening(pair.b, port)
    return proc


def sim_start(host, name: str, memory: str, rate: str = "0", fill: str = "random"):
    out = host.run(XENSHIFT, "sim", "start", name, "--memory", memory, "--dirty-rate", rate,
                   "--fill", fill)
    assert out.returncode == 0, out.stderr


def migrate(pair, certs, name: str, port: int, *extra: str, client=None, timeout=300):
    return pair.a.run(XEN_MIGRATE, "--backend", "sim", "--json", name, f"{pair.b.addr}:{port}",
                      *certs.args(client or certs.client), *extra, timeout=timeout)


def events(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def finish(proc, timeout=60) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def assert_source_intact(pair, name: str) -> None:
    """The source runs again, log-dirty off, every page self-consistent."""
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        infos = {d.name: d for d in pair.a.backend.list_domains()}
        if name in infos and infos[name].state == "running":
            break
        time.sleep(0.05)
    assert name in infos and infos[name].state == "running", infos
    dom = pair.a.backend.open_source(name)
    assert not dom.files.logdirty
    # Paused for the check: a page the vCPU rewrites while it is being
    # compared would look torn.
    dom.suspend()
    assert dom.check_pages() == -1
    dom.resume()


@pytest.mark.slow
def test_1g_domain_dirtying_20mb_migrates_with_verify(pair, certs):
    sim_start(pair.a, "big", "1G", "20M/s")
    recv, port = start_receiver(pair, certs)
    out = migrate(pair, certs, "big", port, "--verify", "-p", "--policy", "downtime=50")
    assert out.returncode == 0, out.stderr
    done = events(out.stdout)[-1]
    assert done["event"] == "done"
    assert done["source_checksum"] == done["dest_checksum"]
    rc, _, err = finish(recv)
    assert rc == 0, err
    assert pair.a.names() == []
    assert pair.b.names() == ["big"]
    check = pair.b.run(XENSHIFT, "sim", "checksum", "big")
    assert check.stdout.strip() == done["source_checksum"]
    assert pair.b.backend.open_source("big").check_pages() == -1
    assert pair.b.run(XENSHIFT, "sim", "unpause", "big").returncode == 0
    assert pair.b.backend.list_domains()[0].state == "running"


@pytest.mark.skipif(not VERIFIER.exists(), reason="xen-utils-4.17 is not installed")
def test_stream_saved_from_live_migration_passes_xen_verifier(pair, certs, tmp_path):
    sim_start(pair.a, "vm", "64M", "8M/s", fill="mixed")
    recv, port = start_receiver(pair, certs)
    saved = tmp_path / "live.xl"
    out = migrate(pair, certs, "vm", port, "--save-stream", str(saved), "--max-iters", "3")
    assert out.returncode == 0, out.stderr
    assert finish(recv)[0] == 0
    env = {**os.environ, "PYTHONPATH": "/usr/lib/xen-4.17/lib/python"}
    check = subprocess.run([str(VERIFIER), "-f", "xl", "-i", str(saved)], env=env,
                           capture_output=True, text=True, timeout=300)
    assert check.returncode == 0, check.stderr[-2000:]
    # The inner libxc stream: after the xl header, libxl header and LIBXC_CONTEXT,
    # up to libxl's END.
    data = saved.read_bytes()
    optlen = int.from_bytes(data[44:48], "little")
    inner = tmp_path / "live.libxc"
    inner.write_bytes(data[48 + optlen + 16 + 8:-8])
    check = subprocess.run([str(VERIFIER), "-f", "libxc", "-i", str(inner)], env=env,
                           capture_output=True, text=True, timeout=300)
    assert check.returncode == 0, check.stderr[-2000:]


def test_extensions_streams_zstd_zero_pages(pair, certs):
    sim_start(pair.a, "ext", "128M", "10M/s", fill="mixed")
    recv, port = start_receiver(pair, certs)
    out = migrate(pair, certs, "ext", port, "--streams", "3", "--compress", "zstd",
                  "--skip-zero-pages", "--verify", "-p")
    assert out.returncode == 0, out.stderr
    done = events(out.stdout)[-1]
    assert done["source_checksum"] == done["dest_checksum"]
    # Half the pages are zero and skipped: far less than the memory crosses the wire.
    assert done["wire_bytes"] < 0.8 * done["pages"] * 4096
    assert finish(recv)[0] == 0
    dest = pair.b.backend.open_source("ext")
    assert dest.checksum() == done["source_checksum"]
    assert dest.check_pages() == -1


@pytest.mark.parametrize("extra", [["--debug"], ["--streams", "2", "--verify"]])
def test_plain_tcp_sends_and_receives_through_the_memory_files(pair, extra):
    # Without TLS, page data leaves with sendfile and lands with splice: the
    # VERIFY pass (--debug) or the checksums (--verify) check every page.
    sim_start(pair.a, "plain", "64M", "8M/s")
    port = next(_ports)
    # The receiver's -p keeps the copy paused without asking for extensions:
    # --debug alone is plain Xen on one connection.
    recv = start_plain_receiver(pair, port, "-p")
    out = pair.a.run(XEN_MIGRATE, "--backend", "sim", "--json", "--insecure", "plain",
                     f"{pair.b.addr}:{port}", *extra)
    assert out.returncode == 0, out.stderr
    done = events(out.stdout)[-1]
    assert finish(recv)[0] == 0
    dest = pair.b.backend.open_source("plain")
    assert dest.check_pages() == -1
    if "--verify" in extra:
        assert done["source_checksum"] == done["dest_checksum"] == dest.checksum()


def test_migration_between_pooled_hosts_with_verify(pair):
    # A ballast domain holds the start of each pool, so pages leave from and
    # land at a non-zero offset of the heap, on two data connections.
    for host in (pair.a, pair.b):
        sim_start(host, "ballast", "16M", fill="zero")
    sim_start(pair.a, "vm", "48M", "8M/s")
    recv = start_plain_receiver(pair, port := next(_ports))
    out = pair.a.run(XEN_MIGRATE, "--backend", "sim", "--json", "--insecure", "vm",
                     f"{pair.b.addr}:{port}", "--streams", "2", "--verify", "-p")
    assert out.returncode == 0, out.stderr
    done = events(out.stdout)[-1]
    assert finish(recv)[0] == 0
    dest = pair.b.backend.open_source("vm")
    assert done["source_checksum"] == done["dest_checksum"] == dest.checksum()
    assert dest.check_pages() == -1
    assert pair.b.pool.status().held == {"ballast": Region(0, 16 * MIB),
                                         "vm": Region(16 * MIB, 48 * MIB)}
    # The source's region went back to its pool, scrubbed.
    status = pair.a.pool.status()
    assert status.held == {"ballast": Region(0, 16 * MIB)} and status.clean == 48 * MIB
    assert heap_is_zero(pair.a.pool, Region(16 * MIB, 48 * MIB))


def test_ssh_style_stdio_transport_with_debug_verify_pass(pair):
    sim_start(pair.a, "sshvm", "32M", "4M/s")
    # xl's -s "": HOST is the whole receiver command.
    remote = (f"ip netns exec {pair.b.ns} env PATH={Path(XEN_MIGRATE).parent}:/usr/bin:/bin "
              f"XENSHIFT_STATE_DIR={pair.b.root} xen-migrate --receive --stdio")
    out = pair.a.run(XEN_MIGRATE, "--backend", "sim", "--json", "--debug", "-s", "", "sshvm", remote)
    assert out.returncode == 0, out.stderr
    assert pair.a.names() == [] and pair.b.names() == ["sshvm"]


def test_save_and_restore(pair, tmp_path):
    sim_start(pair.a, "saved", "16M", "4M/s")
    before = pair.a.backend.open_source("saved")
    path = tmp_path / "saved.xl"
    out = pair.a.run(XEN_MIGRATE, "--backend", "sim", "--save", "saved", str(path))
    assert out.returncode == 0, out.stderr
    assert pair.a.names() == []
    del before
    out = pair.b.run(XEN_MIGRATE, "--backend", "sim", "--restore", str(path), "-p")
    assert out.returncode == 0, out.stderr
    assert pair.b.names() == ["saved"]
    assert pair.b.backend.open_source("saved").check_pages() == -1


# ------------------------------------------------------------------ faults

FAULT_MEMORY, FAULT_RATE, FAULT_BW = "32M", "4M/s", "40M/s"


def assert_one_running_copy(pair, name: str) -> None:
    assert pair.b.wait_empty(), (pair.b.names(), pair.b.stray_processes())
    assert_source_intact(pair, name)


def wait_incoming(host, name: str, timeout: float = 30.0) -> None:
    """Bounded wait until ``host`` builds ``NAME--incoming``: the stream runs."""
    deadline = time.monotonic() + timeout
    while not (host.root / "sim" / f"{name}--incoming").exists():
        assert time.monotonic() < deadline, "the migration never reached the destination"
        time.sleep(0.01)


@pytest.mark.parametrize("victim", ["receiver", "sender"])
@pytest.mark.parametrize("trial", range(3))
def test_killed_mid_migration(pair, certs, victim, trial):
    sim_start(pair.a, "vm", FAULT_MEMORY, FAULT_RATE)
    recv, port = start_receiver(pair, certs)
    sender = pair.a.popen(XEN_MIGRATE, "--backend", "sim", "--json", "vm",
                          f"{pair.b.addr}:{port}", "--bandwidth", FAULT_BW,
                          *certs.args(certs.client))
    # The capped stream takes over 0.8 s from the moment the destination
    # exists: a kill within 0.5 s of it always lands mid-stream, however
    # slow the machine.
    wait_incoming(pair.b, "vm")
    time.sleep(random.uniform(0, 0.5))
    killed, survivor = (recv, sender) if victim == "receiver" else (sender, recv)
    killed.send_signal(signal.SIGKILL)
    finish(killed)
    assert finish(survivor)[0] != 0
    assert_one_running_copy(pair, "vm")


@pytest.mark.parametrize("trial", range(10))
def test_connection_cut(pair, certs, trial):
    sim_start(pair.a, "vm", FAULT_MEMORY, FAULT_RATE)
    recv, port = start_receiver(pair, certs)
    proxy_port = next(_ports)
    cut = random.randrange(0, 30 << 20)
    proxy = pair.b.popen(sys.executable, str(HERE / "cutproxy.py"), pair.b.addr,
                         str(proxy_port), pair.b.addr, str(port), str(cut))
    wait_listening(pair.b, proxy_port)
    out = migrate(pair, certs, "vm", proxy_port, "--bandwidth", "200M/s", timeout=120)
    assert out.returncode != 0, f"cut at {cut} did not fail the migration"
    finish(proxy)
    finish(recv)
    assert_one_running_copy(pair, "vm")


def test_failed_migration_gives_back_the_pool_memory_it_took(pair, certs):
    sim_start(pair.a, "vm", FAULT_MEMORY, FAULT_RATE)
    recv, port = start_receiver(pair, certs)
    proxy_port = next(_ports)
    proxy = pair.b.popen(sys.executable, str(HERE / "cutproxy.py"), pair.b.addr,
                         str(proxy_port), pair.b.addr, str(port), str(24 << 20))
    wait_listening(pair.b, proxy_port)
    sender = pair.a.popen(XEN_MIGRATE, "--backend", "sim", "--json", "vm",
                          f"{pair.b.addr}:{proxy_port}", "--bandwidth", FAULT_BW,
                          *certs.args(certs.client))
    wait_incoming(pair.b, "vm")
    # The directory appears a moment before its memory is taken from the pool.
    deadline = time.monotonic() + 10
    while "vm--incoming" not in pair.b.pool.status().held:
        assert time.monotonic() < deadline, "the incoming domain took no pool memory"
        time.sleep(0.01)
    assert finish(sender)[0] != 0
    finish(proxy)
    finish(recv)
    assert_one_running_copy(pair, "vm")
    assert pool_is_whole(pair.b.pool.status())
    assert heap_is_zero(pair.b.pool, Region(0, POOL_PAGES))


# ---------------------------------------------------------------- refusals

def test_client_without_valid_certificate_is_refused(pair, certs):
    sim_start(pair.a, "vm", "8M")
    recv, port = start_receiver(pair, certs)
    out = migrate(pair, certs, "vm", port, client=certs.rogue)
    assert out.returncode != 0
    assert "TLS" in out.stderr or "refused" in out.stderr, out.stderr
    assert_source_intact(pair, "vm")
    time.sleep(0.3)
    assert pair.b.names() == []
    recv.send_signal(signal.SIGTERM)
    _, stdout, err = finish(recv)
    assert "refused" in err and "TLS" in err


def _raw_send(pair, certs, port: int, payload: Path) -> subprocess.CompletedProcess:
    """Send ``payload`` as an authenticated client, after the banner."""
    script = (
        "import socket, ssl, sys\n"
        "ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT); ctx.check_hostname = False\n"
        f"ctx.load_cert_chain({str(certs.client[0])!r}, {str(certs.client[1])!r})\n"
        f"ctx.load_verify_locations({str(certs.ca)!r})\n"
        f"s = ctx.wrap_socket(socket.create_connection(({pair.b.addr!r}, {port}), timeout=30))\n"
        "s.recv(64)\n"
        "try:\n"
        f"    s.sendall(open({str(payload)!r}, 'rb').read())\n"
        "except OSError:\n"
        "    pass  # the receiver may refuse (and reset) before it has read it all\n"
        "s.close()\n")
    return pair.a.run(sys.executable, "-c", script, timeout=60)


@pytest.mark.parametrize("kind", ["garbage", "truncated"])
def test_bad_streams_are_refused(pair, certs, tmp_path, kind):
    payload = tmp_path / kind
    if kind == "garbage":
        payload.write_bytes(os.urandom(1 << 16))
    else:
        sim_start(pair.a, "src", "4M")
        pair.a.run(XEN_MIGRATE, "--backend", "sim", "--save", "src", str(tmp_path / "full"))
        full = (tmp_path / "full").read_bytes()
        payload.write_bytes(full[:len(full) // 2])
    recv, port = start_receiver(pair, certs)
    assert _raw_send(pair, certs, port, payload).returncode == 0
    rc, _, err = finish(recv)
    assert rc != 0
    expected = "not an xl saved-domain stream" if kind == "garbage" else "stream ends inside"
    assert expected in err, err
    assert pair.b.wait_empty()
