"""Live migration between two real Xen 4.17 hosts, A → B.

The guests are the counter domUs of ``fixtures.xenhost.domu``: a guest that
migrated keeps its boot id, its counter goes on past the last value it
printed on A, and the md5 of the memory pattern it filled at boot stays the
same.  ``xen-migrate`` runs in dom0 from the checkout under test.
"""

from __future__ import annotations

import json
import os
import subprocess
import time

import pytest

from fixtures.xenhost.counter import CounterGuest
from fixtures.xenhost.host import XenHost
from tests.xenhost.guests import RunningGuest, console, start

pytestmark = pytest.mark.slow
VERIFIER = "/usr/lib/xen-4.17/bin/verify-stream-v2"
MIGRATE_TIMEOUT = 600.0
_ports = iter(range(8100, 8200))


def tls_args(certs, which) -> str:
    return " ".join(certs.args(which))


def start_receiver(xen, certs, *extra: str) -> tuple[subprocess.Popen, int]:
    """``xen-migrate --receive --backend xen`` on B, listening on the link."""
    port = next(_ports)
    proc = xen.b.popen(f"xen-migrate --receive --backend xen --json --timeout 600 "
                       f"--listen {xen.b.addr}:{port} {tls_args(certs, certs.server)} "
                       + " ".join(extra))
    deadline = time.monotonic() + 60
    while not xen.b.run(f"ss -Hltn 'sport = :{port}'").stdout.strip():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the receiver on B does not listen"
        time.sleep(1)
    return proc, port


def send(xen, certs, name: str, port: int, *extra: str) -> subprocess.CompletedProcess:
    return xen.a.run(f"xen-migrate --live --backend xen --json {name} {xen.b.addr}:{port} "
                     f"{tls_args(certs, certs.client)} " + " ".join(extra),
                     timeout=MIGRATE_TIMEOUT, check=False)


def events(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def assert_runs_on(guest: RunningGuest, host: XenHost, other: XenHost) -> None:
    """The guest runs on ``host`` with its boot and memory, and not on ``other``."""
    last = console(guest.host, guest.name).last
    assert guest.name in host.domains()
    assert guest.name not in other.domains()
    tick = guest.wait_tick(host, last.n)
    assert tick.boot == guest.boot, "the guest rebooted"
    deadline = time.monotonic() + 60
    while not guest.pattern_checks(host):
        assert time.monotonic() < deadline, "the guest printed no pattern check"
        time.sleep(2)
    assert set(guest.pattern_checks(host)) == {guest.pattern}


def wait_gone(host: XenHost, name: str, timeout: float = 120.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not [d for d in host.domains() if d.startswith(name)]:
            return True
        time.sleep(2)
    return False


@pytest.mark.parametrize("kind", ["pv", "pvh", "hvm"])
def test_live_migration_over_tls_with_verify(xen, xen_certs, kind):
    guest = start(xen.a, CounterGuest(f"live-{kind}", kind))
    receiver, port = start_receiver(xen, xen_certs)
    # PV: the destination cannot read back a paused PV copy (see xen_pv); its
    # pages go compressed and without zero pages instead, typed words and all.
    extra = ["--verify"] if kind != "pv" else ["--compress", "zstd", "--skip-zero-pages"]
    out = send(xen, xen_certs, guest.name, port, *extra)
    rc_b = receiver.wait(timeout=120)
    _, b_err = receiver.communicate()
    assert out.returncode == 0, out.stdout + out.stderr + b_err
    assert rc_b == 0, b_err
    done = [e for e in events(out.stdout) if e.get("event") == "done"][-1]
    if kind != "pv":
        assert done["source_checksum"] == done["dest_checksum"]
    before = console(xen.a, guest.name).last
    assert_runs_on(guest, xen.b, xen.a)
    after = console(xen.b, guest.name).ticks
    assert after[-1].n > before.n
    print(f"{kind}: {done['rounds']} rounds, downtime {done['downtime_ms']} ms, "
          f"{done['wire_bytes']} bytes")


def test_pv_stream_passes_xen_verifier(xen):
    """A saved PV stream is read by verify-stream-v2 and restored by xl."""
    guest = start(xen.a, CounterGuest("saved-pv", "pv"))
    saved = xen.rundir / "saved-pv.xl"
    out = xen.a.run(f"xen-migrate --save --backend xen {guest.name} {saved}",
                    timeout=MIGRATE_TIMEOUT, check=False)
    assert out.returncode == 0, out.stderr
    # dom0 mounts the share with cache=loose: A's writes reach the share,
    # and so B, once A flushes them.
    xen.a.run("sync")
    # Xen's verifier is Python: it runs here, on the run's share, not under TCG.
    check = subprocess.run([VERIFIER, "-f", "xl", "-i", str(saved)], capture_output=True,
                           text=True, timeout=600,
                           env={**os.environ, "PYTHONPATH": "/usr/lib/xen-4.17/lib/python"})
    assert check.returncode == 0, check.stdout + check.stderr
    xen.b.xl("restore", str(saved), timeout=300)
    last_a = console(xen.a, guest.name).last
    tick = guest.wait_tick(xen.b, last_a.n)
    assert tick.boot == guest.boot
    saved.unlink()


def test_xl_migrate_lands_in_xen_migrate_receive(xen):
    guest = start(xen.a, CounterGuest("xl-to-xs", "pv"))
    receiver = xen.a.ssh_to(xen.b, "xen-migrate --receive --stdio --backend xen")
    out = xen.a.run(f"xl migrate -s '' {guest.name} '{receiver}'", timeout=MIGRATE_TIMEOUT,
                    check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    assert_runs_on(guest, xen.b, xen.a)


def test_xen_migrate_lands_in_plain_xl_migrate_receive(xen):
    guest = start(xen.a, CounterGuest("xs-to-xl", "pv"))
    receiver = xen.a.ssh_to(xen.b, "xl migrate-receive")
    out = xen.a.run(f"xen-migrate --backend xen -s '' {guest.name} '{receiver}'",
                    timeout=MIGRATE_TIMEOUT, check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    assert_runs_on(guest, xen.b, xen.a)


def assert_source_survives(xen, guest: RunningGuest, out) -> None:
    assert out.returncode != 0, out.stdout
    assert wait_gone(xen.b, guest.name), f"host B still holds {xen.b.domains()}"
    last = console(xen.a, guest.name).last
    tick = guest.wait_tick(xen.a, last.n)
    assert tick.boot == guest.boot
    assert xen.a.domains() == [guest.name]
    checks_before = len(guest.pattern_checks(xen.a))
    deadline = time.monotonic() + 60
    while len(guest.pattern_checks(xen.a)) <= checks_before:
        assert time.monotonic() < deadline, "no pattern check after the failed migration"
        time.sleep(2)
    assert set(guest.pattern_checks(xen.a)) == {guest.pattern}


def _wait_incoming(xen, name: str) -> None:
    deadline = time.monotonic() + 180
    while f"{name}--incoming" not in xen.b.domains():
        assert time.monotonic() < deadline, "the migration never reached B"
        time.sleep(1)


def test_receiver_killed_mid_stream(xen, xen_certs):
    guest = start(xen.a, CounterGuest("killed-rx", "pv", memory_mib=256, dirty_mib_s=8))
    receiver, port = start_receiver(xen, xen_certs)
    sender = xen.a.popen(f"xen-migrate --live --backend xen {guest.name} {xen.b.addr}:{port} "
                         f"{tls_args(xen_certs, xen_certs.client)}")
    _wait_incoming(xen, guest.name)
    xen.b.run("pkill -9 -f '[m]igrate_cmd.*--receive'")
    sender.wait(timeout=MIGRATE_TIMEOUT)
    out = subprocess.CompletedProcess([], sender.returncode, *sender.communicate())
    receiver.wait(timeout=30)
    assert_source_survives(xen, guest, out)


# Both sides give the dark link --io-timeout seconds, not the default two
# minutes.
LINK_SILENCE = 20


def test_link_cut_mid_stream(xen, xen_certs):
    guest = start(xen.a, CounterGuest("cut-link", "pv", memory_mib=256, dirty_mib_s=8))
    receiver, port = start_receiver(xen, xen_certs, f"--io-timeout {LINK_SILENCE}")
    sender = xen.a.popen(f"xen-migrate --live --backend xen --io-timeout {LINK_SILENCE} "
                         f"{guest.name} {xen.b.addr}:{port} "
                         f"{tls_args(xen_certs, xen_certs.client)}")
    try:
        _wait_incoming(xen, guest.name)
        xen.a.set_link(False)
        sender.wait(timeout=MIGRATE_TIMEOUT)
        out = subprocess.CompletedProcess([], sender.returncode, *sender.communicate())
        receiver.wait(timeout=MIGRATE_TIMEOUT)
    finally:
        xen.a.set_link(True)
    assert_source_survives(xen, guest, out)
