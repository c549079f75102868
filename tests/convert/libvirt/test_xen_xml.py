"""xen_xml_to_xl: libvirt XML of Xen domains back to xl config text.

The text must be read by xenshift's config engine and by Xen's own
libxlutil, and mean what the XML meant; bad inputs fail with the file and
line.
"""

from __future__ import annotations

import pytest

from tests.convert.libvirt.conftest import XEN_XML, XEN_XML_FILES
from tests.oracles.libxlu_cfg import xlu_parse
from xenshift.config.document import parse_config
from xenshift.config.domain import build_domain
from xenshift.config.model import GuestType
from xenshift.convert.libvirt import xen_xml_to_xl
from xenshift.errors import InputError


def read(name: str):
    path = XEN_XML / name
    text, notes = xen_xml_to_xl(path.read_text(), str(path))
    return text, notes, build_domain(parse_config(text, str(path)))


@pytest.mark.parametrize("path", XEN_XML_FILES, ids=lambda p: p.stem)
def test_libxlu_accepts_and_agrees(path):
    text, _ = xen_xml_to_xl(path.read_text(), str(path))
    result = xlu_parse(text.encode())
    assert result.rc == 0, result.report
    config = build_domain(parse_config(text, str(path)))
    assert result.values["name"][0] == config.name
    assert result.values["memory"][1] == config.memory
    settings = config.document.settings
    for key in ("disk", "vif"):
        ours = [item.text for item in settings.get_string_list(key) or ()]
        assert result.values.get(key, ([],))[0] == ours
    assert len(config.disks) == len(settings.get_string_list("disk"))


def test_pv_pygrub():
    _, _, config = read("sles12-pv-pygrub.xml")
    assert config.guest_type is GuestType.PV
    assert (config.memory, config.maxmem, config.vcpus, config.maxvcpus) == (1024, 2048, 2, 4)
    assert config.boot.bootloader == "/usr/bin/pygrub"
    assert config.boot.bootloader_args == ("-q",)
    root, data = config.disks
    assert (root.vdev, root.target, root.backendtype, root.is_block_device) == (
        "xvda", "/dev/vg0/sles12-web", "phy", True)
    assert (data.vdev, data.format, data.target) == (
        "xvdb", "qcow2", "/var/lib/xen/images/sles12-web/data.qcow2")
    (vif,) = config.vifs
    assert (vif.mac, vif.bridge, vif.script, vif.vifname) == (
        "00:16:3e:4a:12:9c", "br0", "vif-bridge", None)   # vif7.0 is Xen's own name
    (vfb,) = config.vfbs
    assert (vfb.vnc, vfb.vnclisten, vfb.vncunused) == (True, "127.0.0.1", True)


def test_pv_direct_kernel():
    _, _, config = read("debian12-pv-direct-kernel.xml")
    assert config.boot.kernel.endswith("vmlinuz-6.1.0-18-amd64")
    assert config.boot.ramdisk.endswith("initrd.img-6.1.0-18-amd64")
    assert config.boot.cmdline == "root=/dev/xvda1 ro console=hvc0 net.ifnames=0"
    assert config.cpus == "2-3" and config.memory == 1536
    assert config.lifecycle.on_crash == "preserve"
    (vif,) = config.vifs
    assert vif.rate.bytes_per_second == 10240 * 1024 and vif.ip == ("192.0.2.25",)
    (channel,) = config.channels
    assert (channel.connection, channel.path, channel.name) == (
        "socket", "/run/xen/deb12-mail.agent", "org.qemu.guest_agent.0")


def test_hvm_cdrom_vnc():
    _, notes, config = read("win2016-hvm-cdrom-vnc.xml")
    s = config.document.settings
    assert config.guest_type is GuestType.HVM
    assert s.get_string("boot") == "dc" and config.cpus == ["4", "5"]
    disk, iso, empty = config.disks
    assert (disk.vdev, disk.is_cdrom) == ("hda", False)
    assert (iso.vdev, iso.is_cdrom, iso.target, iso.readonly) == (
        "hdc", True, "/srv/iso/Win2016_x64.iso", True)
    assert (empty.vdev, empty.target, empty.format) == ("hdd", None, "empty")
    (vif,) = config.vifs
    assert (vif.model, vif.type) == ("e1000", "ioemu")
    assert (s.get_long("vnc"), s.get_long("vncdisplay"), s.get_string("vnclisten")) == (
        1, 1, "0.0.0.0")
    assert s.get_string("vncpasswd") == "s3cret" and s.get_string("keymap") == "de"
    assert [sp.kind for sp in config.serials] == ["pty"]
    assert s.get_long("localtime") == 1 and s.get_long("viridian") == 1
    assert str(config.pcis[0].address) == "0000:05:00.0"
    assert any("CPU model" in note for note in notes)


def test_pvh():
    _, _, config = read("tumbleweed-pvh.xml")
    assert config.guest_type is GuestType.PVH and config.memory == 2048
    assert config.boot.kernel == "/var/lib/xen/boot/tw-pvh/vmlinuz"


def test_hvm_ovmf_vnuma():
    _, _, config = read("hvm-ovmf-vnuma.xml")
    s = config.document.settings
    assert s.get_string("bios") == "ovmf" and s.get_long("rtc_timeoffset") == 3600
    assert [(n.size_mib, n.vcpus, n.vdistances) for n in config.vnuma] == [
        (4096, (0, 1), (10, 21)), (4096, (2, 3), (21, 10))]
    assert config.serials[0].kind == "file"
    assert s.get_string("vga") == "stdvga" and s.get_long("videoram") == 16


def _error(text: str) -> InputError:
    with pytest.raises(InputError) as caught:
        xen_xml_to_xl(text, "guest.xml")
    return caught.value


def test_malformed_xml_names_file_and_line():
    err = _error("<domain type='xen'>\n  <name>g</name>\n  <memory>\n</domain>\n")
    assert err.location.file == "guest.xml" and err.location.line == 4
    assert str(err).startswith("guest.xml:4:")


def test_non_xen_domain_is_refused():
    err = _error("<?xml version='1.0'?>\n<domain type='kvm'>\n  <name>g</name>\n</domain>\n")
    assert err.location.line == 2 and "not a Xen domain" in err.message


def test_unknown_guest_type_names_its_line():
    err = _error("<domain type='xen'>\n  <name>g</name>\n  <os>\n"
                 "    <type arch='x86_64'>exe</type>\n  </os>\n</domain>\n")
    assert err.location.line == 4 and "unknown guest type" in err.message
    assert str(err).startswith("guest.xml:4")


def test_not_a_domain():
    err = _error("<network><name>default</name></network>")
    assert "not a libvirt domain" in err.message


def test_bad_number_names_its_line():
    err = _error("<domain type='xen'>\n  <name>g</name>\n  <memory unit='KiB'>lots</memory>\n"
                 "  <os><type>linux</type></os>\n</domain>\n")
    assert err.location.line == 3 and "not a number" in err.message


def test_rbd_disks_are_carried_as_libvirt_carries_them_to_xl():
    _, notes, config = read("hvm-rbd-two-monitors.xml")
    root, data = config.disks
    assert (root.vdev, root.backendtype) == ("hda", "qdisk")
    # QEMU's own escapes, as libvirt's libxl driver writes them.
    assert root.target == ("rbd:vms/ceph-web-root:auth_supported=none:"
                           "mon_host=mon-a.ceph.example\\:6789\\;[fd00\\:\\:6]\\:6789")
    assert data.target == "rbd:vms/ceph-web-data:id=libvirt:mon_host=mon-a.ceph.example"
    assert any("keyring must hold the key of client.libvirt" in n for n in notes)
    assert any("nbd:scratch left out" in n for n in notes)


def test_rbd_name_with_a_colon_is_refused_at_its_line():
    err = _error("<domain type='xen'>\n  <name>g</name>\n  <os><type>hvm</type></os>\n"
                 "  <devices>\n    <disk type='network'>\n"
                 "      <source protocol='rbd' name='pool/a:b'/>\n"
                 "      <target dev='hda'/>\n    </disk>\n  </devices>\n</domain>\n")
    assert err.location.line == 6 and "without ':'" in err.message


def test_bootloader_without_os_is_pv():
    _, _, config = read("xen3-pv-bootloader-no-os.xml")
    assert config.guest_type is GuestType.PV
    assert config.boot.bootloader == "/usr/bin/pygrub"
    err = _error("<domain type='xen'>\n  <name>g</name>\n</domain>\n")
    assert "no <os><type> and no <bootloader>" in err.message
