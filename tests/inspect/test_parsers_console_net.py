"""inittab, securetty, getty units; NIC configs and naming pins; Xen leftovers."""

from __future__ import annotations

from xenshift.inspect.console import getty_unit_tty, parse_inittab, parse_securetty
from xenshift.inspect.kernels import Package
from xenshift.inspect.network import (parse_ifcfg, parse_interfaces, parse_link_file,
                                      parse_netplan, parse_persistent_net_rules)
from xenshift.inspect.osinfo import parse_dpkg_status, parse_os_release, parse_suse_release
from xenshift.inspect.xen_leftovers import (parse_modprobe_aliases, parse_script_loads,
                                            xen_packages)


def test_inittab_gettys():
    text = ("id:3:initdefault:\n# x0:1:respawn:/sbin/agetty xvc0\n"
            "1:2345:respawn:/sbin/mingetty --noclear tty1\n"
            "x0:12345:respawn:/sbin/agetty -L 9600 xvc0 xterm\nbroken line\n")
    entries = parse_inittab(text)
    assert [(e.line, e.id, e.action, e.tty) for e in entries] == [
        (1, "id", "initdefault", None), (3, "1", "respawn", "tty1"), (4, "x0", "respawn", "xvc0")]


def test_securetty_and_getty_units():
    assert [(e.line, e.tty) for e in parse_securetty("# c\ntty1\n\nxvc0\n")] == [(2, "tty1"), (4, "xvc0")]
    assert getty_unit_tty("serial-getty@hvc0.service") == "hvc0"
    assert getty_unit_tty("getty@tty1.service") == "tty1"
    assert getty_unit_tty("sshd.service") is None


def test_persistent_net_rules():
    text = ('# generated\nSUBSYSTEM=="net", ACTION=="add", DRIVERS=="?*", '
            'ATTR{address}=="00:16:3E:1A:2B:3C", KERNEL=="eth*", NAME="eth0"\n'
            'SUBSYSTEM=="net", NAME="eth1"\n')
    pins = parse_persistent_net_rules(text, "/r")
    assert [(p.line, p.name, p.mac) for p in pins] == [(2, "eth0", "00:16:3e:1a:2b:3c"), (3, "eth1", None)]


def test_ifupdown_ifcfg_netplan_link():
    configs = parse_interfaces("auto lo\niface lo inet loopback\niface eth0 inet dhcp\n"
                               "  hwaddress ether 00:16:3e:00:00:01\niface eth1 inet manual\n", "/i")
    assert [(c.line, c.name, c.mac) for c in configs] == [(3, "eth0", "00:16:3e:00:00:01"), (5, "eth1", None)]
    suse = parse_ifcfg("BOOTPROTO='dhcp'\nLLADDR='00:16:3E:4D:5E:6F'\n", "/etc/sysconfig/network/ifcfg-eth0")
    assert (suse.name, suse.mac) == ("eth0", "00:16:3e:4d:5e:6f")
    rhel = parse_ifcfg('DEVICE=eth2\nHWADDR="00:16:3e:00:00:02"\n', "/x/ifcfg-System_eth2")
    assert (rhel.name, rhel.mac) == ("eth2", "00:16:3e:00:00:02")
    assert parse_ifcfg("", "/x/ifcfg-lo") is None
    configs, pins = parse_netplan("network:\n  ethernets:\n    eth0:\n      dhcp4: true\n"
                                  "    nic:\n      match: {macaddress: '00:16:3e:00:00:03'}\n"
                                  "      set-name: lan0\n", "/etc/netplan/50.yaml")
    assert [(c.name, c.mac) for c in configs] == [("eth0", None), ("lan0", "00:16:3e:00:00:03")]
    assert [(p.name, p.mac, p.kind) for p in pins] == [("lan0", "00:16:3e:00:00:03", "netplan")]
    assert parse_netplan("{bad yaml", "/n") == ([], [])
    pin = parse_link_file("[Match]\nMACAddress=00:16:3e:00:00:04\n[Link]\nName=eth0\n", "/l")
    assert (pin.name, pin.mac) == ("eth0", "00:16:3e:00:00:04")
    assert parse_link_file("[Link]\nNamePolicy=kernel\n", "/l") is None


def test_xen_leftovers():
    aliases = parse_modprobe_aliases("alias eth0 xennet\nalias scsi_hostadapter xen-vbd\n"
                                     "alias eth1 e1000\n# alias eth2 xennet\n", "/m")
    assert [(a.line, a.alias, a.module) for a in aliases] == [(1, "eth0", "xennet"),
                                                              (2, "scsi_hostadapter", "xen-vbd")]
    lines = parse_script_loads("#!/bin/sh\nmodprobe xen-vbd\n/sbin/insmod xennet.ko; true\n"
                               "# modprobe xen-vnif\necho modprobe\n", "/etc/rc.local")
    assert [s.line for s in lines] == [2, 3]
    pkgs = [Package("xe-guest-utilities", "7"), Package("kernel-xen", "3"), Package("kernel-default", "3"),
            Package("xen-kmp-default", "4"), Package("bash", "5")]
    assert [p.name for p in xen_packages(pkgs)] == ["xe-guest-utilities", "kernel-xen", "xen-kmp-default"]


def test_release_files_and_dpkg_status():
    assert parse_os_release('ID=debian\nVERSION_ID="12"\n')["VERSION_ID"] == "12"
    assert parse_suse_release("SUSE Linux Enterprise Server 11 (x86_64)\nVERSION = 11\nPATCHLEVEL = 4\n") == (
        "SUSE Linux Enterprise Server 11 (x86_64)", 11, 4)
    status = ("Package: bash\nStatus: install ok installed\nVersion: 5.2\n\n"
              "Package: gone\nStatus: deinstall ok config-files\nVersion: 1\n")
    assert parse_dpkg_status(status) == [Package("bash", "5.2")]
