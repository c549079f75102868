"""to_kvm's mapping rules, checked on the XML by XPath (never by text)."""

from __future__ import annotations

import pytest
from lxml import etree

from tests.convert.libvirt.conftest import config_from_text
from xenshift.convert.libvirt import DiskImage, KvmOptions, to_kvm
from xenshift.convert.report import ChangeKind

PV_BASE = 'name = "guest"\nmemory = 512\n'
HVM_BASE = 'name = "guest"\ntype = "hvm"\nmemory = 512\n'


def convert(text: str, **options):
    xml, report = to_kvm(config_from_text(text), KvmOptions(**options))
    return etree.fromstring(xml.encode()), report


def one(root, path: str):
    found = root.xpath(path)
    assert len(found) == 1, (path, found)
    return found[0]


def changes(report, kind: ChangeKind, subject: str):
    return [c for c in report.of_kind(kind) if c.subject == subject]


DISKS = PV_BASE + """disk = [ 'phy:/dev/vg0/root,xvda,w', 'qcow2:/srv/data.qcow2,xvdb,w',
         '/srv/old.vhd,vhd,xvdc,ro', ',hdc:cdrom,r',
         'format=raw,vdev=xvdd,devtype=cdrom,target=/srv/iso/install.iso' ]
"""


def test_disks_block_file_formats_targets():
    root, _ = convert(DISKS)
    root_disk = one(root, "devices/disk[target/@dev='vda']")
    assert root_disk.get("type") == "block" and root_disk.get("device") == "disk"
    assert one(root_disk, "source/@dev") == "/dev/vg0/root"
    assert one(root_disk, "driver/@type") == "raw"
    assert one(root_disk, "target/@bus") == "virtio"
    assert one(root_disk, "boot/@order") == "1"
    data = one(root, "devices/disk[target/@dev='vdb']")
    assert data.get("type") == "file" and one(data, "source/@file") == "/srv/data.qcow2"
    assert one(data, "driver/@type") == "qcow2" and not data.xpath("readonly")
    old = one(root, "devices/disk[target/@dev='vdc']")
    assert one(old, "driver/@type") == "vpc" and old.xpath("readonly")


def test_cdroms_on_sata_empty_has_no_source():
    root, _ = convert(DISKS)
    cdroms = root.xpath("devices/disk[@device='cdrom']")
    assert [one(c, "target/@dev") for c in cdroms] == ["sda", "sdb"]
    assert all(one(c, "target/@bus") == "sata" and c.xpath("readonly") for c in cdroms)
    # Targets follow the disk index of the vdevs: hdc is disk 2, xvdd disk 3.
    empty = one(root, "devices/disk[@device='cdrom'][not(source)]")
    assert one(empty, "target/@dev") == "sda"
    iso = one(root, "devices/disk[source/@file='/srv/iso/install.iso']")
    assert one(iso, "target/@dev") == "sdb"


def test_sata_option_and_boot_order_from_boot_letters():
    root, report = convert(HVM_BASE + """boot = "dc"
disk = [ 'phy:/dev/vg0/win,hda,w', '/srv/w.iso,,hdc,cdrom' ]
""", disk_bus="sata")
    disk = one(root, "devices/disk[@device='disk']")
    cdrom = one(root, "devices/disk[@device='cdrom']")
    assert one(disk, "target/@dev") == "sda" and one(disk, "target/@bus") == "sata"
    assert one(cdrom, "target/@dev") == "sdb"
    assert one(cdrom, "boot/@order") == "1" and one(disk, "boot/@order") == "2"
    assert changes(report, ChangeKind.KEPT, "boot")


def test_xm_cdrom_key_is_the_hdc_cdrom_it_was_to_xend():
    root, _ = convert("name = 'winxp'\nbuilder = 'hvm'\nmemory = 512\nboot = 'dc'\n"
                      "disk = [ 'phy:/dev/vg/winxp,hda,w' ]\ncdrom = '/srv/iso/winxp.iso'\n")
    cdrom = one(root, "devices/disk[@device='cdrom']")
    assert one(cdrom, "source/@file") == "/srv/iso/winxp.iso" and cdrom.xpath("readonly")
    assert one(cdrom, "boot/@order") == "1"
    # A disk already on hdc wins, as it would have in qemu-dm.
    config = config_from_text(HVM_BASE + "disk = [ '/srv/a.iso,,hdc,cdrom' ]\n"
                              "cdrom = '/srv/b.iso'\n")
    assert [d.target for d in config.disks] == ["/srv/a.iso"]
    assert any("cdrom= left out" in w.message for w in config.warnings)
    # xend gave PV guests no emulated CD-ROM.
    assert not config_from_text(PV_BASE + "cdrom = '/srv/b.iso'\n").disks


def test_rbd_target_is_a_network_disk_with_its_monitors():
    root, report = convert(HVM_BASE + "disk = [ 'format=raw,vdev=hda,backendtype=qdisk,"
                           "target=rbd:vms/web\\\\:1:auth_supported=none:mon_host="
                           "m1\\\\:6789\\\\;[fd00\\\\:\\\\:6]\\\\:6790\\\\;m3' ]\n")
    disk = one(root, "devices/disk[@type='network']")
    assert one(disk, "source/@protocol") == "rbd" and one(disk, "source/@name") == "vms/web:1"
    assert [(h.get("name"), h.get("port")) for h in disk.xpath("source/host")] == [
        ("m1", "6789"), ("fd00::6", "6790"), ("m3", None)]
    assert changes(report, ChangeKind.WARNING, "disk hda")


def test_disk_images_replace_sources():
    root, report = convert(PV_BASE + "disk = [ 'phy:/dev/vg0/root,xvda,w' ]\n",
                           disk_images={"/dev/vg0/root": DiskImage("/var/lib/libvirt/images/g.qcow2", "qcow2")})
    disk = one(root, "devices/disk")
    assert disk.get("type") == "file"
    assert one(disk, "source/@file") == "/var/lib/libvirt/images/g.qcow2"
    assert one(disk, "driver/@type") == "qcow2"


def test_script_disk_is_dropped_and_reported():
    root, report = convert(PV_BASE + "disk = [ 'phy:/dev/vg0/r,xvda,w', "
                           "'vdev=xvdb,script=block-iscsi,target=iqn.2004-04.x:lun1' ]\n")
    assert len(root.xpath("devices/disk")) == 1
    assert changes(report, ChangeKind.DROPPED, "disk xvdb")


VIFS = PV_BASE + """vif = [ 'mac=00:16:3e:00:00:01', 'mac=00:16:3e:00:00:02,bridge=br0',
        'mac=00:16:3e:00:00:03,bridge=br-dmz,model=e1000',
        'mac=00:16:3e:00:00:04,bridge=br-lan,rate=10MB/s@20ms,mtu=9000' ]
"""


def test_interfaces_macs_bridges_and_maps():
    root, report = convert(VIFS, bridges={"br0": "br-kvm"}, networks={"br-dmz": "dmz"})
    nics = root.xpath("devices/interface")
    assert [one(n, "mac/@address") for n in nics] == [
        "00:16:3e:00:00:01", "00:16:3e:00:00:02", "00:16:3e:00:00:03", "00:16:3e:00:00:04"]
    assert all(one(n, "model/@type") == "virtio" for n in nics)
    assert nics[0].get("type") == "bridge" and one(nics[0], "source/@bridge") == "xenbr0"
    assert one(nics[1], "source/@bridge") == "br-kvm"
    assert nics[2].get("type") == "network" and one(nics[2], "source/@network") == "dmz"
    assert one(nics[3], "mtu/@size") == "9000"
    assert changes(report, ChangeKind.CHANGED, "vif 00:16:3e:00:00:03")


@pytest.mark.parametrize("rate, average, burst", [
    ("10MB/s@20ms", 9766, 196),          # 10e6 B/s; 200000 B per 20 ms
    ("10MB/s", 9766, 489),               # xl's default interval: 50 ms
    ("100Mb/s", 12208, 611),             # bits: 12.5e6 B/s
])
def test_rate_becomes_outbound_bandwidth(rate, average, burst):
    root, _ = convert(PV_BASE + f"vif = [ 'bridge=br0,rate={rate}' ]\n")
    outbound = one(root, "devices/interface/bandwidth/outbound")
    assert int(outbound.get("average")) == average
    assert int(outbound.get("burst")) == burst


def test_memory_and_vcpus():
    root, _ = convert(PV_BASE.replace("512", "1024") + "maxmem = 4096\nvcpus = 2\nmaxvcpus = 8\n")
    assert one(root, "memory").text == str(4096 * 1024)
    assert one(root, "memory/@unit") == "KiB"
    assert one(root, "currentMemory").text == str(1024 * 1024)
    vcpu = one(root, "vcpu")
    assert vcpu.text == "8" and vcpu.get("current") == "2" and vcpu.get("placement") == "static"


def test_vcpupin_from_string_and_list():
    root, _ = convert(PV_BASE + 'vcpus = 2\ncpus = "2-3,^2"\n')
    assert [(p.get("vcpu"), p.get("cpuset")) for p in root.xpath("cputune/vcpupin")] == [
        ("0", "2-3,^2"), ("1", "2-3,^2")]
    root, _ = convert(PV_BASE + 'vcpus = 2\ncpus = [ "4", "5" ]\n')
    assert [p.get("cpuset") for p in root.xpath("cputune/vcpupin")] == ["4", "5"]
    root, report = convert(PV_BASE + 'vcpus = 2\ncpus = "nodes:0-1"\n')
    assert not root.xpath("cputune") and changes(report, ChangeKind.DROPPED, "cpus")


def test_vnc_graphics_video_and_tablet():
    root, _ = convert(HVM_BASE + 'vnc = 1\nvnclisten = "0.0.0.0"\nvncdisplay = 3\n'
                      'vncpasswd = "pw"\nkeymap = "de"\nvga = "stdvga"\nvideoram = 16\n')
    gfx = one(root, "devices/graphics[@type='vnc']")
    assert (gfx.get("port"), gfx.get("autoport")) == ("5903", "no")
    assert gfx.get("listen") == "0.0.0.0" and gfx.get("passwd") == "pw"
    assert gfx.get("keymap") == "de"
    assert one(root, "devices/video/model/@type") == "vga"
    assert one(root, "devices/video/model/@vram") == str(16 * 1024)
    assert one(root, "devices/input[@type='tablet']/@bus") == "usb"


def test_pv_vfb_becomes_vnc_and_vga():
    root, _ = convert(PV_BASE + "vfb = [ 'vnc=1,vnclisten=127.0.0.1,vncunused=1' ]\n")
    gfx = one(root, "devices/graphics")
    assert gfx.get("type") == "vnc" and gfx.get("autoport") == "yes"
    assert one(root, "devices/video/model/@type") == "vga"


def test_nographic_has_no_graphics():
    root, _ = convert(HVM_BASE + "nographic = 1\n")
    assert not root.xpath("devices/graphics") and not root.xpath("devices/input")
    assert one(root, "devices/video/model/@type") == "none"


def test_spice():
    root, _ = convert(HVM_BASE + "spice = 1\nspiceport = 6000\nspicehost = '127.0.0.1'\n"
                      "spicedisable_ticketing = 1\nspicevdagent = 1\nspiceusbredirection = 2\n")
    gfx = one(root, "devices/graphics[@type='spice']")
    assert gfx.get("port") == "6000" and gfx.get("passwd") is None
    assert one(root, "devices/channel[@type='spicevmc']/target/@name") == "com.redhat.spice.0"
    assert len(root.xpath("devices/redirdev")) == 2


def test_pv_console_becomes_serial_console():
    root, report = convert(PV_BASE)
    assert one(root, "devices/serial/@type") == "pty"
    console = one(root, "devices/console")
    assert console.get("type") == "pty"
    assert (one(console, "target/@type"), one(console, "target/@port")) == ("serial", "0")
    assert [c for c in report.of_kind(ChangeKind.ADDED) if c.subject == "console"]


def test_hvm_serials():
    root, _ = convert(HVM_BASE + "serial = [ 'pty', 'file:/var/log/g.log', "
                      "'tcp:127.0.0.1:4555,server=on,wait=off' ]\n")
    serials = root.xpath("devices/serial")
    assert [s.get("type") for s in serials] == ["pty", "file", "tcp"]
    assert [one(s, "target/@port") for s in serials] == ["0", "1", "2"]
    assert one(serials[1], "source/@path") == "/var/log/g.log"
    assert (one(serials[2], "source/@mode"), one(serials[2], "source/@service")) == ("bind", "4555")


def test_channels():
    root, _ = convert(PV_BASE + "channel = [ 'connection=socket,path=/run/ga.sock,"
                      "name=org.qemu.guest_agent.0', 'connection=pty,name=org.example.0' ]\n")
    unix = one(root, "devices/channel[@type='unix']")
    assert (one(unix, "source/@mode"), one(unix, "source/@path")) == ("bind", "/run/ga.sock")
    assert (one(unix, "target/@type"), one(unix, "target/@name")) == (
        "virtio", "org.qemu.guest_agent.0")
    assert one(root, "devices/channel[@type='pty']/target/@name") == "org.example.0"


@pytest.mark.parametrize("key", ['bios = "ovmf"', 'firmware = "uefi"'])
def test_uefi(key):
    root, _ = convert(HVM_BASE + key + "\n")
    assert one(root, "os/@firmware") == "efi"


def test_os_machine_and_accel():
    root, report = convert(HVM_BASE, machine="pc", accel="tcg")
    assert root.get("type") == "qemu"
    assert one(root, "os/type").text == "hvm"
    assert (one(root, "os/type/@arch"), one(root, "os/type/@machine")) == ("x86_64", "pc")
    root, _ = convert(HVM_BASE)
    assert root.get("type") == "kvm" and one(root, "os/type/@machine") == "q35"


def test_features_clock_and_pm():
    root, _ = convert(HVM_BASE + "acpi = 1\napic = 0\nlocaltime = 1\nrtc_timeoffset = 3600\n"
                      "hpet = 0\nacpi_s3 = 0\nviridian = 1\n")
    assert root.xpath("features/acpi") and not root.xpath("features/apic")
    assert root.xpath("features/pae")
    assert root.xpath("features/hyperv/relaxed[@state='on']")
    clock = one(root, "clock")
    assert (clock.get("offset"), clock.get("adjustment"), clock.get("basis")) == (
        "variable", "3600", "localtime")
    assert one(clock, "timer[@name='hpet']/@present") == "no"
    assert one(root, "pm/suspend-to-mem/@enabled") == "no"


def test_lifecycle_actions_the_qemu_driver_accepts():
    root, report = convert(PV_BASE + 'on_poweroff = "preserve"\non_reboot = "rename-restart"\n'
                           'on_crash = "coredump-restart"\n')
    assert one(root, "on_poweroff").text == "destroy"
    assert one(root, "on_reboot").text == "restart"
    assert one(root, "on_crash").text == "coredump-restart"
    assert changes(report, ChangeKind.CHANGED, "on_poweroff")
    assert changes(report, ChangeKind.CHANGED, "on_reboot")
    assert changes(report, ChangeKind.KEPT, "on_crash")


def test_direct_kernel_boot_rewrites_command_line():
    root, report = convert(PV_BASE + 'kernel = "/boot/vmlinuz"\nramdisk = "/boot/initrd"\n'
                           'root = "/dev/xvda1 ro"\nextra = "console=hvc0 resume=/dev/xvdb"\n'
                           "disk = [ 'phy:/dev/vg/r,xvda,w', 'phy:/dev/vg/s,xvdb,w' ]\n")
    assert one(root, "os/kernel").text == "/boot/vmlinuz"
    assert one(root, "os/initrd").text == "/boot/initrd"
    assert one(root, "os/cmdline").text == "root=/dev/vda1 ro console=ttyS0 resume=/dev/vdb"
    assert changes(report, ChangeKind.CHANGED, "root")
    assert changes(report, ChangeKind.CHANGED, "extra")
    assert [w for w in report.of_kind(ChangeKind.WARNING) if w.subject == "kernel"]


def test_partition_disks_become_whole_disks_in_order():
    root, report = convert(PV_BASE + 'kernel = "/boot/vmlinuz"\ncmdline = "root=/dev/xvda2"\n'
                           "disk = [ 'phy:/dev/vg/s,xvda1,w', 'phy:/dev/vg/r,xvda2,w' ]\n")
    assert one(root, "os/cmdline").text == "root=/dev/vdb"
    assert [w for w in report.of_kind(ChangeKind.WARNING) if w.subject == "disk xvda1"]


def test_pygrub_is_dropped_with_the_reason():
    root, report = convert(PV_BASE + 'bootloader = "pygrub"\n')
    assert not root.xpath("os/kernel")
    dropped = changes(report, ChangeKind.DROPPED, "bootloader")
    assert dropped and "disk conversion" in dropped[0].reason


def test_pci_passthrough_is_a_warned_hostdev():
    root, report = convert(HVM_BASE + 'pci = [ "0000:05:00.1" ]\n')
    address = one(root, "devices/hostdev[@type='pci']/source/address")
    assert (address.get("bus"), address.get("slot"), address.get("function")) == (
        "0x05", "0x00", "0x1")
    assert one(root, "devices/hostdev/@managed") == "yes"
    assert [w for w in report.of_kind(ChangeKind.WARNING) if w.subject.startswith("pci")]


def test_usb_hostdev_and_balloon_and_rng():
    root, _ = convert(HVM_BASE + 'usbdev = [ "hostbus=1,hostaddr=4" ]\n')
    address = one(root, "devices/hostdev[@type='usb']/source/address")
    assert (address.get("bus"), address.get("device")) == ("1", "4")
    assert one(root, "devices/memballoon/@model") == "virtio"
    assert one(root, "devices/rng/@model") == "virtio"


def test_vnuma_cells():
    root, _ = convert(HVM_BASE.replace("512", "2048") + 'vcpus = 4\nvnuma = [ '
                      '[ "pnode=0", "size=1024", "vcpus=0-1", "vdistances=10,20" ], '
                      '[ "pnode=1", "size=1024", "vcpus=2-3", "vdistances=20,10" ] ]\n')
    cells = root.xpath("cpu/numa/cell")
    assert [(c.get("cpus"), c.get("memory")) for c in cells] == [("0,1", "1048576"),
                                                                ("2,3", "1048576")]
    assert one(cells[0], "distances/sibling[@id='1']/@value") == "20"
    assert one(root, "numatune/memnode[@cellid='1']/@nodeset") == "1"
