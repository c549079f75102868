"""Guest plans for a Debian PV guest (the shape of fixture a, b, c) from text."""

from __future__ import annotations

import dataclasses

import pytest

from xenshift.convert.guest.plan import GrubInstall, GuestCommand, RebuildInitrd, SetDefaultEntry
from xenshift.convert.report import ChangeReport
from tests.convert.guest.trees import (BOOT_UUID, KVER, MAC, MODULES, ROOT_UUID, SWAP_UUID,
                                       after, debian_tree, facts_of, plan, with_layout)


@pytest.fixture
def debian(tmp_path):
    facts, texts = facts_of(debian_tree(tmp_path / "root"))
    return with_layout(facts, "a"), texts


def test_a_modular_disk_helper_is_listed_once(tmp_path):
    """sd_mod as a module is both a wanted driver and a disk helper: the
    modules file names it once."""
    dep = "".join(f"kernel/{m}.ko:\n" for m in (*MODULES, "drivers/scsi/sd_mod"))
    facts, texts = facts_of(debian_tree(tmp_path / "root",
                                        {f"lib/modules/{KVER}/modules.dep": dep}))
    p = plan(with_layout(facts, "a"), texts, "kvm")
    assert after(p, "/etc/initramfs-tools/modules").split().count("sd_mod") == 1
    assert "sd_mod" in p.steps[0].drivers


def test_kvm_renames_devices_moves_the_console_and_rebuilds_boot(debian):
    facts, texts = debian
    p = plan(facts, texts, "kvm")
    assert after(p, "/etc/fstab").splitlines()[1:] == [
        "/dev/vda1\t/\text4\terrors=remount-ro\t0\t1", "/dev/vdb\tnone\tswap\tsw\t0\t0"]
    grub = after(p, "/etc/default/grub")
    assert 'GRUB_CMDLINE_LINUX="console=tty0 console=ttyS0,115200"' in grub
    assert 'GRUB_DISABLE_LINUX_UUID="false"' in grub
    assert 'GRUB_TERMINAL="console serial"' in grub
    assert after(p, "/etc/initramfs-tools/modules").split() == [
        "xen-blkfront", "xen-netfront", "ext4", "virtio_blk", "virtio_scsi", "virtio_pci",
        "virtio_net", "sd_mod"]
    # The config is regenerated, so its own lines are left to grub-mkconfig.
    assert "/boot/grub/grub.cfg" not in {e.path for e in p.files}
    initrd, mkconfig, install = p.steps
    assert isinstance(initrd, RebuildInitrd)
    assert initrd.argv == ("update-initramfs", "-u", "-k", KVER)
    assert initrd.drivers == ("virtio_blk", "virtio_scsi", "virtio_pci", "virtio_net")
    assert isinstance(mkconfig, GuestCommand) and mkconfig.produces == ("/boot/grub/grub.cfg",)
    assert isinstance(install, GrubInstall)
    assert (install.vdev, install.tool, install.modules_dir) == ("xvda", None,
                                                                  "/usr/lib/grub/i386-pc")
    assert [d.action for d in p.disks] == ["copy", "copy"]
    [link] = p.links
    assert link.path.endswith("serial-getty@ttyS0.service")
    assert link.after == "/lib/systemd/system/serial-getty@.service"
    assert f"MACAddress={MAC}" in after(p, "/etc/systemd/network/10-xenshift-eth0.link")
    assert not p.warnings


def test_hvm_names_disks_by_uuid(debian):
    facts, texts = debian
    p = plan(facts, texts, "hvm")
    assert after(p, "/etc/fstab").splitlines()[1:] == [
        f"UUID={ROOT_UUID}\t/\text4\terrors=remount-ro\t0\t1",
        f"UUID={SWAP_UUID}\tnone\tswap\tsw\t0\t0"]
    [initrd] = [s for s in p.steps if isinstance(s, RebuildInitrd)]
    assert initrd.drivers == ("ata_piix", "ahci", "xen_blkfront", "xen_netfront")
    assert "ata_generic" in after(p, "/etc/initramfs-tools/modules").split()
    assert any(isinstance(s, GrubInstall) for s in p.steps)


def test_pvh_keeps_the_pv_guest_as_it_is(debian):
    facts, texts = debian
    p = plan(facts, texts, "pvh")
    assert (p.files, p.links, p.steps, p.warnings) == ((), (), (), ())
    assert [d.action for d in p.disks] == ["copy", "copy"]


@pytest.mark.parametrize("target", ["kvm", "hvm"])
def test_fstab_lines_of_disks_the_config_lacks_do_not_hold_up_the_boot(tmp_path, target):
    facts, texts = facts_of(debian_tree(tmp_path / "root", {
        "etc/fstab": "/dev/xvda1 / ext4 errors=remount-ro 0 1\n"
                     "/dev/xvdb1\tnone\tswap\tsw\t0\t0  # old swap disk\n"
                     "/dev/xvdc /srv\n"}))
    p = plan(with_layout(facts, "a"), texts, target, vdevs=("xvda",))
    fstab = after(p, "/etc/fstab").splitlines()
    assert fstab[1] == ("/dev/xvdb1\tnone\tswap\tsw,nofail,x-systemd.device-timeout=10s"
                        "\t0\t0  # old swap disk")
    assert fstab[2] == "/dev/xvdc /srv auto defaults,nofail,x-systemd.device-timeout=10s"
    [edit] = [e for e in p.files if e.path == "/etc/fstab"]
    assert any("xvdb1 is not a disk of the config" in c.reason for c in edit.changes)
    assert not [w for w in p.warnings if "xvdb1" in w.message]


@pytest.mark.parametrize("target", ["kvm", "hvm"])
def test_root_in_grub_cmdline_goes_as_grub_mkconfig_writes_its_own(tmp_path, target):
    facts, texts = facts_of(debian_tree(tmp_path / "root", {
        "etc/default/grub": 'GRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX_DEFAULT="quiet root=/dev/xvda1"\n'
                            'GRUB_CMDLINE_LINUX="root=/dev/xvda1 console=hvc0 elevator=noop"\n'}))
    p = plan(with_layout(facts, "a"), texts, target)
    grub = after(p, "/etc/default/grub")
    assert 'GRUB_CMDLINE_LINUX_DEFAULT="quiet"' in grub
    assert "root=" not in grub
    assert 'GRUB_CMDLINE_LINUX="console=tty0 console=ttyS0,115200 elevator=noop"' in grub


def test_grub_already_in_the_mbr_is_not_reinstalled(tmp_path):
    facts, texts = facts_of(debian_tree(tmp_path / "root"))
    p = plan(with_layout(facts, "a", boot_code="grub"), texts, "kvm")
    assert not [s for s in p.steps if isinstance(s, GrubInstall)]


def test_partitionless_disk_is_rebuilt_and_referenced_as_its_partition(tmp_path):
    facts, texts = facts_of(debian_tree(tmp_path / "root", {
        "etc/fstab": "/dev/xvda / ext4 defaults 0 1\n/dev/xvdb none swap sw 0 0\n"}))
    facts = with_layout(facts, "b")
    p = plan(facts, texts, "kvm")
    assert [(d.vdev, d.action, d.uuid) for d in p.disks] == [
        ("xvda", "partition", ROOT_UUID), ("xvdb", "copy", None)]
    assert after(p, "/etc/fstab").split("\n")[0] == "/dev/vda1 / ext4 defaults 0 1"
    # GRUB goes in once the disk has its partition table; the rest before.
    assert [type(s) for s in p.layout_steps()] == [GuestCommand, GrubInstall]
    assert [type(s) for s in p.guest_steps()] == [RebuildInitrd]
    assert "rebuilt" in p.layout_steps()[1].reason
    hvm = plan(facts, texts, "hvm")
    assert after(hvm, "/etc/fstab").startswith(f"UUID={ROOT_UUID} / ext4")
    # PVH keeps pygrub, which reads a whole-disk file system.
    assert [d.action for d in plan(facts, texts, "pvh").disks] == ["copy", "copy"]


def test_lvm_root_and_separate_boot(tmp_path):
    facts, texts = facts_of(debian_tree(tmp_path / "root", {
        "etc/fstab": "/dev/mapper/guestvg-root / ext4 defaults 0 1\n"
                     "/dev/xvda1 /boot ext4 defaults 0 2\n/dev/xvdb none swap sw 0 0\n"}))
    facts = with_layout(facts, "c")
    kvm = plan(facts, texts, "kvm")
    assert after(kvm, "/etc/fstab").splitlines() == [
        "/dev/mapper/guestvg-root / ext4 defaults 0 1", "/dev/vda1 /boot ext4 defaults 0 2",
        "/dev/vdb none swap sw 0 0"]
    [install] = [s for s in kvm.steps if isinstance(s, GrubInstall)]
    assert install.vdev == "xvda"
    hvm = plan(facts, texts, "hvm")
    assert f"UUID={BOOT_UUID} /boot" in after(hvm, "/etc/fstab")


def test_a_disk_missing_from_the_config_is_left_and_named(debian):
    facts, texts = debian
    p = plan(facts, texts, "kvm", names={"xvda": "vda"})
    assert "/dev/xvdb\tnone" in after(p, "/etc/fstab")
    [warning] = p.warnings
    assert "/etc/fstab:3 /dev/xvdb (xvdb is not a disk of the config)" in warning.message


def test_nic_without_a_mac_is_not_pinned(debian):
    facts, texts = debian
    p = plan(facts, texts, "kvm", macs=(None,))
    assert not [e for e in p.files if e.path.endswith(".link")]
    assert "give the vif a mac=" in p.warnings[0].message


def test_no_predictable_names_no_pin(tmp_path):
    facts, texts = facts_of(debian_tree(tmp_path / "root", {
        "lib/udev/rules.d/80-net-setup-link.rules": None}))
    p = plan(with_layout(facts), texts, "kvm")
    assert not [e for e in p.files if e.path.endswith(".link")]


def test_guest_without_console_argument_gets_the_serial_console(tmp_path):
    facts, texts = facts_of(debian_tree(tmp_path / "root", {
        "etc/default/grub": 'GRUB_CMDLINE_LINUX="quiet"\n', "boot/grub/grub.cfg": None}))
    p = plan(with_layout(facts), texts, "kvm")
    assert after(p, "/etc/default/grub").splitlines()[0] == \
        'GRUB_CMDLINE_LINUX="quiet console=tty0 console=ttyS0,115200"'


def test_initrd_holding_the_drivers_is_not_rebuilt(tmp_path):
    facts, texts = facts_of(debian_tree(tmp_path / "root"))
    facts = with_layout(facts)
    image = facts.initrd.images[0]
    full = dataclasses.replace(image, drivers=("virtio_blk", "virtio_scsi", "virtio_pci",
                                               "virtio_net", "xen_blkfront", "xen_netfront"))
    facts = dataclasses.replace(facts, initrd=dataclasses.replace(facts.initrd, images=(full,)))
    p = plan(facts, texts, "kvm")
    assert not [s for s in p.steps if isinstance(s, RebuildInitrd)]
    assert "/etc/initramfs-tools/modules" not in {e.path for e in p.files}


def test_selinux_enforcing_relabels(tmp_path):
    facts, texts = facts_of(debian_tree(tmp_path / "root",
                                        {"etc/selinux/config": "SELINUX=enforcing\n"}))
    p = plan(with_layout(facts), texts, "kvm")
    assert after(p, "/.autorelabel") == ""


def test_xen_tools_are_purged_on_kvm_only(tmp_path):
    status = (f"Package: linux-image-{KVER}\nStatus: install ok installed\nVersion: 1\n\n"
              "Package: xe-guest-utilities\nStatus: install ok installed\nVersion: 7\n")
    facts, texts = facts_of(debian_tree(tmp_path / "root", {"var/lib/dpkg/status": status}))
    facts = with_layout(facts)
    kvm = plan(facts, texts, "kvm")
    [purge] = [s for s in kvm.steps if s.concern == "xen"]
    assert purge.argv == ("dpkg", "--purge", "xe-guest-utilities")
    assert not [s for s in plan(facts, texts, "hvm").steps if s.concern == "xen"]


def test_default_kernel_made_the_regular_one(tmp_path):
    xen = "2.6.32-5-xen-amd64"
    cfg = (f"set default=\"1>0\"\nmenuentry 'Debian' {{\n\tlinux /boot/vmlinuz-{KVER} "
           "root=/dev/xvda1 console=hvc0\n}\nsubmenu 'Advanced' {\n"
           f"\tmenuentry 'Debian, Xen' {{\n\t\tlinux /boot/vmlinuz-{xen} root=/dev/xvda1\n"
           "\t}\n}\n")
    facts, texts = facts_of(debian_tree(tmp_path / "root", {
        "boot/grub/grub.cfg": cfg, f"boot/vmlinuz-{xen}": "k\n",
        f"boot/config-{xen}": "CONFIG_X86_64_XEN=y\n"}))
    facts = with_layout(facts)
    assert facts.default_kernel().version == xen
    kvm = plan(facts, texts, "kvm")
    [default] = [s for s in kvm.steps if isinstance(s, SetDefaultEntry)]
    assert default.kernel == f"/boot/vmlinuz-{KVER}" and default.regenerate in kvm.steps
    # Without regeneration (PVH keeps pygrub) the config's own default line changes.
    pvh = plan(facts, texts, "pvh")
    assert after(pvh, "/boot/grub/grub.cfg").startswith('set default="0"\n')


def test_report_and_renderings(debian):
    facts, texts = debian
    p = plan(facts, texts, "kvm")
    report = ChangeReport("g.cfg", "kvm")
    p.record(report)
    subjects = [c.subject for c in report.changes]
    assert "guest /etc/fstab:2" in subjects and "guest initrd" in subjects
    link = next(c for c in report.changes
                if c.subject == "guest /etc/systemd/network/10-xenshift-eth0.link")
    assert link.after == f"[Match]; MACAddress={MAC}; [Link]; Name=eth0"
    text = p.to_text()
    assert "+/dev/vda1\t/\text4" in text and "# step 3: install GRUB" in text
    data = p.to_json()
    assert data["target"] == "kvm" and data["kernel"] == KVER
    fstab = next(f for f in data["files"] if f["path"] == "/etc/fstab")
    assert fstab["changes"][0]["before"].startswith("/dev/xvda1")


def test_partition_vdev_root_becomes_a_partitioned_kvm_disk(tmp_path):
    """An EC2-style guest: the root file system is the whole image given as xvda1."""
    facts, texts = facts_of(debian_tree(tmp_path / "root"))
    facts = with_layout(facts, "b")
    xvda1 = dataclasses.replace(facts.layout.disks[0], vdev="xvda1", filesystem=dataclasses.replace(
        facts.layout.disks[0].filesystem, device="/dev/xvda1"))
    facts = dataclasses.replace(
        facts, layout=dataclasses.replace(facts.layout, disks=(xvda1, facts.layout.disks[1])),
        os=dataclasses.replace(facts.os, root="/dev/xvda1", mountpoints={"/": "/dev/xvda1"}))
    p = plan(facts, texts, "kvm", names={"xvda1": "vda", "xvdb": "vdb"})
    assert [(d.vdev, d.action) for d in p.disks] == [("xvda1", "partition"), ("xvdb", "copy")]
    assert after(p, "/etc/fstab").splitlines()[1].startswith("/dev/vda1\t/")
    assert [s.vdev for s in p.steps if isinstance(s, GrubInstall)] == ["xvda1"]


def test_other_settings_naming_disks(tmp_path):
    facts, texts = facts_of(debian_tree(tmp_path / "root", {
        "etc/sysconfig/grub": "# grub-install target\nboot=/dev/xvda\nforcelba=0\n"}))
    facts = with_layout(facts)
    kvm = plan(facts, texts, "kvm")
    assert after(kvm, "/etc/sysconfig/grub").splitlines()[1] == "boot=/dev/vda"
    hvm = plan(facts, texts, "hvm")
    assert "/etc/sysconfig/grub" not in {e.path for e in hvm.files}
    assert "/etc/sysconfig/grub:2 /dev/xvda (no file system" in hvm.warnings[0].message
