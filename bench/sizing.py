"""Sizing a fleet job from measured per-guest costs: hosts and hours.

Reads the costs bench/fleet.py measured on this machine (one conversion
host converting two guests at a time) and prints, for a fleet of guests
(default 10,000) whose disks hold a given amount of data, the host-hours of
conversion and how many such hosts finish the fleet in a given time.

The model, from the measurement only: a disk guest's conversion is a fixed
part (appliance launch, inspection, the guest's changes) plus a copy that
grows with the data; the copy's rate is that of the fixture's disks
written as the conversion writes them. A host's throughput for guests of
size S is the measured one scaled by (fixed + copy(S)) / (fixed + copy of
the fixture). Config-only guests cost what they cost on the cluster.

Run: .venv/bin/python bench/sizing.py [bench/fleet-costs.json] [--guests N]
"""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import dataclass
from pathlib import Path

GIB = 1 << 30
DATA_GIB = (1, 10, 50, 100, 500)
DEADLINES_H = (24, 72, 168)


@dataclass(frozen=True)
class Costs:
    """The measured costs, per guest, on one conversion host."""

    host_seconds_fixture: float     # host wall time per disk guest, 2 at a time
    conversion_seconds: float       # one disk guest's conversion
    copy_seconds: float             # its data's copy
    fixture_bytes: int
    config_seconds: float           # host wall time per config-only guest

    @classmethod
    def load(cls, path: Path) -> "Costs":
        data = json.loads(path.read_text())
        return cls(data["disk_job_seconds"] / data["disk_guests"],
                   data["disk_guest_conversion_seconds"], data["disk_guest_copy_seconds"],
                   data["disk_guest_bytes"], data["config_guest_seconds"])

    def host_seconds(self, data_bytes: float) -> float:
        """Host wall time per disk guest whose disks hold ``data_bytes``."""
        fixed = max(0.0, self.conversion_seconds - self.copy_seconds)
        copy = self.copy_seconds * data_bytes / self.fixture_bytes
        return self.host_seconds_fixture * (fixed + copy) / self.conversion_seconds


def table(costs: Costs, guests: int) -> list[str]:
    """The sizing table, as Markdown lines."""
    head = "| data per guest | host-hours | " + " | ".join(
        f"hosts for {h} h" for h in DEADLINES_H) + " | hours on 10 hosts |"
    lines = [head, "|" + "---|" * (3 + len(DEADLINES_H))]
    rows = [("config only", costs.config_seconds)] + [
        (f"{gib} GiB", costs.host_seconds(gib * GIB)) for gib in DATA_GIB]
    for label, per_guest in rows:
        host_hours = guests * per_guest / 3600
        hosts = " | ".join(str(max(1, math.ceil(host_hours / h))) for h in DEADLINES_H)
        lines.append(f"| {label} | {host_hours:,.2f} | {hosts} | {host_hours / 10:,.2f} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("costs", nargs="?", type=Path,
                        default=Path(__file__).resolve().parent / "fleet-costs.json")
    parser.add_argument("--guests", type=int, default=10_000)
    args = parser.parse_args()
    costs = Costs.load(args.costs)
    print(f"{args.guests:,} guests; one host = this machine converting 2 guests at a "
          f"time; measured: {costs.host_seconds_fixture:.1f} s of host time per disk guest "
          f"of {costs.fixture_bytes / GIB:.2f} GiB (conversion {costs.conversion_seconds:.1f} s, "
          f"of which copy {costs.copy_seconds:.1f} s), "
          f"{costs.config_seconds * 1000:.2f} ms per config-only guest")
    print("\n".join(table(costs, args.guests)))


if __name__ == "__main__":
    main()
