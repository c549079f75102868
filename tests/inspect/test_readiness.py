"""Readiness rules, each exercised by changing one fact of a real-shaped guest."""

from __future__ import annotations

from dataclasses import replace

from xenshift.inspect.layout import Disk, Filesystem, LayoutFacts, Partition
from xenshift.inspect.readiness import assess, choose_kernel, verdict


def _codes(facts, target):
    return {f.code: f.blocking for f in verdict(facts, target).findings}


def _layout(table="msdos", boot_code="none", bios_boot=False, whole_fs=None):
    part = Partition(1, "/dev/xvda1", 1 << 20, 1 << 30,
                     Filesystem("/dev/xvda1", "ext4", "u", None), bios_boot)
    disk = Disk("xvda", "/x.img", "raw", 2 << 30, table if not whole_fs else None, boot_code,
                () if whole_fs else (part,), whole_fs)
    return LayoutFacts((disk,), ())


def _with_disk(facts, **layout):
    os_ = replace(facts.os, root="/dev/xvda1", mountpoints={"/": "/dev/xvda1"})
    return replace(facts, os=os_, layout=_layout(**layout))


def test_default_kernel_choice(sles12):
    xen_default = replace(sles12, bootloader=replace(sles12.bootloader, default_entry=1))
    assert xen_default.default_kernel().version == "3.12.49-11-xen"
    assert choose_kernel(xen_default, "kvm").version == "3.12.49-11-default"
    assert _codes(xen_default, "kvm")["default-kernel"] is False
    assert "default-kernel" not in _codes(sles12, "kvm")


def test_no_kernel_and_no_initrd_tool(sles12):
    assert _codes(replace(sles12, kernels=()), "hvm")["no-kernel"] is True
    no_tool = replace(sles12, initrd=replace(sles12.initrd, tool=None, tool_path=None))
    assert _codes(no_tool, "kvm")["no-initrd-tool"] is True


def test_missing_virtio_blocks_kvm_only(sles12):
    kernels = tuple(replace(k, drivers={**k.drivers, "virtio_blk": "absent", "virtio_net": "absent"})
                    for k in sles12.kernels)
    codes = _codes(replace(sles12, kernels=kernels), "kvm")
    assert codes["no-virtio_blk"] is True and codes["no-virtio_net"] is False
    assert "no-virtio_blk" not in _codes(replace(sles12, kernels=kernels), "hvm")


def test_boot_code_shapes(sles12):
    assert _codes(_with_disk(sles12), "kvm")["no-boot-code"] is False
    assert "no-boot-code" not in _codes(_with_disk(sles12, boot_code="grub"), "kvm")
    assert "foreign-boot-code" in _codes(_with_disk(sles12, boot_code="other"), "hvm")
    assert _codes(_with_disk(sles12, table="gpt"), "kvm")["no-bios-boot-partition"] is True
    assert "no-bios-boot-partition" not in _codes(_with_disk(sles12, table="gpt", bios_boot=True), "kvm")
    whole = _with_disk(sles12, whole_fs=Filesystem("/dev/xvda", "ext4", "u", None))
    whole = replace(whole, os=replace(whole.os, root="/dev/xvda", mountpoints={"/": "/dev/xvda"}))
    assert "partitionless" in _codes(whole, "kvm") and "partitionless" not in _codes(whole, "pvh")


def test_grub_modules_and_config_needed_to_install(sles12):
    # The SLES 12 tree has grub2-install but no i386-pc modules.
    assert _codes(_with_disk(sles12), "kvm")["no-grub-modules"] is True
    bare = replace(sles12.bootloader, kind=None, config=None, tools={}, platforms=())
    assert _codes(replace(_with_disk(sles12), bootloader=bare), "hvm")["no-bootloader-config"] is True


def test_selinux_and_ready(sles12, sles11):
    enforcing = replace(sles12, os=replace(sles12.os, selinux="enforcing"))
    assert "selinux-relabel" in _codes(enforcing, "kvm")
    assert "selinux-relabel" not in _codes(enforcing, "pvh")
    verdicts = assess(sles11)
    assert all(v.status == "blocked" for v in verdicts.values())
