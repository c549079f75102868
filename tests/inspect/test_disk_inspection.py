"""Inspection of the real Debian PV fixtures, and of bad inputs, by disk.

Slow: every guest costs one libguestfs launch; the fixtures' sessions are
shared through ``guest_session`` (tests/conftest.py).
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys

import pytest

from xenshift.inspect import assess, gather_facts

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def facts(guest_session):
    cache = {}

    def get(shape):
        if shape not in cache:
            cache[shape] = gather_facts(guest_session(shape))
        return cache[shape]

    return get


def _sha256(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def _xen_inspect(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c",
                           "from xenshift.cli.inspect_cmd import main; main()", *args],
                          capture_output=True, text=True, timeout=600)


def test_fixture_a_pv_shape(facts):
    f = facts("a")
    assert (f.os.type, f.os.distro, f.os.major, f.os.arch) == ("linux", "debian", 12, "x86_64")
    assert f.os.root == "/dev/xvda1" and f.os.mountpoints == {"/": "/dev/xvda1"}
    xvda, xvdb = f.layout.disks
    assert (xvda.vdev, xvda.partition_table, xvda.boot_code) == ("xvda", "msdos", "none")
    assert [(p.device, p.filesystem.fstype) for p in xvda.partitions] == [("/dev/xvda1", "ext4")]
    assert (xvdb.partition_table, xvdb.filesystem.fstype) == (None, "swap")
    [kernel] = f.kernels
    assert kernel.package == f"linux-image-{kernel.version}"
    assert (kernel.flavour, kernel.pvh, kernel.boot_entries) == ("pvops", True, (0,))
    assert kernel.supports("virtio_blk") and kernel.supports("xen_blkfront")
    image = f.initrd.image_for(kernel.version)
    assert image.drivers == ("xen_blkfront", "xen_netfront") and image.problem is None
    assert f.initrd.tool == "update-initramfs"
    assert ("MODULES", "list") in {(s.name, s.value) for s in f.initrd.settings}
    b = f.bootloader
    assert (b.kind, b.config, b.default_entry) == ("grub2", "/boot/grub/grub.cfg", 0)
    assert "grub-install" not in b.tools and "/usr/lib/grub/i386-pc" in b.platforms
    assert {r.spec for r in f.storage.of_kind("xen")} == {"/dev/xvda1", "/dev/xvdb"}
    assert {c.device for c in f.console.kernel_consoles} == {"hvc0"}
    assert [c.name for c in f.network.configs] == ["eth0"] and f.network.predictable_names
    assert not f.xen and not f.notes


def test_fixture_a_verdicts(facts):
    verdicts = assess(facts("a"))
    assert {t: v.status for t, v in verdicts.items()} == {
        "hvm": "needs-changes", "pvh": "ready", "kvm": "needs-changes"}
    assert [f.code for f in verdicts["kvm"].findings] == [
        "no-boot-code", "device-names", "xen-console", "initrd-drivers", "nic-rename"]
    assert [f.code for f in verdicts["hvm"].findings] == [
        "no-boot-code", "device-names", "xen-console", "initrd-drivers"]


def test_fixture_b_partitionless(facts):
    f = facts("b")
    xvda = f.layout.disks[0]
    assert xvda.partition_table is None and xvda.filesystem.fstype == "ext4"
    assert f.os.root == "/dev/xvda"
    kvm = assess(f)["kvm"]
    assert kvm.findings[0].code == "partitionless" and kvm.status == "needs-changes"


def test_fixture_c_boot_partition_and_lvm_root(facts):
    f = facts("c")
    assert f.os.mountpoints == {"/": "/dev/guestvg/root", "/boot": "/dev/xvda1"}
    [lv] = f.layout.logical_volumes
    assert (lv.device, lv.volume_group, lv.filesystem.fstype) == ("/dev/guestvg/root", "guestvg", "ext4")
    [kernel] = f.kernels  # found through the separate /boot
    assert kernel.vmlinuz.startswith("/boot/vmlinuz-") and kernel.boot_entries == (0,)
    assert f.storage.of_kind("lvm")[0].spec == "/dev/mapper/guestvg-root"
    assert [c.code for c in assess(f)["kvm"].findings][0] == "no-boot-code"


def test_xen_inspect_json_on_fixture_a_leaves_sources_untouched(pv_guest):
    guest = pv_guest("a")
    before = {vdev: _sha256(p) for vdev, p in guest.disks.items()}
    proc = _xen_inspect(str(guest.config), "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    facts = data["facts"]
    assert [d["boot_code"] for d in facts["layout"]["disks"]] == ["none", "none"]
    assert {r["kind"] for r in facts["storage"]["refs"]} == {"xen"}
    assert {c["device"] for c in facts["console"]["kernel_consoles"]} == {"hvc0"}
    [image] = facts["initrd"]["images"]
    assert not [d for d in image["drivers"] if d.startswith("virtio")]
    assert {t: v["status"] for t, v in data["readiness"].items()} == {
        "hvm": "needs-changes", "pvh": "ready", "kvm": "needs-changes"}
    assert {vdev: _sha256(p) for vdev, p in guest.disks.items()} == before


def _bad(proc: subprocess.CompletedProcess, *needles: str) -> None:
    assert proc.returncode == 1 and proc.stdout == ""
    assert "Traceback" not in proc.stderr
    for needle in needles:
        assert needle in proc.stderr, proc.stderr


def test_missing_disk_in_config(tmp_path):
    cfg = tmp_path / "g.cfg"
    cfg.write_text(f'name = "g"\ndisk = [ "vdev=xvda, target={tmp_path}/gone.img" ]\n')
    _bad(_xen_inspect(str(cfg)), f"{tmp_path}/gone.img: no such disk image", f"{cfg}:2")


def test_corrupt_image(tmp_path):
    bad = tmp_path / "bad.qcow2"
    bad.write_bytes(b"QFI\xfb\0\0\0\3" + b"\xff" * 100)
    _bad(_xen_inspect(str(bad)), f"{bad}: not a readable disk image")


def test_no_operating_system(tmp_path):
    disk = tmp_path / "data.img"
    subprocess.run(["mkfs.ext4", "-q", str(disk), "32M"], check=True)
    before = _sha256(disk)
    _bad(_xen_inspect(str(disk)), f"xvda={disk}", "no operating system found")
    assert _sha256(disk) == before


def test_windows_guest(tmp_path):
    disk = tmp_path / "win.img"
    subprocess.run(["mkfs.vfat", "-C", str(disk), "32768"], check=True, capture_output=True)
    subprocess.run(["mmd", "-i", str(disk), "::/Windows", "::/Windows/System32"], check=True)
    before = _sha256(disk)
    _bad(_xen_inspect(str(disk)), f"{disk}: a Windows guest", "Linux guests only")
    assert _sha256(disk) == before
