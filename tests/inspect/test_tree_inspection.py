"""Inspection of directory trees (the SUSE fixtures) through the same gatherers."""

from __future__ import annotations

import json
import os

import pytest
from click.testing import CliRunner

from xenshift.cli.inspect_cmd import inspect_command
from xenshift.inspect import assess, inspect_tree
from xenshift.inspect.errors import InspectError, NoOperatingSystemError
from xenshift.inspect.files import TreeFiles


def test_sles11_facts(sles11):
    assert (sles11.os.distro, sles11.os.major, sles11.os.minor) == ("sles", 11, 4)
    assert sles11.bootloader.kind == "grub-legacy"
    assert [e.os_device for e in sles11.bootloader.device_map] == ["/dev/xvda"]
    [kernel] = sles11.kernels  # the vmlinuz-xen symlink is not a second kernel
    assert (kernel.version, kernel.package, kernel.pv_only) == ("3.0.101-63-xen", "kernel-xen", True)
    assert kernel.boot_entries == (0, 1)
    assert kernel.drivers["xen_blkfront"] == "module" and kernel.drivers["virtio_blk"] == "absent"
    assert sles11.initrd.tool == "mkinitrd"
    assert sles11.initrd.image_for("3.0.101-63-xen").drivers == ("xen_blkfront", "xen_netfront")
    assert {(s.name, s.value) for s in sles11.initrd.settings} >= {("DOMU_INITRD_MODULES", "xennet xenblk")}
    assert [e.tty for e in sles11.console.inittab if e.tty] == ["tty1", "tty2", "xvc0"]
    assert "xvc0" in {e.tty for e in sles11.console.securetty}
    assert {r.spec for r in sles11.storage.of_kind("xen")} == {"/dev/xvda1", "/dev/xvda2", "/dev/xvda"}
    assert [(p.name, p.mac) for p in sles11.network.pins] == [("eth0", "00:16:3e:1a:2b:3c")]
    assert [c.name for c in sles11.network.configs] == ["eth0"]
    assert not sles11.network.predictable_names
    assert [(a.alias, a.module) for a in sles11.xen.modprobe_aliases] == [
        ("eth0", "xennet"), ("scsi_hostadapter", "xenblk")]


def test_sles11_blocked_everywhere_naming_the_package(sles11):
    verdicts = assess(sles11)
    for target in ("hvm", "pvh", "kvm"):
        assert verdicts[target].status == "blocked"
        [finding] = [f for f in verdicts[target].findings if f.blocking]
        assert finding.code == "pv-only-kernels" and "install kernel-default" in finding.message


def test_sles12_facts(sles12):
    assert (sles12.os.distro, sles12.os.version) == ("sles", "12.1")
    b = sles12.bootloader
    assert (b.kind, b.config, b.default_entry) == ("grub2", "/boot/grub2/grub.cfg", 0)
    assert b.sysconfig["LOADER_TYPE"] == "grub2" and "grub2-install" in b.tools
    origins = {c.origin for c in b.cmdlines}
    assert {"GRUB_CMDLINE_LINUX_DEFAULT", "DEFAULT_APPEND", "XEN_KERNEL_APPEND"} <= origins
    by_version = {k.version: k for k in sles12.kernels}
    assert by_version["3.12.49-11-xen"].pv_only and not by_version["3.12.49-11-default"].pv_only
    assert by_version["3.12.49-11-default"].pvh is False
    assert sles12.default_kernel().version == "3.12.49-11-default"
    assert sles12.initrd.tool == "dracut"
    assert ("add_drivers+=", "xen-blkfront xen-netfront xenblk xennet") in {
        (s.name, s.value) for s in sles12.initrd.settings}
    assert [(g.unit, g.tty) for g in sles12.console.getty_units] == [
        ("getty@tty1.service", "tty1"), ("getty@xvc0.service", "xvc0")]
    assert {c.device for c in sles12.console.kernel_consoles} == {"hvc0", "xvc0"}
    assert sles12.storage.of_kind("label")[0].spec == "LABEL=srv"
    assert sles12.network.configs[0].mac == "00:16:3e:4d:5e:6f"


def test_sles12_verdicts(sles12):
    verdicts = assess(sles12)
    assert verdicts["pvh"].status == "blocked"  # a 3.12 kernel has no PVH
    kvm = {f.code: f for f in verdicts["kvm"].findings}
    assert verdicts["kvm"].status == "needs-changes"
    assert {"device-names", "xen-console", "securetty", "initrd-drivers", "xen-leftovers"} <= set(kvm)
    assert "virtio_blk" in kvm["initrd-drivers"].message and "dracut" in kvm["initrd-drivers"].message
    assert "LABEL=srv" not in kvm["device-names"].message
    assert verdicts["hvm"].status == "needs-changes"


def test_tree_files_keep_links_inside_the_root(sles12_root, tmp_path):
    files = TreeFiles(sles12_root)
    link = sles12_root / "etc/escape"
    os.symlink("/etc/os-release", link)  # absolute: the guest's own file
    try:
        assert files.read_bytes("/etc/escape") == (sles12_root / "etc/os-release").read_bytes()
        os.symlink("../../../../../../etc/hostname", sles12_root / "etc/up")
        assert files.read_bytes("/etc/up") == (sles12_root / "etc/hostname").read_bytes()
    finally:
        link.unlink()
        (sles12_root / "etc/up").unlink(missing_ok=True)
    assert files.readlink("/boot/vmlinuz-xen") == "vmlinuz-3.12.49-11-xen"
    assert files.readlink("/boot/vmlinuz-3.12.49-11-xen") is None
    assert files.listdir("/nonexistent") == [] and not files.is_file("/etc")


def test_tree_errors(tmp_path):
    with pytest.raises(InspectError, match="no /etc"):
        inspect_tree(tmp_path)
    (tmp_path / "etc").mkdir()
    with pytest.raises(NoOperatingSystemError):
        inspect_tree(tmp_path)


def test_cli_on_a_tree_text_and_json(sles12_root):
    runner = CliRunner()
    text = runner.invoke(inspect_command, [str(sles12_root)])
    assert text.exit_code == 0, text.output
    assert "bootloader: grub2" in text.output and "kvm: needs-changes" in text.output
    result = runner.invoke(inspect_command, [str(sles12_root), "--json"])
    data = json.loads(result.output)
    assert data["readiness"]["pvh"]["status"] == "blocked"
    assert data["facts"]["layout"] is None
    assert data["facts"]["initrd"]["tool"] == "dracut"
