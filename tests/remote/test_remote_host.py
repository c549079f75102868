"""Converting straight from a Xen host over ssh (``-ic ssh://root@HOST GUEST``).

The host is a real sshd in a network namespace (``tests.remote.hosts``)
with a fake ``xl``.  Fixture (a) is served from it: its root disk as a
file (read by nbdkit's ssh plugin), its second disk as a read-only loop
device (a ``phy:`` block device, read by the relay).  One test converts
and boots it; the refusals need no appliance, but for the host that goes
away mid-conversion.  Each checks that nothing is left in the output
directory and that the host's files are as they were.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.digests import sha256
from tests.remote.hosts import XenHost, client_for, keypair

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces need root")]
BOOT_TIMEOUT = "420"
BIN = Path(sys.executable).parent


def run(command: str, *args: str, timeout: float = 1500) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / command), *args], capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture
def client(xen1, keys, tmp_path):
    return client_for([xen1], tmp_path, keys[0])


# The fixture's images are hashed once per run: they must never change.
_BEFORE: dict[Path, str] = {}


@pytest.fixture
def host_files():
    """``watch(*paths)``: files of the host that must be byte-identical after the test."""
    watched: list[Path] = []

    def watch(*paths: Path) -> None:
        for p in paths:
            _BEFORE.setdefault(p, sha256(p))
            watched.append(p)

    yield watch
    assert {p: sha256(p) for p in watched} == {p: _BEFORE[p] for p in watched}


def config_on(host: XenHost, name: str, disks: list[str]) -> Path:
    path = host.root / "etc" / f"{name}.cfg"
    path.parent.mkdir(exist_ok=True)
    path.write_text(f'name = "{name}"\ntype = "pv"\nbootloader = "pygrub"\nmemory = 512\n'
                    f'vcpus = 1\ndisk = [ {", ".join(repr(d) for d in disks)} ]\n'
                    'vif = [ "mac=00:16:3e:00:00:0a, bridge=xenbr0" ]\n')
    return path


def refused(proc: subprocess.CompletedProcess, out: Path, *words: str) -> str:
    """The error of a refused conversion, which left no output."""
    assert proc.returncode != 0, proc.stdout
    assert "Traceback" not in proc.stderr, proc.stderr
    for word in words:
        assert word in proc.stderr, proc.stderr
    assert not out.exists() or not any(out.iterdir())
    return proc.stderr


def test_running_guest_is_refused_by_name(xen1, client, tmp_path):
    xen1.domain("web01", "-b----", {"domid": 7, "config": {"c_info": {"name": "web01"}}})
    try:
        out = tmp_path / "out"
        err = refused(run("xen2kvm", "-ic", xen1.url(), "web01", "-o", str(out),
                          *client.args()), out, "web01 is running", "Shut it down")
        assert xen1.addr in err
    finally:
        xen1.forget("web01")


def test_running_guest_named_by_its_config_path_is_refused(xen1, client, tmp_path):
    config = config_on(xen1, "db01", ["format=raw, vdev=xvda, target=/nonexistent"])
    xen1.domain("db01", "r-----")
    try:
        out = tmp_path / "out"
        refused(run("xen2hvm", "-ic", xen1.url(), str(config), "-o", str(out),
                    *client.args()), out, "db01 is running")
    finally:
        xen1.forget("db01")


def test_guest_is_refused_when_xl_cannot_say_whether_it_runs(xen1, client, tmp_path):
    config = config_on(xen1, "unsure", ["format=raw, vdev=xvda, target=/nonexistent"])
    xl = xen1.root / "bin" / "xl"
    real = xl.read_text()
    xl.write_text("#!/bin/sh\necho 'libxl: error: cannot init xl context' >&2\nexit 1\n")
    try:
        out = tmp_path / "out"
        refused(run("xen2kvm", "-ic", xen1.url(), str(config), "--config-only", "-o", str(out),
                    *client.args()), out, "cannot tell whether unsure runs",
                "cannot init xl context")
    finally:
        xl.write_text(real)


def test_unknown_host_key_is_refused_unless_accepted(xen1, keys, tmp_path):
    config = config_on(xen1, "plain", ["format=raw, vdev=xvda, target=/nonexistent"])
    known = tmp_path / "known_hosts"
    known.write_text("")
    args = ["-ic", xen1.url(), str(config), "--config-only", "--ssh-identity", str(keys[0]),
            "--ssh-known-hosts", str(known)]
    out = tmp_path / "out"
    refused(run("xen2kvm", *args, "-o", str(out)), out, "not in known_hosts",
            "--ssh-host-key-checking accept-new")
    accepted = run("xen2kvm", *args, "-o", str(out), "--ssh-host-key-checking", "accept-new")
    assert accepted.returncode == 0, accepted.stderr
    assert (out / "plain.xml").exists()
    assert xen1.known_hosts_line().split()[2] in known.read_text()  # the host's key, recorded


def test_changed_host_key_is_refused(xen1, keys, tmp_path):
    config = config_on(xen1, "plain", ["format=raw, vdev=xvda, target=/nonexistent"])
    other = keypair(tmp_path / "impostor")
    kind, key = Path(f"{other}.pub").read_text().split()[:2]
    known = tmp_path / "known_hosts"
    known.write_text(f"{xen1.addr} {kind} {key}\n")
    out = tmp_path / "out"
    refused(run("xen2kvm", "-ic", xen1.url(), str(config), "--config-only", "-o", str(out),
                "--ssh-identity", str(keys[0]), "--ssh-known-hosts", str(known),
                "--ssh-host-key-checking", "accept-new"), out, "not the one known_hosts holds")


def test_wrong_client_key_is_refused(xen1, client, tmp_path):
    config = config_on(xen1, "plain", ["format=raw, vdev=xvda, target=/nonexistent"])
    stranger = keypair(tmp_path / "stranger")
    out = tmp_path / "out"
    refused(run("xen2kvm", "-ic", xen1.url(), str(config), "--config-only", "-o", str(out),
                "--ssh-identity", str(stranger), "--ssh-known-hosts", str(client.known_hosts)),
            out, "authentication failed")


def test_missing_disk_is_refused_naming_host_and_path(xen1, client, tmp_path):
    config = config_on(xen1, "lost", ["format=raw, vdev=xvda, target=/srv/xen/lost.img"])
    out = tmp_path / "out"
    refused(run("xen-inspect", "-ic", xen1.url(), str(config), *client.args()), out,
            f"root@{xen1.addr}:/srv/xen/lost.img", "no such disk image")
    refused(run("xen2kvm", "-ic", xen1.url(), str(config), "-o", str(out), *client.args()),
            out, f"root@{xen1.addr}:/srv/xen/lost.img", "no such disk image")


def test_config_error_names_host_path_line_and_column(xen1, client, tmp_path):
    config = xen1.root / "etc" / "broken.cfg"
    config.parent.mkdir(exist_ok=True)
    config.write_text('name = "broken"\nmemory = 512\ndisk = [ "vdev=xvda, target=/x" \n')
    out = tmp_path / "out"
    err = refused(run("xen2kvm", "-ic", xen1.url(), str(config), "-o", str(out),
                      *client.args()), out)
    assert f"root@{xen1.addr}:{config}:3:" in err


def test_guest_by_name_reads_libxl_record_and_config_file(xen1, client, tmp_path):
    record = {"domid": 9, "config": {
        "c_info": {"type": "pv", "name": "kept", "uuid": "5b1f3c1e-0d7e-4bb6-8f7e-1a2b3c4d5e6f"},
        "b_info": {"max_vcpus": 2, "avail_vcpus": [0, 1], "max_memkb": 1048576,
                   "target_memkb": 1048576, "bootloader": "pygrub"},
        "disks": [{"pdev_path": "/dev/vg0/kept", "vdev": "xvda", "backend": "phy",
                   "format": "raw", "readwrite": 1}],
        "nics": [{"devid": 0, "mac": "00:16:3e:11:22:33", "bridge": "xenbr1"}]}}
    xen1.domain("kept", "---s--", record)   # shut down, preserved: not running
    try:
        out = tmp_path / "out"
        proc = run("xen2kvm", "-ic", xen1.url(), "kept", "--config-only", "-o", str(out),
                   "--json", *client.args())
        assert proc.returncode == 0, proc.stderr
        xml = (out / "kept.xml").read_text()
        assert "<memory unit=\"KiB\">1048576</memory>" in xml and "xenbr1" in xml
        assert "/dev/vg0/kept" in xml
    finally:
        xen1.forget("kept")
    config = config_on(xen1, "filed", ["format=raw, vdev=xvda, target=/dev/vg0/filed"])
    hvm = run("xen2hvm", "-ic", xen1.url(), str(config), "--config-only", "--dry-run",
              *client.args())
    assert hvm.returncode == 0, hvm.stderr
    assert f"--- root@{xen1.addr}:{config}" in hvm.stdout and '+type = "hvm"' in hvm.stdout
    unknown = run("xen2kvm", "-ic", xen1.url(), "nosuch", "--config-only", "-o", str(out),
                  *client.args())
    assert unknown.returncode != 0 and "no domain nosuch known to xl" in unknown.stderr


def _when_staged(out: Path, then) -> threading.Thread:
    """Call ``then`` once the conversion has staged its first work overlay."""
    def wait() -> None:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            if any(out.parent.glob(f".{out.name}.work-*/*.overlay.qcow2")):
                time.sleep(2)
                then()
                return
            time.sleep(0.1)
    thread = threading.Thread(target=wait, daemon=True)
    thread.start()
    return thread


def _fixture_a_on(host: XenHost, pv_guest) -> tuple[list[Path], list[str]]:
    """Fixture (a)'s images, and its disks as the host serves them: xvda a
    file, xvdb a block device."""
    built = pv_guest("a")
    xvda, xvdb = Path(built.disks["xvda"]), Path(built.disks["xvdb"])
    return [xvda, xvdb], [str(xvda), host.block_device(xvdb)]


def _spec(vdev: str, target: str) -> str:
    return f"format=raw, vdev={vdev}, access=rw, target={target}"


def test_host_gone_mid_conversion_fails_cleanly(keys, pv_guest, host_files, tmp_path):
    host = XenHost(tmp_path / "xen-gone", keys[1])
    try:
        client = client_for([host], tmp_path, keys[0])
        images, targets = _fixture_a_on(host, pv_guest)
        host_files(*images)
        config = config_on(host, "goner", [_spec("xvda", targets[0]), _spec("xvdb", targets[1])])
        out = tmp_path / "out"
        killer = _when_staged(out, host.go_away)
        proc = run("xen2kvm", "-ic", host.url(), str(config), "-o", str(out), *client.args())
        killer.join(timeout=5)
        refused(proc, out, f"root@{host.addr}")
        assert "went away" in proc.stderr or "cannot reach" in proc.stderr, proc.stderr
        assert not list(tmp_path.glob(".out*"))
    finally:
        host.close()


def test_converts_fixture_a_from_the_host_and_it_boots(xen1, client, pv_guest, host_files,
                                                       tmp_path):
    images, targets = _fixture_a_on(xen1, pv_guest)
    host_files(*images)
    record = {"domid": 3, "config": {
        "c_info": {"type": "pv", "name": "remote-a"},
        "b_info": {"max_vcpus": 1, "max_memkb": 524288, "target_memkb": 524288,
                   "bootloader": "pygrub"},
        "disks": [{"pdev_path": targets[0], "vdev": "xvda", "backend": "qdisk",
                   "format": "raw", "readwrite": 1},
                  {"pdev_path": targets[1], "vdev": "xvdb",
                   "backend": "phy", "format": "raw", "readwrite": 1}],
        "nics": [{"devid": 0, "mac": "00:16:3e:00:00:0a", "bridge": "xenbr0"}]}}
    xen1.domain("remote-a", "---s--", record)
    try:
        out = tmp_path / "out"
        proc = run("xen2kvm", "-ic", xen1.url(), "remote-a", "-o", str(out), "--accel", "tcg",
                   "--verify-boot", "--boot-timeout", BOOT_TIMEOUT, "--json", *client.args())
        assert proc.returncode == 0, proc.stderr[-3000:]
        result = json.loads(proc.stdout)
        assert result["boot"]["booted"], result
        assert sorted(p.name for p in out.iterdir()) == [
            "remote-a-xvda.qcow2", "remote-a-xvdb.qcow2", "remote-a.xml"]
        # The outputs stand alone: no backing file on the host or its exports.
        for image in ("remote-a-xvda.qcow2", "remote-a-xvdb.qcow2"):
            info = json.loads(subprocess.run(["qemu-img", "info", "--output=json",
                                              str(out / image)], capture_output=True,
                                             text=True, check=True).stdout)
            assert "backing-filename" not in info
    finally:
        xen1.forget("remote-a")
