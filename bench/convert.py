"""Guest conversion benchmark (issue 4): ``xen2kvm`` against ``virt-v2v``, one run.

Both convert the same Debian 12 PV fixture (shape a: pygrub-style, no MBR
boot code, ``root=/dev/xvda1``, ``console=hvc0``, an initrd with only the
Xen PV drivers) for KVM, one after the other on the same machine:

- ours: ``xen2kvm GUEST.cfg -o DIR`` (both disks, qcow2 outputs);
- peer: ``virt-v2v -i disk xvda.img -o local -os DIR`` (Debian's 2.2.0).

It prints both wall times, the ratio (target: at most 0.5) and whether
each output boots: QEMU (``accel=tcg`` unless ``XENSHIFT_BOOT_ACCEL`` says
otherwise) with virtio disks, waiting for a login prompt or systemd's
multi-user target on ttyS0. libguestfs runs with ``force_tcg`` for both.

Run from the repository root: ``.venv/bin/python bench/convert.py``
(``--keep DIR`` keeps the outputs there).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fixtures.images.debian_guest import build_guest  # noqa: E402
from xenshift.bootcheck import BootOptions, boot_check  # noqa: E402
from xenshift.inspect.sources import default_vdev, probe_disk  # noqa: E402

TARGET_RATIO = 0.5
# Our output boots in under a minute under TCG; an output without boot
# code never does, so the wait is bounded well above the first.
BOOT_TIMEOUT_S = 240
XEN2KVM = Path(sys.executable).parent / "xen2kvm"


@dataclass(frozen=True)
class Run:
    """One converter's run: its wall time and whether its output boots."""

    name: str
    seconds: float
    booted: bool
    evidence: str


def _timed(argv: list[str], log: Path) -> float:
    start = time.monotonic()
    with open(log, "w") as out:
        proc = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT)
    elapsed = time.monotonic() - start
    if proc.returncode != 0:
        sys.exit(f"{argv[0]} failed (exit {proc.returncode}); see {log}")
    return elapsed


def _boots(disks: list[Path], mac: str | None) -> tuple[bool, str]:
    images = [probe_disk(str(d), default_vdev(i)) for i, d in enumerate(disks)]
    result = boot_check(images, "kvm", [mac], BootOptions(timeout=BOOT_TIMEOUT_S))
    if result.booted:
        return True, f"{result.evidence} after {result.seconds:.0f} s"
    return False, f"no userspace on ttyS0 within {result.seconds:.0f} s"


def run_ours(config: Path, work: Path, mac: str) -> Run:
    """``xen2kvm`` on the fixture's xl config."""
    out = work / "xen2kvm"
    seconds = _timed([str(XEN2KVM), str(config), "-o", str(out)], work / "xen2kvm.log")
    disks = sorted(out.glob("*-xvd?.qcow2"))
    booted, evidence = _boots(disks, mac)
    return Run("xen2kvm", seconds, booted, evidence)


def run_virt_v2v(disk: Path, work: Path, mac: str) -> Run:
    """``virt-v2v -i disk`` on the fixture's system disk."""
    out = work / "virt-v2v"
    out.mkdir()
    seconds = _timed(["virt-v2v", "-i", "disk", str(disk), "-o", "local", "-os", str(out)],
                     work / "virt-v2v.log")
    disks = sorted(p for p in out.iterdir() if p.suffix != ".xml")
    booted, evidence = _boots(disks, mac)
    return Run("virt-v2v", seconds, booted, evidence)


def main() -> None:
    """Build (or reuse) the fixture, run both converters, print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="keep the outputs in this new directory")
    args = parser.parse_args()
    if shutil.which("virt-v2v") is None:
        sys.exit("virt-v2v is missing: run scripts/install-debian-deps")
    os.environ.setdefault("LIBGUESTFS_BACKEND_SETTINGS", "force_tcg")
    guest = build_guest("a")
    mac = "00:16:3e:00:00:0a"
    work = args.keep or Path(tempfile.mkdtemp(prefix="xenshift-bench-convert-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        print(f"fixture: {guest.config} (Debian 12 PV, shape a)")
        runs = [run_ours(guest.config, work, mac),
                run_virt_v2v(guest.disks["xvda"], work, mac)]
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    for run in runs:
        print(f"{run.name:9} {run.seconds:7.1f} s   boots: "
              f"{'yes' if run.booted else 'no'} ({run.evidence})")
    ours, peer = runs
    ratio = ours.seconds / peer.seconds
    verdict = "met" if ratio <= TARGET_RATIO and ours.booted else "NOT met"
    print(f"ratio xen2kvm / virt-v2v: {ratio:.2f} (target <= {TARGET_RATIO}: {verdict})")


if __name__ == "__main__":
    main()
