"""Remote input (issue 14): fixture (a) converted from an ssh host against converting it locally.

The host is a real sshd in a network namespace on a veth link
(``tests.remote.hosts``), serving fixture (a)'s root disk as a file (read
by nbdkit's ssh plugin) and its second disk as a read-only loop device
(read by the NBD relay). In the same run:

- local: ``xen2kvm`` on the fixture's own config (the baseline);
- remote: ``xen2kvm -ic ssh://root@HOST CONFIG`` of the same guest;
- virt-v2v: ``virt-v2v -i disk`` of the root disk, locally and over the
  same link (its input is a local qcow2 overlay on the same NBD export,
  the way virt-v2v itself reads ``-ic xen+ssh://`` guests; virt-v2v's
  ``-i libvirt`` needs libvirtd on the host, which the test host lacks).

Prints each time and the ratios. Target: remote within 1.2x of local.
Run as root: .venv/bin/python bench/remote.py [--no-virt-v2v]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("LIBGUESTFS_BACKEND_SETTINGS", "force_tcg")

from fixtures.images.debian_guest import build_guest  # noqa: E402
from tests.remote.hosts import XenHost, client_for, keypair  # noqa: E402
from xenshift.config.devices import DiskSpec  # noqa: E402
from xenshift.convert.libvirt import KvmOptions  # noqa: E402
from xenshift.convert.pipeline import ConversionRequest, convert  # noqa: E402
from xenshift.inspect import images  # noqa: E402
from xenshift.progress import Progress  # noqa: E402
from xenshift.remote.disks import RemoteDisks  # noqa: E402
from xenshift.remote.session import RemoteSource  # noqa: E402
from xenshift.sshhost import SshHost, SshOptions, SshTarget  # noqa: E402

TARGET_RATIO = 1.2


class PhaseTimes(Progress):
    """Progress that prints how long each step and copy of a conversion took."""

    def __init__(self):
        super().__init__(enabled=False)

    @contextmanager
    def step(self, label: str):
        start = time.monotonic()
        try:
            yield
        finally:
            print(f"    {time.monotonic() - start:7.1f} s  {label}", flush=True)

    @contextmanager
    def copy(self, label: str, size: int | None = None):
        start = time.monotonic()
        try:
            yield lambda fraction: None
        finally:
            print(f"    {time.monotonic() - start:7.1f} s  {label}", flush=True)


def timed(label: str, body) -> float:
    print(f"{label} ...", flush=True)
    start = time.monotonic()
    body()
    seconds = time.monotonic() - start
    print(f"{label}: {seconds:.1f} s", flush=True)
    return seconds


def xen2kvm(config: Path, out: Path, remote: RemoteSource | None = None) -> None:
    convert(ConversionRequest(source=config, target="kvm", outdir=out,
                              kvm=KvmOptions(accel="tcg"), remote=remote,
                              progress=PhaseTimes()))


def virt_v2v(disk: Path, fmt: str, out: Path, log: Path) -> None:
    out.mkdir()
    with log.open("w") as f:
        proc = subprocess.run(["virt-v2v", "-i", "disk", "-if", fmt, str(disk), "-o", "local",
                               "-os", str(out), "-of", "qcow2"], stdout=f, stderr=f)
    if proc.returncode != 0:
        raise SystemExit(f"virt-v2v failed: see {log}")


def virt_v2v_over_link(host: XenHost, options: SshOptions, xvda: str, work: Path) -> None:
    """virt-v2v -i disk on a local overlay of the host's root disk, read over ssh."""
    with SshHost(SshTarget.parse(host.url()), options) as ssh, RemoteDisks(ssh) as exports:
        [disk] = exports.export([DiskSpec("xvda", xvda)], "the benchmark")
        overlay = images.overlay(disk, work / "xvda-over-ssh.qcow2")
        virt_v2v(Path(overlay.path), "qcow2", work / "v2v-remote", work / "v2v-remote.log")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-virt-v2v", action="store_true", help="skip the virt-v2v runs")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root: the ssh host is a network namespace")
    guest = build_guest("a")
    work = Path(tempfile.mkdtemp(prefix="xenshift-bench-remote-"))
    keys = work / "keys"
    keys.mkdir()
    identity = keypair(keys / "client")
    authorized = keys / "authorized_keys"
    authorized.write_text(Path(f"{identity}.pub").read_text())
    host = XenHost(work / "host", authorized)
    try:
        client = client_for([host], work, identity)
        options = SshOptions(str(client.identity), str(client.known_hosts))
        xvda, xvdb = str(guest.disks["xvda"]), str(guest.disks["xvdb"])
        loop = host.block_device(Path(xvdb))
        remote_config = host.root / "bench-a.cfg"
        remote_config.write_text(guest.config.read_text().replace(
            f"target={xvdb}", f"target={loop}"))
        times = {
            "local xen2kvm": timed("local xen2kvm", lambda: xen2kvm(guest.config,
                                                                   work / "local")),
            "remote xen2kvm -ic": timed("remote xen2kvm -ic", lambda: xen2kvm(
                remote_config, work / "remote", RemoteSource(host.url(), options))),
        }
        if not args.no_virt_v2v:
            times["local virt-v2v -i disk"] = timed("local virt-v2v -i disk", lambda: virt_v2v(
                Path(xvda), "raw", work / "v2v-local", work / "v2v-local.log"))
            times["virt-v2v -i disk over ssh"] = timed(
                "virt-v2v -i disk over ssh", lambda: virt_v2v_over_link(host, options, xvda,
                                                                       work))
    finally:
        host.close()
    print("\nfixture (a), 2 GiB + 128 MiB disks, to KVM (qcow2), one run each:")
    for label, seconds in times.items():
        print(f"  {label:28s} {seconds:7.1f} s")
    ratio = times["remote xen2kvm -ic"] / times["local xen2kvm"]
    verdict = "met" if ratio <= TARGET_RATIO else "NOT met"
    print(f"ratio remote / local (xen2kvm): {ratio:.2f} (target <= {TARGET_RATIO}: {verdict})")
    if "virt-v2v -i disk over ssh" in times:
        print(f"ratio over ssh / local (virt-v2v): "
              f"{times['virt-v2v -i disk over ssh'] / times['local virt-v2v -i disk']:.2f}")
        print(f"ratio xen2kvm -ic / virt-v2v over ssh: "
              f"{times['remote xen2kvm -ic'] / times['virt-v2v -i disk over ssh']:.2f}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
