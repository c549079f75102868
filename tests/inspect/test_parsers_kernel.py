"""Kernel configs, module lists, driver support, flavours, packages, initrds."""

from __future__ import annotations

import gzip
import lzma
import subprocess

import pytest

from fixtures.images.suse_trees import newc_archive
from xenshift.inspect.initrd import (InitrdFormatError, drivers_in, list_initrd,
                                     parse_module_list)
from xenshift.inspect.kernels import (Package, driver_support, kernel_package,
                                      module_name, parse_kernel_config,
                                      parse_modules_builtin, parse_modules_dep,
                                      regular_kernel_package, xen_flavour)


def test_kernel_config():
    text = "#\n# CONFIG_VIRTIO_BLK is not set\nCONFIG_XEN_PVH=y\nCONFIG_X=m\nCONFIG_S=\"a b\"\n"
    assert parse_kernel_config(text) == {"XEN_PVH": "y", "X": "m", "S": "a b"}


@pytest.mark.parametrize("path, name", [
    ("kernel/drivers/block/xen-blkfront.ko", "xen_blkfront"),
    ("/lib/modules/3.0/kernel/drivers/xen/blkfront/xenblk.ko", "xenblk"),
    ("kernel/drivers/block/virtio_blk.ko.xz", "virtio_blk"),
    ("kernel/drivers/ata/ahci.ko.zst", "ahci"),
])
def test_module_name(path, name):
    assert module_name(path) == name


def test_modules_dep_and_builtin():
    dep = "kernel/drivers/block/virtio_blk.ko: kernel/drivers/virtio/virtio_ring.ko\nkernel/a-b.ko:\n"
    assert parse_modules_dep(dep) == {"virtio_blk", "a_b"}
    assert parse_modules_builtin("kernel/drivers/ata/ata_piix.ko\n\n") == {"ata_piix"}


def test_driver_support_precedence():
    config = {"VIRTIO_BLK": "m", "ATA_PIIX": "y", "VIRTIO_NET": "m"}
    assert driver_support("ata_piix", set(), set(), config) == "builtin"
    assert driver_support("ahci", set(), {"ahci"}, None) == "builtin"
    assert driver_support("virtio_blk", {"virtio_blk"}, set(), config) == "module"
    # The module list is the truth when there is one: "=m" but no file.
    assert driver_support("virtio_net", {"virtio_blk"}, set(), config) == "absent"
    assert driver_support("virtio_net", None, None, config) == "module"
    assert driver_support("virtio_scsi", None, None, config) == "absent"
    assert driver_support("virtio_scsi", None, None, None) == "unknown"
    assert driver_support("xen_blkfront", {"xenblk"}, set(), None) == "module"


def test_xen_flavour():
    assert xen_flavour("3.0.101-63-xen", {"X86_64_XEN": "y"}) == "xenlinux"
    assert xen_flavour("2.6.18-419.el5xen", None) == "xenlinux"
    assert xen_flavour("6.1.0-9-amd64", {"XEN_PV": "y"}) == "pvops"
    assert xen_flavour("4.4.0-xen", {"XEN": "y"}) == "pvops"  # the config wins


def test_kernel_package():
    deb = [Package("linux-image-6.1.0-9-amd64", "6.1.27-1"), Package("bash", "5")]
    assert kernel_package("6.1.0-9-amd64", deb) == "linux-image-6.1.0-9-amd64"
    rpm = [Package("kernel-xen", "3.0.101-63.1"), Package("kernel-default", "3.0.101-63.1")]
    assert kernel_package("3.0.101-63-xen", rpm) == "kernel-xen"
    assert kernel_package("2.6.18-419.el5xen", [Package("kernel-xen", "2.6.18")]) == "kernel-xen"
    assert kernel_package("3.10.0-1160.el7.x86_64", [Package("kernel", "3.10.0")]) == "kernel"
    assert kernel_package("3.12.49-11-default", []) == "kernel-default"  # by naming
    assert kernel_package("5.0", [Package("bash", "5")]) is None
    assert regular_kernel_package("sles") == "kernel-default"
    assert regular_kernel_package("debian") == "linux-image-amd64"


def _initrd_paths():
    return ["init", "usr/lib/modules/6.1/kernel/drivers/block/xen-blkfront.ko",
            "usr/lib/modules/6.1/kernel/drivers/net/xen-netfront.ko"]


def test_list_initrd_plain_and_compressed_concatenated():
    microcode = newc_archive(["kernel/x86/microcode/GenuineIntel.bin"])
    main = newc_archive(_initrd_paths())
    for packed in (gzip.compress(main), lzma.compress(main),
                   subprocess.run(["zstd", "-q", "-c"], input=main, capture_output=True,
                                  check=True).stdout):
        names = list_initrd(microcode + b"\0" * 512 + packed)
        assert names == ["kernel/x86/microcode/GenuineIntel.bin", *_initrd_paths()]
    assert drivers_in(_initrd_paths()) == ("xen_blkfront", "xen_netfront")


def test_list_initrd_rejects_garbage():
    with pytest.raises(InitrdFormatError):
        list_initrd(b"not an initrd at all")
    with pytest.raises(InitrdFormatError):
        list_initrd(newc_archive(["a"])[:-40] + b"\x07" * 200)


def test_module_list_file():
    settings = parse_module_list("# comment\nxen-blkfront\n\next4 # fs\n", "/etc/initramfs-tools/modules")
    assert [(s.line, s.value) for s in settings] == [(2, "xen-blkfront"), (4, "ext4")]
