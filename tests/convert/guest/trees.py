"""Guest trees as text for the planner tests: a Debian PV guest, plus layouts.

``debian_tree`` writes a directory shaped like the Debian fixture (a): the
same fstab, grub.cfg, /etc/default/grub, initramfs-tools settings, ifupdown
and getty link, a kernel whose modules include virtio and whose initrd
holds only the Xen PV drivers. ``facts_of`` inspects a tree (no
libguestfs); ``with_layout`` adds the disk layout a tree cannot have.
"""

from __future__ import annotations

import dataclasses
import gzip
import os
from pathlib import Path

from fixtures.images.suse_trees import newc_archive
from xenshift.convert.guest import GuestPlan, PlanInput, plan_guest
from xenshift.inspect import inspect_tree
from xenshift.inspect.facts import GuestFacts
from xenshift.inspect.files import TreeFiles
from xenshift.inspect.layout import Disk, Filesystem, LayoutFacts, LogicalVolume, Partition
from xenshift.inspect.texts import GuestTexts, read_texts

KVER = "6.1.0-9-amd64"
ROOT_UUID = "08c26a61-d00d-4c36-92f0-9b97d8303207"
SWAP_UUID = "36347216-0689-491f-902b-17088b77ce29"
BOOT_UUID = "1111aaaa-2222-3333-4444-555566667777"
MAC = "00:16:3e:00:00:0a"
KVM_NAMES = {"xvda": "vda", "xvdb": "vdb"}
MODULES = ("drivers/block/xen-blkfront", "drivers/net/xen-netfront",
           "drivers/block/virtio_blk", "drivers/scsi/virtio_scsi",
           "drivers/virtio/virtio_pci", "drivers/net/virtio_net",
           "drivers/ata/ata_piix", "drivers/ata/ahci", "fs/ext4/ext4")

GRUB_CFG = f"""\
set default=0
set timeout=1
menuentry 'Debian GNU/Linux' --class debian $menuentry_id_option 'gnulinux-simple' {{
\tinsmod ext2
\tset root='hd0,msdos1'
\tlinux\t/boot/vmlinuz-{KVER} root=/dev/xvda1 ro console=hvc0
\tinitrd\t/boot/initrd.img-{KVER}
}}
"""

FILES = {
    "etc/os-release": 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\n'
                      'VERSION_ID="12"\n',
    "etc/hostname": "pv\n",
    "etc/fstab": "# /etc/fstab\n/dev/xvda1\t/\text4\terrors=remount-ro\t0\t1\n"
                 "/dev/xvdb\tnone\tswap\tsw\t0\t0\n",
    "etc/default/grub": 'GRUB_DEFAULT=0\nGRUB_TIMEOUT=1\nGRUB_CMDLINE_LINUX_DEFAULT=""\n'
                        'GRUB_CMDLINE_LINUX="console=hvc0"\nGRUB_DISABLE_LINUX_UUID=true\n',
    "boot/grub/grub.cfg": GRUB_CFG,
    "etc/initramfs-tools/initramfs.conf": "MODULES=list\nCOMPRESS=zstd\n",
    "etc/initramfs-tools/modules": "xen-blkfront\nxen-netfront\next4\n",
    "etc/network/interfaces": "auto lo\niface lo inet loopback\n\nallow-hotplug eth0\n"
                              "iface eth0 inet static\n\taddress 192.0.2.10/24\n",
    f"boot/vmlinuz-{KVER}": "kernel\n",
    f"boot/config-{KVER}": "CONFIG_XEN_PVH=y\nCONFIG_VIRTIO_BLK=m\n",
    f"lib/modules/{KVER}/modules.dep": "".join(f"kernel/{m}.ko:\n" for m in MODULES),
    f"lib/modules/{KVER}/modules.builtin": "",
    "lib/udev/rules.d/80-net-setup-link.rules": "# predictable names\n",
    "usr/sbin/update-initramfs": "#!/bin/sh\n",
    "usr/sbin/grub-mkconfig": "#!/bin/sh\n",
    "usr/lib/grub/i386-pc/boot.img": "boot\n",
    "var/lib/dpkg/status": f"Package: linux-image-{KVER}\nStatus: install ok installed\n"
                           "Version: 6.1.27-1\n",
}


def write_tree(root: Path, files: dict[str, str | None]) -> Path:
    """Write ``files`` (relative path → text; None removes it) under ``root``."""
    for rel, text in files.items():
        path = root / rel
        if text is None:
            path.unlink(missing_ok=True)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def debian_tree(root: Path, changes: dict[str, str | None] | None = None) -> Path:
    """A Debian PV guest's ``/`` under ``root``; ``changes`` override files
    by relative path (None removes one)."""
    write_tree(root, {**FILES, **(changes or {})})
    initrd = root / f"boot/initrd.img-{KVER}"
    initrd.write_bytes(gzip.compress(newc_archive(
        ["init", f"lib/modules/{KVER}/kernel/drivers/block/xen-blkfront.ko",
         f"lib/modules/{KVER}/kernel/drivers/net/xen-netfront.ko"])))
    wants = root / "etc/systemd/system/getty.target.wants"
    wants.mkdir(parents=True, exist_ok=True)
    link = wants / "getty@tty1.service"
    if not link.is_symlink():
        os.symlink("/lib/systemd/system/getty@.service", link)
    return root


def facts_of(root: Path) -> tuple[GuestFacts, GuestTexts]:
    """The facts and editable files of a tree."""
    facts = inspect_tree(root)
    return facts, read_texts(TreeFiles(root), facts)


def _fs(device: str, fstype: str, uuid: str) -> Filesystem:
    return Filesystem(device, fstype, uuid, None)


def _swap_disk() -> Disk:
    return Disk("xvdb", "/img/xvdb.img", "raw", 128 << 20, None, "none", (),
                _fs("/dev/xvdb", "swap", SWAP_UUID))


def with_layout(facts: GuestFacts, shape: str = "a", boot_code: str = "none") -> GuestFacts:
    """The facts with the disk layout of fixture shape ``a``, ``b`` or ``c``."""
    volumes: tuple[LogicalVolume, ...] = ()
    mounts = {"/": "/dev/xvda1"}
    if shape == "a":
        xvda = Disk("xvda", "/img/xvda.img", "raw", 2 << 30, "msdos", boot_code,
                    (Partition(1, "/dev/xvda1", 1 << 20, (2 << 30) - (1 << 20),
                               _fs("/dev/xvda1", "ext4", ROOT_UUID), False),), None)
    elif shape == "b":
        xvda = Disk("xvda", "/img/xvda.img", "raw", 2 << 30, None, boot_code, (),
                    _fs("/dev/xvda", "ext4", ROOT_UUID))
        mounts = {"/": "/dev/xvda"}
    else:
        xvda = Disk("xvda", "/img/xvda.img", "raw", 2 << 30, "msdos", boot_code,
                    (Partition(1, "/dev/xvda1", 1 << 20, 256 << 20,
                               _fs("/dev/xvda1", "ext4", BOOT_UUID), False),
                     Partition(2, "/dev/xvda2", 257 << 20, 1 << 30, None, False)), None)
        volumes = (LogicalVolume("/dev/guestvg/root", "guestvg", 1 << 30,
                                 _fs("/dev/guestvg/root", "ext4", ROOT_UUID)),)
        mounts = {"/": "/dev/guestvg/root", "/boot": "/dev/xvda1"}
    os_facts = dataclasses.replace(facts.os, root=mounts["/"], mountpoints=mounts)
    return dataclasses.replace(facts, os=os_facts,
                               layout=LayoutFacts((xvda, _swap_disk()), volumes))


def plan(facts: GuestFacts, texts: GuestTexts, target: str, names: dict | None = None,
         macs: tuple = (MAC,), vdevs: tuple = tuple(KVM_NAMES)) -> GuestPlan:
    """Plan ``target`` with the KVM disk names, the config's disks and the
    fixture's MAC."""
    if names is None:
        names = KVM_NAMES if target == "kvm" else {}
    return plan_guest(facts, texts, PlanInput(target, names, vdevs, macs))


def after(plan_: GuestPlan, path: str) -> str | None:
    """The planned content of ``path`` (KeyError if the plan leaves it)."""
    return next(e.after for e in plan_.files if e.path == path)
