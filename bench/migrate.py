"""Live migration benchmark (issue 5), ratios measured in one run.

(i)  An idle 2 GiB random-content sim domain migrated over loopback, against
     a raw TCP stream of the same number of bytes between two processes on
     the same loopback (the physical limit here).  Also: peak anonymous
     memory (RssAnon) of sender and receiver, besides the domain's mapping.
(ii) Total time and downtime against the dirty rate (0 to 80% of the link)
     on a 1 Gbit/s tbf link between two namespaces, 1 GiB domain, for the
     ``xen`` and ``downtime=50`` policies, against the pre-copy bound
     memory / bandwidth / (1 - dirty rate / bandwidth).  A table, and a PNG
     when matplotlib is installed (``pip install -e '.[bench]'``).

Run as root from the repository root: ``.venv/bin/python bench/migrate.py``
(``--part 1`` or ``--part 2`` for one half, ``--quick`` for smaller sizes).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.migrate.hosts import XEN_MIGRATE, XENSHIFT, HostPair, make_certs, wait_listening  # noqa: E402

LINK = 125_000_000  # 1 Gbit/s in bytes per second


def rss_anon(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


class PeakMemory(threading.Thread):
    """Samples RssAnon of some processes every 20 ms."""

    def __init__(self, pids):
        super().__init__(daemon=True)
        self.pids, self.peak, self.stop = pids, {p: 0 for p in pids}, False

    def run(self):
        while not self.stop:
            for p in self.pids:
                self.peak[p] = max(self.peak[p], rss_anon(p))
            time.sleep(0.02)


RAW_RECEIVER = """
import socket, sys
srv = socket.create_server(("127.0.0.1", int(sys.argv[1])))
print("ready", flush=True)
conn, _ = srv.accept()
buf = bytearray(4 << 20); view = memoryview(buf); total = 0
while True:
    n = conn.recv_into(view)
    if not n: break
    total += n
print(total, flush=True)
"""


def raw_tcp(nbytes: int, port: int) -> float:
    """Seconds to push ``nbytes`` through loopback TCP between two processes."""
    recv = subprocess.Popen([sys.executable, "-c", RAW_RECEIVER, str(port)],
                            stdout=subprocess.PIPE, text=True)
    assert recv.stdout.readline().strip() == "ready"
    sender = (
        "import socket, sys, time\n"
        f"s = socket.create_connection(('127.0.0.1', {port}))\n"
        "buf = memoryview(bytes(4 << 20)); left = int(sys.argv[1]); t = time.monotonic()\n"
        "while left > 0:\n"
        "    n = min(left, len(buf)); s.sendall(buf[:n]); left -= n\n"
        "s.close(); print(time.monotonic() - t)\n")
    t0 = time.monotonic()
    subprocess.run([sys.executable, "-c", sender, str(nbytes)], check=True, capture_output=True)
    assert int(recv.stdout.readline()) == nbytes
    recv.wait()
    return time.monotonic() - t0


def part1(size: str) -> None:
    state_a, state_b = tempfile.mkdtemp(dir="/dev/shm"), tempfile.mkdtemp(dir="/dev/shm")
    env_a = {**os.environ, "XENSHIFT_STATE_DIR": state_a}
    env_b = {**os.environ, "XENSHIFT_STATE_DIR": state_b}
    subprocess.run([XENSHIFT, "sim", "start", "idle", "--memory", size, "--fill", "random"],
                   env=env_a, check=True, capture_output=True)
    port = 18900
    recv = subprocess.Popen([XEN_MIGRATE, "--receive", "--listen", f"127.0.0.1:{port}",
                             "--insecure", "--backend", "sim", "--json", "-p", "--timeout", "60"],
                            env=env_b, stdout=subprocess.PIPE, text=True)
    for _ in range(200):
        if subprocess.run(["ss", "-Hltn", f"sport = :{port}"], capture_output=True,
                          text=True).stdout.strip():
            break
        time.sleep(0.05)
    t0 = time.monotonic()
    send = subprocess.Popen([XEN_MIGRATE, "--backend", "sim", "--json", "--insecure",
                             "idle", f"127.0.0.1:{port}"], env=env_a, stdout=subprocess.PIPE,
                            text=True)
    mem = PeakMemory([send.pid, recv.pid])
    mem.start()
    out, _ = send.communicate(timeout=600)
    seconds = time.monotonic() - t0
    recv.communicate(timeout=60)
    mem.stop = True
    done = [json.loads(x) for x in out.splitlines() if x.startswith("{")][-1]
    nbytes = done["wire_bytes"]
    raw = raw_tcp(nbytes, port + 1)
    subprocess.run([XENSHIFT, "sim", "stop", "idle"], env=env_b, capture_output=True)
    for d in (state_a, state_b):
        subprocess.run(["rm", "-rf", d])
    print(f"(i) idle {size} random domain over loopback ({nbytes} bytes on the wire)")
    print(f"    xen-migrate: {seconds:.2f} s end to end = {nbytes / seconds / 1e6:.0f} MB/s "
          f"(stream phase {done['total_seconds']:.2f} s)")
    print(f"    raw TCP:     {raw:.2f} s = {nbytes / raw / 1e6:.0f} MB/s")
    print(f"    ratio: {raw / seconds:.2f}x of raw TCP (target >= 0.9x)")
    print(f"    peak RssAnon: sender {mem.peak[send.pid] / 2**20:.0f} MiB, "
          f"receiver {mem.peak[recv.pid] / 2**20:.0f} MiB (limit 256 MiB each)")


def part2(size: str, fractions: list[float]) -> None:
    pair = HostPair(rate="1gbit")
    rows = []
    try:
        certs = make_certs(Path(tempfile.mkdtemp()))
        memory = int(size.rstrip("G")) << 30 if size.endswith("G") else int(size.rstrip("M")) << 20
        port = 18950
        for policy in ("xen", "downtime=50"):
            for frac in fractions:
                port += 1
                rate = int(frac * LINK)
                pair.a.run(XENSHIFT, "sim", "start", "vm", "--memory", size,
                           "--dirty-rate", str(rate))
                recv = pair.b.popen(XEN_MIGRATE, "--receive", "--listen",
                                    f"{pair.b.addr}:{port}", "--backend", "sim", "--json",
                                    "--timeout", "300", *certs.args(certs.server))
                wait_listening(pair.b, port)
                out = pair.a.run(XEN_MIGRATE, "--backend", "sim", "--json", "--policy", policy,
                                 "vm", f"{pair.b.addr}:{port}", *certs.args(certs.client),
                                 timeout=900)
                recv.communicate(timeout=120)
                done = [json.loads(x) for x in out.stdout.splitlines() if x.startswith("{")]
                pair.a.clear()
                pair.b.clear()
                if out.returncode or not done or done[-1]["event"] != "done":
                    print(f"    {policy} at {frac:.0%}: failed: {out.stderr.strip()[-200:]}")
                    continue
                d = done[-1]
                bound = memory / LINK / (1 - frac) if frac < 1 else float("inf")
                rows.append((policy, frac, d["rounds"], d["total_seconds"], bound,
                             d["downtime_ms"]))
                print(f"    {policy:12} dirty {frac:4.0%}: {d['rounds']:3} rounds, total "
                      f"{d['total_seconds']:6.2f} s ({d['total_seconds'] / bound:4.2f}x bound "
                      f"{bound:5.2f} s), downtime {d['downtime_ms']:7.1f} ms", flush=True)
    finally:
        pair.close()
    print("\n(ii) policy        dirty  rounds  total_s  bound_s  total/bound  downtime_ms")
    for policy, frac, rounds, total, bound, down in rows:
        print(f"     {policy:12} {frac:5.0%} {rounds:7} {total:8.2f} {bound:8.2f} "
              f"{total / bound:11.2f} {down:12.1f}")
    plot(rows)


def plot(rows) -> None:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("(matplotlib not installed: no PNG; pip install -e '.[bench]')")
        return
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    for policy in sorted({r[0] for r in rows}):
        pts = [r for r in rows if r[0] == policy]
        ax1.plot([r[1] * 100 for r in pts], [r[3] for r in pts], "o-", label=policy)
        ax2.plot([r[1] * 100 for r in pts], [r[5] for r in pts], "o-", label=policy)
    bounds = sorted({(r[1], r[4]) for r in rows})
    ax1.plot([b[0] * 100 for b in bounds], [b[1] for b in bounds], "k--", label="pre-copy bound")
    ax1.set(xlabel="dirty rate (% of link)", ylabel="total time (s)")
    ax2.set(xlabel="dirty rate (% of link)", ylabel="downtime (ms)", yscale="log")
    for ax in (ax1, ax2):
        ax.legend()
        ax.grid(True, alpha=0.3)
    fig.tight_layout()
    fig.savefig("bench/migrate.png", dpi=100)
    print("plot: bench/migrate.png")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--part", type=int, choices=(1, 2))
    ap.add_argument("--quick", action="store_true", help="256 MiB domains, fewer rates")
    args = ap.parse_args()
    if args.part in (None, 1):
        part1("256M" if args.quick else "2G")
    if args.part in (None, 2):
        fractions = [0, 0.4] if args.quick else [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]
        part2("256M" if args.quick else "1G", fractions)


if __name__ == "__main__":
    main()
