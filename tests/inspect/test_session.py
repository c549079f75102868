"""The appliance's CPU model under forced TCG (no launch needed)."""

from __future__ import annotations

import guestfs

from xenshift.inspect.session import TCG_CPU, tcg_cpu


def _handle(monkeypatch, settings: str | None) -> guestfs.GuestFS:
    # libguestfs reads its backend settings from the environment when a
    # handle is created.
    if settings is None:
        monkeypatch.delenv("LIBGUESTFS_BACKEND_SETTINGS", raising=False)
    else:
        monkeypatch.setenv("LIBGUESTFS_BACKEND_SETTINGS", settings)
    return guestfs.GuestFS(python_return_dict=True)


def test_forced_tcg_gets_the_default_model(monkeypatch):
    monkeypatch.delenv("XENSHIFT_TCG_CPU", raising=False)
    assert tcg_cpu(_handle(monkeypatch, "force_tcg")) == TCG_CPU
    assert tcg_cpu(_handle(monkeypatch, "gdb:force_tcg")) == TCG_CPU


def test_without_forced_tcg_libguestfs_chooses(monkeypatch):
    assert tcg_cpu(_handle(monkeypatch, None)) is None
    assert tcg_cpu(_handle(monkeypatch, "force_kvm")) is None


def test_the_model_can_be_overridden_or_left_to_libguestfs(monkeypatch):
    monkeypatch.setenv("XENSHIFT_TCG_CPU", "Haswell-noTSX")
    assert tcg_cpu(_handle(monkeypatch, "force_tcg")) == "Haswell-noTSX"
    monkeypatch.setenv("XENSHIFT_TCG_CPU", "")
    assert tcg_cpu(_handle(monkeypatch, "force_tcg")) is None


def test_btrfs_subvolumes_are_named_on_the_guest_s_devices():
    """libguestfs names a subvolume fstab mounts ``btrfsvol:DEVICE/PATH``:
    the device takes the guest's name and back, the subvolume stays."""
    from xenshift.inspect.session import GuestSession
    from xenshift.inspect.sources import DiskImage

    session = GuestSession([DiskImage("/i/xvda.img", "xvda", "raw", 2 << 30)])
    # What open() learns from the appliance's devices.
    session._disk_by_letter = {"a": session.disks[0]}
    session._device_by_vdev = {"xvda": "/dev/sda"}
    assert session.guest_device("btrfsvol:/dev/sda1//@/home") == "btrfsvol:/dev/xvda1//@/home"
    assert session.appliance_device("btrfsvol:/dev/xvda1//@/home") == "btrfsvol:/dev/sda1//@/home"
    assert session.guest_device("btrfsvol:/dev/mapper/vg-root/@") == "btrfsvol:/dev/mapper/vg-root/@"
