"""Guest plans for the SUSE-shaped trees: grub2 + dracut (SLES 12), grub-legacy +
mkinitrd + inittab (SLES 11), Xen leftovers, refusals."""

from __future__ import annotations

import pytest

from fixtures.images.suse_trees import materialize
from tests.convert.guest.trees import after, facts_of, plan, write_tree
from xenshift.convert.guest import GuestRefusedError
from xenshift.convert.guest.plan import RebuildInitrd

SLES12_MAC = "00:16:3e:4d:5e:6f"
SLES11_DEFAULT = "3.0.101-63-default"


@pytest.fixture
def sles12(tmp_path):
    return facts_of(materialize("sles12-sp1-pv", tmp_path / "root"))


@pytest.fixture
def sles11_with_default_kernel(tmp_path):
    """SLES 11 SP4 after its admin installed kernel-default (third entry).

    Its config claims PVH support, which a 3.0 kernel lacks, so that the
    PVH plan has a kernel to run."""
    root = materialize("sles11-sp4-pv", tmp_path / "root")
    menu = (root / "boot/grub/menu.lst").read_text() + (
        f"\ntitle SUSE Linux Enterprise Server 11 SP4 - {SLES11_DEFAULT}\n"
        f"    root (hd0,1)\n    kernel /boot/vmlinuz-{SLES11_DEFAULT} root=/dev/xvda2 "
        "resume=/dev/xvda1 splash=silent showopts console=xvc0\n"
        f"    initrd /boot/initrd-{SLES11_DEFAULT}\n")
    modules = "".join(f"/lib/modules/{SLES11_DEFAULT}/kernel/drivers/{m}.ko:\n" for m in
                      ("block/virtio_blk", "net/virtio_net", "virtio/virtio_pci",
                       "scsi/virtio_scsi", "ata/ata_piix", "block/xen-blkfront",
                       "net/xen-netfront"))
    write_tree(root, {"boot/grub/menu.lst": menu, f"boot/vmlinuz-{SLES11_DEFAULT}": "k\n",
                      f"boot/config-{SLES11_DEFAULT}": "CONFIG_VIRTIO_BLK=m\nCONFIG_XEN_PVH=y\n",
                      f"lib/modules/{SLES11_DEFAULT}/modules.dep": modules})
    return facts_of(root)


def test_sles12_kvm(sles12):
    facts, texts = sles12
    p = plan(facts, texts, "kvm", names={"xvda": "vda"})
    assert after(p, "/etc/fstab").splitlines() == [
        "/dev/vda1  swap   swap  defaults        0  0",
        "/dev/vda2  /      ext4  acl,user_xattr  1  1",
        "LABEL=srv   /srv   ext4  defaults        1  2"]
    assert after(p, "/boot/grub2/device.map") == "(hd0)\t/dev/vda\n"
    grub = after(p, "/etc/default/grub")
    assert ('GRUB_CMDLINE_LINUX_DEFAULT=" resume=/dev/vda1 splash=silent quiet showopts '
            'console=tty0 console=ttyS0,115200"') in grub
    # Arguments for kernels under the Xen hypervisor are not this guest's.
    assert 'GRUB_CMDLINE_LINUX_XEN_REPLACE_DEFAULT="console=xvc0"' in grub
    assert 'GRUB_TERMINAL="console serial"' in grub
    bootloader = after(p, "/etc/sysconfig/bootloader")
    assert 'DEFAULT_APPEND=" resume=/dev/vda1 splash=silent quiet showopts console=tty0 ' \
           'console=ttyS0,115200"' in bootloader
    assert 'XEN_KERNEL_APPEND="console=xvc0"' in bootloader
    assert after(p, "/etc/securetty").splitlines()[-2:] == ["ttyS0", "hvc0"]
    assert after(p, "/etc/dracut.conf.d/10-xen.conf").splitlines()[1].startswith("# add_drivers")
    assert "virtio_blk" in after(p, "/etc/dracut.conf.d/90-xenshift.conf")
    assert after(p, "/etc/modprobe.d/50-xen.conf").splitlines()[1].startswith("# alias eth0")
    links = {l.path.rsplit("/", 1)[1]: l.after for l in p.links}
    assert links == {"getty@xvc0.service": None,
                     "serial-getty@ttyS0.service": "/usr/lib/systemd/system/serial-getty@.service"}
    [initrd] = [s for s in p.steps if isinstance(s, RebuildInitrd)]
    assert initrd.argv == ("dracut", "--force", "/boot/initrd-3.12.49-11-default",
                           "3.12.49-11-default")
    assert p.steps[-1].argv == ("grub2-mkconfig", "-o", "/boot/grub2/grub.cfg")
    # The persistent-net rule already pins eth0 to its MAC.
    assert not [e for e in p.files if e.path.endswith(".link")]


def test_sles12_hvm_without_disks_keeps_names_and_says_why(sles12):
    facts, texts = sles12
    p = plan(facts, texts, "hvm")
    assert "/etc/fstab" not in {e.path for e in p.files}
    [warning] = p.warnings
    assert "no disk was inspected" in warning.message
    # HVM keeps the Xen PV drivers: the old dracut settings stay.
    assert "/etc/dracut.conf.d/10-xen.conf" not in {e.path for e in p.files}


def test_dracut_with_an_exclusive_driver_list_gets_the_emulated_disk_path_whole(tmp_path):
    """A minimal PV image may list its drivers exclusively (drivers+=); the
    HVM initrd then needs sd_mod behind ata_piix/ahci as much as those."""
    root = materialize("sles12-sp1-pv", tmp_path / "root")
    kver = "3.12.49-11-default"
    dep = root / f"lib/modules/{kver}/modules.dep"
    write_tree(root, {
        "etc/dracut.conf.d/10-xen.conf": 'drivers+=" xen-blkfront xen-netfront ext4 "\n',
        f"lib/modules/{kver}/modules.dep": dep.read_text() + (
            "kernel/drivers/scsi/sd_mod.ko: kernel/drivers/scsi/scsi_mod.ko\n"
            "kernel/drivers/scsi/scsi_mod.ko:\nkernel/drivers/ata/ata_generic.ko:\n")})
    facts, texts = facts_of(root)
    p = plan(facts, texts, "hvm")
    [initrd] = [s for s in p.steps if isinstance(s, RebuildInitrd)]
    assert {"ata_piix", "ahci", "sd_mod", "ata_generic"} <= set(initrd.drivers)
    conf = after(p, "/etc/dracut.conf.d/90-xenshift.conf")
    assert {"ata_piix", "ahci", "sd_mod", "ata_generic"} <= set(
        conf.split('add_drivers+="')[1].split('"')[0].split())
    kvm = [s for s in plan(facts, texts, "kvm", names={"xvda": "vda"}).steps
           if isinstance(s, RebuildInitrd)]
    assert "sd_mod" in kvm[0].drivers


def test_sles12_pvh_is_refused_for_lack_of_a_pvh_kernel(sles12):
    facts, texts = sles12
    with pytest.raises(GuestRefusedError, match="CONFIG_XEN_PVH"):
        plan(facts, texts, "pvh")


def test_sles11_with_only_kernel_xen_is_refused_naming_the_package(tmp_path):
    facts, texts = facts_of(materialize("sles11-sp4-pv", tmp_path / "root"))
    for target in ("kvm", "hvm", "pvh"):
        with pytest.raises(GuestRefusedError) as caught:
            plan(facts, texts, target)
        assert "install kernel-default in the guest first" in str(caught.value)
        assert str(caught.value).startswith(str(tmp_path / "root"))


def test_sles11_kvm_boots_kernel_default(sles11_with_default_kernel):
    facts, texts = sles11_with_default_kernel
    p = plan(facts, texts, "kvm", names={"xvda": "vda"})
    assert p.kernel == SLES11_DEFAULT
    menu = after(p, "/boot/grub/menu.lst")
    assert menu.splitlines()[1] == "default 2"
    assert f"vmlinuz-{SLES11_DEFAULT} root=/dev/vda2 resume=/dev/vda1 splash=silent " \
           "showopts console=tty0 console=ttyS0,115200" in menu
    assert "x0:12345:respawn:/sbin/agetty -L 9600 ttyS0 xterm" in after(p, "/etc/inittab")
    kernel = after(p, "/etc/sysconfig/kernel")
    assert 'INITRD_MODULES="virtio_blk virtio_scsi virtio_pci virtio_net"' in kernel
    assert 'DOMU_INITRD_MODULES=""' in kernel
    assert after(p, "/etc/modprobe.d/99-local.conf").count("# alias") == 2
    [initrd] = [s for s in p.steps if isinstance(s, RebuildInitrd)]
    assert initrd.argv == ("mkinitrd", "-k", f"/boot/vmlinuz-{SLES11_DEFAULT}", "-i",
                           f"/boot/initrd-{SLES11_DEFAULT}")
    # No systemd: no getty links, the inittab getty moved instead.
    assert p.links == ()


def test_sles11_pvh_replaces_xvc0_with_hvc0(sles11_with_default_kernel):
    facts, texts = sles11_with_default_kernel
    p = plan(facts, texts, "pvh")
    assert "console=hvc0" in after(p, "/boot/grub/menu.lst")
    assert "x0:12345:respawn:/sbin/agetty -L 9600 hvc0 xterm" in after(p, "/etc/inittab")
    assert "/etc/securetty" not in {e.path for e in p.files}  # hvc0 is listed already
