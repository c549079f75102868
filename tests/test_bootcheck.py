"""The boot check's QEMU command lines and its watch over the serial console."""

from __future__ import annotations

import os

import pytest

from xenshift.bootcheck import BootCheckError, default_accel, qemu_argv, run_boot
from xenshift.convert.libvirt import DiskImage

DISKS = [DiskImage("/o/a.qcow2", "qcow2"), DiskImage("/o/b.img", "raw")]


def test_kvm_boots_virtio_disks_and_nics_from_a_snapshot():
    argv = qemu_argv(DISKS, "kvm", ["00:16:3e:00:00:0a"], "tcg")
    line = " ".join(argv)
    assert "-machine q35,accel=tcg" in line and "-snapshot" in argv
    assert "file=/o/a.qcow2,format=qcow2,if=virtio" in line
    assert "file=/o/b.img,format=raw,if=virtio" in line
    assert "virtio-net-pci,netdev=net0,mac=00:16:3e:00:00:0a" in line
    assert "-cpu" not in argv


def test_hvm_boots_ide_disks_on_a_pc_with_e1000():
    line = " ".join(qemu_argv(DISKS, "hvm", [None], "kvm"))
    assert "-machine pc,accel=kvm" in line and "-cpu host" in line
    assert "if=ide" in line and "e1000,netdev=net0" in line and "mac=" not in line


def test_sata_disks_sit_on_the_q35_ahci_ports():
    line = " ".join(qemu_argv(DISKS, "kvm", [], "tcg", "q35", "sata"))
    assert "ide-hd,drive=disk0,bus=ide.0" in line and "ide-hd,drive=disk1,bus=ide.1" in line


def test_pvh_cannot_be_checked():
    with pytest.raises(BootCheckError, match="boots under Xen only"):
        qemu_argv(DISKS, "pvh", [], "tcg")


def test_accel_from_the_environment(monkeypatch):
    monkeypatch.delenv("XENSHIFT_BOOT_ACCEL", raising=False)
    assert default_accel() == "tcg"
    monkeypatch.setenv("XENSHIFT_BOOT_ACCEL", "kvm")
    assert default_accel() == "kvm"
    monkeypatch.setenv("XENSHIFT_BOOT_ACCEL", "hax")
    with pytest.raises(BootCheckError):
        default_accel()


def _fake(script: str) -> list[str]:
    return ["sh", "-c", script]


def test_login_prompt_counts_and_the_process_is_stopped(tmp_path):
    pidfile = tmp_path / "pid"
    result = run_boot(_fake(f"echo $$ > {pidfile}; printf 'Debian 12\\r\\n\\033[0;1mguest "
                            "login: '; exec sleep 60"), 20)
    assert result.booted and result.evidence == "guest login:"
    assert result.seconds < 20
    pid = int(pidfile.read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_multi_user_target_counts():
    result = run_boot(_fake("echo '[  OK  ] Reached target multi-user.target - Multi-User "
                            "System.'; exec sleep 60"), 20)
    assert result.booted and "multi-user.target" in result.evidence


def test_panic_fails_fast_and_timeout_fails():
    panic = run_boot(_fake("echo 'Kernel panic - not syncing: VFS'; exec sleep 60"), 20)
    assert not panic.booted and panic.seconds < 20 and "Kernel panic" in panic.tail()
    slow = run_boot(_fake("echo starting; exec sleep 60"), 1)
    assert not slow.booted and slow.log == "starting\n"
