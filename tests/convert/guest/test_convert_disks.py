"""The real fixtures converted by ``xen2kvm``/``xen2hvm`` and booted under QEMU.

Slow: each conversion starts one libguestfs appliance (two for the
partitionless shape), rebuilds an initrd under TCG and boots the result
(``--verify-boot``: QEMU with ``accel=tcg``, virtio disks for KVM, IDE
disks for HVM, ``-snapshot``) to a login prompt or systemd's multi-user
target on ttyS0. Sources are hashed before and after: they never change.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.convert.libvirt.conftest import libvirtd, unique_name, virsh  # noqa: F401
from tests.digests import sha256

pytestmark = pytest.mark.slow
# A bounded wait for userspace: a TCG boot of these guests takes 30-90 s.
BOOT_TIMEOUT = "420"
# A conversion with its boot takes 6-10 minutes under TCG here: make test
# boots fixture (a) on KVM (the main path) and leaves the other shapes and
# targets to -m extended.
EXTENDED = pytest.mark.extended


@pytest.fixture(scope="session")
def source_hashes(pv_guest):
    """``source_hashes(shape)``: the fixture's disk hashes, taken once."""
    taken = {}

    def get(shape: str) -> dict[str, str]:
        if shape not in taken:
            taken[shape] = {v: sha256(p) for v, p in pv_guest(shape).disks.items()}
        return taken[shape]

    return get


def command(name: str, *args: str, timeout: int = 1200) -> subprocess.CompletedProcess:
    """Run an installed xenshift command, output captured."""
    return subprocess.run([str(Path(sys.executable).parent / name), *args],
                          capture_output=True, text=True, timeout=timeout)


def renamed_config(pv_guest, shape: str, tmp_path: Path, name: str) -> Path:
    """The fixture's xl config, under a domain name of the test's own."""
    text = pv_guest(shape).config.read_text()
    config = tmp_path / f"{name}.cfg"
    config.write_text(text.replace(f'name = "xenshift-pv-{shape}"', f'name = "{name}"'))
    return config


def converted(proc: subprocess.CompletedProcess) -> dict:
    """The JSON result of a conversion that must have succeeded and booted."""
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout)
    assert result["boot"]["booted"], result
    return result


def changed_subjects(result: dict) -> set[str]:
    return {c["subject"] for c in result["report"]["changes"] if c["kind"] == "changed"}


def test_a_to_kvm_boots_on_virtio_and_is_defined(pv_guest, source_hashes, tmp_path, record_boot,
                                                 libvirtd):  # noqa: F811
    record_boot("a", "kvm")
    name = unique_name("pv-a")
    config = renamed_config(pv_guest, "a", tmp_path, name)
    out = tmp_path / "out"
    result = converted(command("xen2kvm", str(config), "-o", str(out), "--verify-boot",
                               "--boot-timeout", BOOT_TIMEOUT, "--define", "--json"))
    try:
        assert result["defined"] and virsh("dominfo", name).returncode == 0
    finally:
        virsh("undefine", name)
    assert sorted(p.name for p in out.iterdir()) == [
        f"{name}-xvda.qcow2", f"{name}-xvdb.qcow2", f"{name}.xml"]
    xml = (out / f"{name}.xml").read_text()
    assert f"{out}/{name}-xvda.qcow2" in xml and 'type="qcow2"' in xml
    plan = result["guest"]["plan"]
    assert [s["concern"] for s in plan["steps"]] == ["initrd", "bootloader", "bootloader"]
    assert {"guest /etc/fstab:3", "guest /boot/grub/grub.cfg",
            f"guest /boot/initrd.img-{plan['kernel']}"} <= changed_subjects(result)
    assert result["guest"]["facts"]["disks"][0]["boot_code"] == "none"
    assert {v: sha256(p) for v, p in pv_guest("a").disks.items()} == source_hashes("a")


@EXTENDED
def test_a_to_hvm_in_place_boots_on_ide(pv_guest, source_hashes, tmp_path, record_boot):
    """In place, on copies of the fixture's disks: backups first, kept after."""
    record_boot("a", "hvm")
    guest = pv_guest("a")
    text = guest.config.read_text()
    for vdev, path in guest.disks.items():
        copy = tmp_path / path.name
        subprocess.run(["cp", "--sparse=always", str(path), str(copy)], check=True)
        text = text.replace(str(path), str(copy))
    config = tmp_path / "a.cfg"
    config.write_text(text)
    out = tmp_path / "out"
    result = converted(command("xen2hvm", str(config), "-o", str(out), "--in-place",
                               "--verify-boot", "--boot-timeout", BOOT_TIMEOUT, "--json"))
    assert [p.name for p in out.iterdir()] == ["xenshift-pv-a.cfg"]
    written = (out / "xenshift-pv-a.cfg").read_text()
    assert 'type = "hvm"' in written and str(tmp_path / "xvda.img") in written
    assert "vdev=hda" in written
    for vdev, path in guest.disks.items():
        backup = tmp_path / (path.name + ".xenshift-backup")
        assert sha256(backup) == source_hashes("a")[vdev]
    fstab = next(f for f in result["guest"]["plan"]["files"] if f["path"] == "/etc/fstab")
    assert fstab["changes"][0]["after"].startswith("UUID=")
    assert {v: sha256(p) for v, p in guest.disks.items()} == source_hashes("a")


@EXTENDED
@pytest.mark.parametrize("shape, option", [("b", "-of raw"), ("c", "--overlay")])
def test_other_shapes_to_kvm_boot(pv_guest, source_hashes, tmp_path, shape, option,
                                  record_boot):
    record_boot(shape, "kvm")
    out = tmp_path / "out"
    guest = pv_guest(shape)
    result = converted(command("xen2kvm", str(guest.config), "-o", str(out), *option.split(),
                               "--verify-boot", "--boot-timeout", BOOT_TIMEOUT, "--json"))
    disks = {d["vdev"]: d["action"] for d in result["guest"]["plan"]["disks"]}
    assert disks == {"xvda": "partition" if shape == "b" else "copy", "xvdb": "copy"}
    images = {Path(p).name: Path(p) for p in result["outputs"][1:]}
    if shape == "b":
        assert sorted(images) == ["xenshift-pv-b-xvda.img", "xenshift-pv-b-xvdb.img"]
        assert _info(images["xenshift-pv-b-xvda.img"])["virtual-size"] == (2 << 30) + (1 << 20)
    else:
        # Overlays on the sources: nothing copied, the sources still untouched.
        for vdev, path in guest.disks.items():
            info = _info(images[f"xenshift-pv-c-{vdev}.qcow2"])
            assert info["backing-filename"] == str(path)
    assert {v: sha256(p) for v, p in guest.disks.items()} == source_hashes(shape)


@EXTENDED
@pytest.mark.parametrize("shape, tool", [
    ("d", "xen2kvm"), ("d", "xen2hvm"), ("e", "xen2kvm"), ("e", "xen2hvm"),
    ("f", "xen2kvm"), ("f", "xen2hvm"), ("g", "xen2kvm"), ("g", "xen2hvm"),
    ("h", "xen2kvm"), ("h", "xen2hvm"), ("i", "xen2kvm")])
def test_guest_families_convert_and_boot(pv_guest, source_hashes, tmp_path, shape, tool,
                                         record_boot):
    """Each family to KVM and to HVM (the EC2 layout's HVM boot has a test
    of its own below): a dracut guest whose drivers+= list is exclusive
    must gain the whole disk path of the target (from IDE: ata_piix, ahci,
    sd_mod); a btrfs root with SUSE's subvolumes: GRUB installed and
    configured on btrfs, and the subvolumes fstab mounts still mounted at
    boot (a missing one stops systemd in emergency mode, before any login
    prompt)."""
    record_boot(shape, "kvm" if tool == "xen2kvm" else "hvm")
    guest = pv_guest(shape)
    result = converted(command(tool, str(guest.config), "-o", str(tmp_path / "out"),
                               "--verify-boot", "--boot-timeout", BOOT_TIMEOUT, "--json"))
    [initrd] = [s for s in result["guest"]["plan"]["steps"] if s["concern"] == "initrd"]
    if guest.shape.initrd_tool == "dracut":
        assert initrd["what"].startswith("dracut ")
        needed = {"ata_piix", "ahci", "sd_mod"} if tool == "xen2hvm" else {"virtio_blk"}
        assert needed <= set(initrd["reason"].split(" with ", 1)[1].split(", "))
        [rebuilt] = [c for c in result["report"]["changes"]
                     if c["subject"].startswith("guest /boot/initrd.img-")]
        assert "lsinitrd agrees" in rebuilt["reason"]
    assert result["guest"]["facts"]["os"]["version"].startswith(str(guest.shape.release))
    assert {v: sha256(p) for v, p in guest.disks.items()} == source_hashes(shape)


@EXTENDED
def test_ec2_layout_root_partition_is_rebuilt_whole_and_boots(pv_guest, source_hashes,
                                                               tmp_path, record_boot):
    """Shape i: the root file system as the partition vdev xvda1 beside swap
    on xvda3 and a data disk xvdb, booted by PV GRUB.  xen2hvm rebuilds the
    root as a partitioned whole disk, boots it first from IDE, and the
    guest comes up with its other disks."""
    record_boot("i", "hvm")
    guest = pv_guest("i")
    result = converted(command("xen2hvm", str(guest.config), "-o", str(tmp_path / "out"),
                               "--verify-boot", "--boot-timeout", BOOT_TIMEOUT, "--json"))
    assert any("rebuilt as a partitioned whole disk (hda)" in c["reason"]
               for c in result["report"]["changes"] if c["subject"] == "disk xvda1")
    assert {v: sha256(p) for v, p in guest.disks.items()} == source_hashes("i")


def _info(image: Path) -> dict:
    return json.loads(subprocess.run(["qemu-img", "info", "--output=json", "-U", str(image)],
                                     capture_output=True, text=True, check=True).stdout)


def test_dry_run_shows_the_guest_plan_and_writes_nothing(pv_guest, tmp_path):
    proc = command("xen2hvm", str(pv_guest("a").config), "-o", str(tmp_path / "out"),
                   "--dry-run")
    assert proc.returncode == 0, proc.stderr
    assert "+UUID=" in proc.stdout and "# step 3: install GRUB" in proc.stdout
    assert "changed  guest /etc/fstab:3" in proc.stderr
    assert list(tmp_path.iterdir()) == []


# --- bad inputs: a clear message, exit 1, no output, the source untouched ----

def _refused(proc: subprocess.CompletedProcess, tmp_path: Path, *needles: str) -> None:
    assert proc.returncode == 1 and proc.stdout == "", proc.stdout
    assert "Traceback" not in proc.stderr
    for needle in needles:
        assert needle in proc.stderr, proc.stderr
    assert not (tmp_path / "out").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def _config_for(tmp_path: Path, image: Path, fmt: str = "raw") -> Path:
    config = tmp_path / "g.cfg"
    config.write_text(f'name = "g"\ntype = "pv"\nbootloader = "pygrub"\nmemory = 256\n'
                      f'disk = [ "format={fmt}, vdev=xvda, access=rw, target={image}" ]\n')
    return config


def test_missing_disk_file(tmp_path):
    config = _config_for(tmp_path, tmp_path / "gone.img")
    _refused(command("xen2kvm", str(config), "-o", str(tmp_path / "out")), tmp_path,
             f"{tmp_path}/gone.img: no such disk image (disk xvda in {config})")


def test_corrupt_image(tmp_path):
    image = tmp_path / "bad.qcow2"
    image.write_bytes(b"QFI\xfb\0\0\0\3" + b"\xff" * 100)
    config = _config_for(tmp_path, image, "qcow2")
    _refused(command("xen2hvm", str(config), "-o", str(tmp_path / "out")), tmp_path,
             f"{image}: not a readable disk image")


def test_unknown_os_in_place_restores_the_source(tmp_path):
    image = tmp_path / "data.img"
    subprocess.run(["mkfs.ext4", "-q", str(image), "32M"], check=True)
    before = sha256(image)
    config = _config_for(tmp_path, image)
    _refused(command("xen2hvm", str(config), "-o", str(tmp_path / "out"), "--in-place"),
             tmp_path, "no operating system found")
    assert sha256(image) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.img", "g.cfg"]


def test_windows_guest(tmp_path):
    image = tmp_path / "win.img"
    subprocess.run(["mkfs.vfat", "-C", str(image), "32768"], check=True, capture_output=True)
    subprocess.run(["mmd", "-i", str(image), "::/Windows", "::/Windows/System32"], check=True)
    before = sha256(image)
    _refused(command("xen2kvm", str(_config_for(tmp_path, image)), "-o",
                     str(tmp_path / "out")), tmp_path, "a Windows guest", "Linux guests only")
    assert sha256(image) == before


def test_pv_only_kernel_names_the_package_to_install(tmp_path):
    from fixtures.images.suse_trees import materialize

    tree = materialize("sles11-sp4-pv", tmp_path / "tree")
    (tree / "bin").mkdir()  # libguestfs takes a root for Linux by its /bin
    (tree / "bin/bash").write_text("")
    (tree / "etc/fstab").write_text("/dev/xvda / ext4 defaults 1 1\n")  # the image's layout
    image = tmp_path / "sles11.img"
    subprocess.run(["mkfs.ext4", "-q", "-d", str(tree), str(image), "64M"], check=True)
    shutil.rmtree(tree)
    before = sha256(image)
    _refused(command("xen2kvm", str(_config_for(tmp_path, image)), "-o",
                     str(tmp_path / "out")), tmp_path,
             "cannot convert this guest to kvm", "only PV-only Xen kernels (kernel-xen)",
             "install kernel-default in the guest first")
    assert sha256(image) == before
