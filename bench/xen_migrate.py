"""xen-migrate against xl migrate on the two Xen test hosts, side by side.

One run boots hosts A and B (``fixtures.xenhost``), then migrates the same
counter guest A → B with each engine, an idle one and one dirtying memory:

- ``xen-migrate`` over mutual TLS into ``xen-migrate --receive --backend
  xen``: as it is (Xen's stream, nothing more), and with its extensions
  (``--compress zstd --skip-zero-pages``);
- ``xen-migrate --insecure`` with the extensions, over plain TCP;
- ``xl migrate`` through its ssh pipe (Xen's own engine, as admins run it);
- ``xl migrate -s ''`` into ``xl migrate-receive`` over a plain TCP pipe
  (a small relay in each dom0), which takes ssh's encryption out of xl's
  figure.

Encrypted engines are compared with encrypted ones (TLS with xl's ssh),
plain ones with plain ones.  The guest's memory is a text pattern, which
zstd shrinks far more than a real guest's memory: the figures with
``--compress`` are a best case.

For each: total time (the command's wall time), downtime as the guest saw
it (the largest gap between two of its counter's uptime stamps, ticking
every 0.1 s from a loop that forks nothing, less one tick) and bytes sent (what crossed the hosts' link,
read from the NIC counters of A's dom0).  A PV guest's uptime jumps on resume by
what its new host's wallclock says passed, so the hosts' clocks are set
from this machine's after they boot (their offsets are printed); else
their skew, up to a second, lands in every gap.  Each engine runs
``--repeat`` times, the engines taking turns, and the medians are
compared: one migration's downtime varies by a second with where the
guest's dirtying bursts fall.  Absolute times under TCG mean nothing; the
ratios of xen-migrate to xl measured in the same run do.  Targets:
downtime at most half of ``xl migrate``'s for the dirtying guest, total
time no worse than 1.0x.

Run as root: .venv/bin/python bench/xen_migrate.py [--kind pv|hvm] [--dirty MIB_S]
                 [--repeat N]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fixtures.xenhost.counter import CounterGuest  # noqa: E402
from fixtures.xenhost.dom0 import build_dom0  # noqa: E402
from fixtures.xenhost.host import XenHost, boot_pair  # noqa: E402
from fixtures.xenhost.hypervisor import debian_hypervisor, shadow_hypervisor  # noqa: E402
from tests.xenhost.guests import console, start  # noqa: E402

TICK_S = 0.1
EXTENSIONS = "--compress zstd --skip-zero-pages"
ENGINES = ("xen-migrate tls", "xen-migrate tls +ext", "xen-migrate plain +ext",
           "xl migrate (ssh)", "xl migrate (pipe)")
# Which xl figure each of ours is set against: encrypted with encrypted.
BASELINE = {"xen-migrate tls": "xl migrate (ssh)", "xen-migrate tls +ext": "xl migrate (ssh)",
            "xen-migrate plain +ext": "xl migrate (pipe)"}
PORT = 8300
RELAY_PORT = 8301
# dom0 relays for xl's plain pipe: B serves xl migrate-receive on a socket,
# A's end of xl migrate's pipe copies to and from it.
SERVE = ("python3 -c \"import socket,subprocess; s=socket.create_server(('{addr}',{port})); "
         "c,_=s.accept(); subprocess.run(['xl','migrate-receive'],stdin=c,stdout=c)\"")
CONNECT = ("python3 -c \"import socket,os,threading; c=socket.create_connection(('{addr}',{port}));"
           "f=lambda a,b:[b(x) for x in iter(lambda:a(65536),b'')];"
           "t=threading.Thread(target=f,args=(lambda n:os.read(0,n),c.sendall));t.start();"
           "f(c.recv,lambda x:os.write(1,x))\"")


@dataclass
class Result:
    engine: str
    guest: str
    total_s: float
    downtime_s: float
    wire_bytes: int
    phases: str = ""  # xen-migrate's own account of its downtime


def link_bytes(host: XenHost) -> int:
    """Bytes A's dom0 sent on the link between the hosts so far."""
    return int(host.run("cat /sys/class/net/eth1/statistics/tx_bytes").stdout)


def downtime(host_a: XenHost, host_b: XenHost, name: str) -> float:
    """The largest gap between two counter stamps across the migration."""
    ticks = sorted({t.n: t for t in console(host_a, name).ticks + console(host_b, name).ticks}
                   .values(), key=lambda t: t.n)
    gaps = [b.clock - a.clock for a, b in zip(ticks, ticks[1:]) if b.n == a.n + 1]
    return max(gaps) - TICK_S if gaps else float("nan")


def migrate(pair, engine: str, guest: CounterGuest, certs_dir: Path) -> Result:
    a, b = pair.a, pair.b
    running = start(a, guest)
    time.sleep(10)  # pre-copy chases a dirtying guest only once it runs
    sent = link_bytes(a)
    if engine.startswith("xen-migrate"):
        tls = " ".join(f"--tls-{k} {certs_dir}/{f}" for k, f in
                       (("cert", "server.pem"), ("key", "server.key"), ("ca", "ca.pem")))
        security = "--insecure" if "plain" in engine else tls
        receiver = b.popen(f"xen-migrate --receive --json --backend xen --timeout 600 "
                           f"--listen {b.addr}:{PORT} {security}")
        time.sleep(5)
        extensions = EXTENSIONS if "+ext" in engine else ""
        command = (f"xen-migrate --json --backend xen {extensions} {guest.name} {b.addr}:{PORT} "
                   f"{security.replace('server', 'client')}")
    elif engine == "xl migrate (ssh)":
        receiver = None
        command = (f"xl migrate -s 'ssh -i {pair.rundir}/id_ed25519 -o UserKnownHostsFile="
                   f"{pair.rundir}/known_hosts -o BatchMode=yes' {guest.name} {b.hostname}")
    else:
        receiver = b.popen(SERVE.format(addr=b.addr, port=RELAY_PORT))
        time.sleep(5)
        relay = CONNECT.format(addr=b.addr, port=RELAY_PORT).replace("'", "'\\''")
        command = f"xl migrate -s '' {guest.name} '{relay}'"
    started = time.monotonic()
    out = a.run(command, timeout=1200, check=False)
    total = time.monotonic() - started
    received = ""
    if receiver:
        received, _ = receiver.communicate(timeout=120)
    if out.returncode:
        raise SystemExit(f"{engine}: {out.stdout}{out.stderr}")
    running.wait_tick(b, console(a, guest.name).last.n + 5 / TICK_S)
    result = Result(engine, guest.name, total, downtime(a, b, guest.name), link_bytes(a) - sent,
                    _phases(out.stdout, received))
    b.xl("destroy", guest.name)
    return result


def _phases(sent: str, received: str) -> str:
    """The downtime's parts from xen-migrate's ``done`` event and, from the
    receiver's ``received`` event, how much of the destination's part xl
    took to finish its build after the stream's end."""
    events = {e.get("event"): e for e in (json.loads(line) for line in
                                          (sent + received).splitlines()
                                          if line.startswith("{"))}
    parts = (events.get("done") or {}).get("downtime_phases") or {}
    text = ", ".join(f"{k.removesuffix('_ms')} {v:.0f}" for k, v in parts.items())
    restore = (events.get("received") or {}).get("restore_ms")
    if restore is not None:
        text += f" (xl's build on B {restore:.0f})"
    return text + " ms" if text else ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kind", choices=["pv", "hvm"], default="pv")
    parser.add_argument("--dirty", type=int, default=16, help="MiB/s the dirtying guest writes")
    parser.add_argument("--guests", choices=["both", "idle", "dirtying"], default="both")
    parser.add_argument("--engines", nargs="+", choices=ENGINES, default=list(ENGINES))
    parser.add_argument("--repeat", type=int, default=3, help="migrations per engine and guest")
    args = parser.parse_args()
    from tests.migrate.hosts import make_certs
    dom0 = build_dom0()
    pair = boot_pair(dom0, shadow_hypervisor(dom0), debian_hypervisor(dom0))
    try:
        certs = pair.rundir / "certs"
        certs.mkdir()
        make_certs(certs)
        print(pair.a.describe(), "|", pair.b.describe())
        print("clock offsets from this machine's, s:", ", ".join(
            f"{h.name.upper()} {h.clock_offset():+.3f}" for h in pair.hosts))
        guests = [(label, dirty) for label, dirty in (("idle", 0), ("dirtying", args.dirty))
                  if args.guests in ("both", label)]
        runs: dict[tuple[str, str], list[Result]] = {}
        n = 0
        print(f"{'guest':9} {'engine':23} {'total s':>8} {'downtime s':>10} {'MiB sent':>9}")
        for label, dirty in guests:
            for _ in range(args.repeat):
                for engine in args.engines:
                    n += 1
                    guest = CounterGuest(f"bench-{label}-{n}", args.kind, memory_mib=256,
                                         dirty_mib_s=dirty, tick_s=TICK_S)
                    r = migrate(pair, engine, guest, certs)
                    runs.setdefault((label, engine), []).append(r)
                    print(f"{label:9} {r.engine:23} {r.total_s:8.1f} {r.downtime_s:10.2f} "
                          f"{r.wire_bytes / 2**20:9.1f}  {r.phases}", flush=True)
        medians = {key: Result(key[1], key[0], *(statistics.median(getattr(r, f) for r in rs)
                                                 for f in ("total_s", "downtime_s",
                                                           "wire_bytes")))
                   for key, rs in runs.items()}
        print(f"\nmedians of {args.repeat}:")
        for (label, engine), m in medians.items():
            print(f"{label:9} {engine:23} {m.total_s:8.1f} {m.downtime_s:10.2f} "
                  f"{m.wire_bytes / 2**20:9.1f}")
        for label, _ in guests:
            for engine, baseline in BASELINE.items():
                if (label, engine) not in medians or (label, baseline) not in medians:
                    continue
                ours, theirs = medians[label, engine], medians[label, baseline]
                print(f"{label}: {engine} / {baseline}: "
                      f"total {ours.total_s / theirs.total_s:.2f}x, "
                      f"downtime {ours.downtime_s / theirs.downtime_s:.2f}x, "
                      f"bytes {ours.wire_bytes / theirs.wire_bytes:.2f}x")
    finally:
        pair.stop()
        shutil.rmtree(pair.rundir, ignore_errors=True)


if __name__ == "__main__":
    main()
