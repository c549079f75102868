"""``xen_xml_to_xl``: the libvirt XML of a Xen domain as xl config text.

This reads what ``virsh dumpxml`` prints on a Xen host (libvirt's libxl
driver): ``domain type='xen'`` with ``os/type`` ``linux`` (PV), ``hvm``
(machine ``xenfv``) or ``xenpvh``. Devices are written with the config
engine's own spec formatters, so the text reads back to the same specs.
What has no xl spelling comes back as notes.
"""

from __future__ import annotations

import re
from typing import Callable

from lxml import etree

from xenshift.config.devices import (ChannelSpec, DiskSpec, PciAddress, PciSpec,
                                     SerialSpec, UsbDevSpec, VfbSpec, VifRate, VifSpec,
                                     format_channel, format_disk, format_pci,
                                     format_serial, format_usb, format_vfb, format_vif,
                                     parse_serial)
from xenshift.config.values import PlainValue, format_xl
from xenshift.errors import InputError, Location, SpecError, excerpt

_UNITS = {"b": 1, "bytes": 1, "k": 1024, "kib": 1024, "kb": 1000,
          "m": 1024**2, "mib": 1024**2, "mb": 1000**2,
          "g": 1024**3, "gib": 1024**3, "gb": 1000**3,
          "t": 1024**4, "tib": 1024**4, "tb": 1000**4}
_GUEST_TYPES = {"linux": "pv", "xen": "pv", "hvm": "hvm", "xenpvh": "pvh"}
_FORMATS = {"raw": "raw", "aio": "raw", "qcow": "qcow", "qcow2": "qcow2",
            "vhd": "vhd", "vpc": "vhd", "qed": "qed"}
_BACKENDS = {"phy": "phy", "tap": "tap", "tap2": "tap", "qemu": "qdisk"}
_BOOT_DEVICES = {"hd": "c", "cdrom": "d", "network": "n", "fd": "a"}
_VGA = {"cirrus": "cirrus", "vga": "stdvga", "qxl": "qxl", "none": "none"}
_ACTIONS = ("destroy", "restart", "rename-restart", "preserve",
            "coredump-destroy", "coredump-restart")
# Devices libvirt's Xen driver always writes, which xl implies.
_IMPLIED = {"emulator", "memballoon", "controller"}
VNC_BASE_PORT = 5900
_XEN_VIFNAME = re.compile(r"vif[0-9]+\.[0-9]+(-emu)?")


class _Reader:
    """The xl settings of one domain element, in xl's usual key order."""

    def __init__(self, root: etree._Element, source: str | None):
        self.root = root
        self.source = source
        self.settings: dict[str, PlainValue] = {}
        self.notes: list[str] = []

    def where(self, element: etree._Element) -> Location:
        return Location(self.source, element.sourceline)

    def note(self, element: etree._Element, text: str) -> None:
        self.notes.append(f"line {element.sourceline}: {text}")

    def set(self, key: str, value: PlainValue | None) -> None:
        if value is not None:
            self.settings[key] = value

    def number(self, element: etree._Element, text: str | None, base: int = 10) -> int:
        """``text`` (from ``element``) as an integer, else InputError there."""
        try:
            return int(text or "", base)
        except ValueError:
            raise InputError(f"<{element.tag}>: '{excerpt(text or '')}' is not a number",
                             self.where(element)) from None

    def append(self, key: str, value: str) -> None:
        items = self.settings.setdefault(key, [])
        assert isinstance(items, list)
        items.append(value)


def xen_xml_to_xl(xml_text: str, source: str | None = None) -> tuple[str, list[str]]:
    """xl config text for the Xen domain in ``xml_text``, and notes on what
    has no xl equivalent. ``source`` names the file in errors and the header.

    Raises InputError, at the file and line, for malformed XML, a domain
    that is not a Xen one, or an unknown guest type.
    """
    try:
        # The text's undecodable bytes go back as they were, for libxml2
        # to report where they are.
        root = etree.fromstring(xml_text.encode("utf-8", "surrogateescape"),
                                etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError as err:
        line, column = err.position
        raise InputError(f"not well-formed XML: {err.msg}",
                         Location(source, line, column)) from None
    if root.tag != "domain":
        raise InputError(f"not a libvirt domain: the root element is <{root.tag}>",
                         Location(source, root.sourceline))
    if root.get("type") != "xen":
        raise InputError(f"not a Xen domain: <domain type='{root.get('type')}'> "
                         "(xenshift reads the libvirt XML of Xen domains)",
                         Location(source, root.sourceline))
    reader = _Reader(root, source)
    guest = _guest_type(reader)
    _general(reader, guest)
    _boot(reader, guest)
    _platform(reader, guest)
    devices = root.find("devices")
    for device in devices if devices is not None else ():
        if not isinstance(device.tag, str):
            continue
        handler = _DEVICES.get(device.tag)
        if handler is not None:
            try:
                handler(reader, device, guest)
            except ValueError as err:
                # A value no xl spec can carry (a comma inside an item).
                raise InputError(f"<{device.tag}> cannot be written as an xl "
                                 f"spec: {err}", reader.where(device)) from None
        elif device.tag not in _IMPLIED:
            reader.note(device, f"<{device.tag}> has no xl equivalent; left out")
    header = [f"Converted by xenshift from the libvirt XML {source or '<input>'}"]
    lines = [f"# {line}\n" for line in header]
    lines += [f"{key} = {format_xl(value)}\n" for key, value in reader.settings.items()]
    return "".join(lines), reader.notes


def _guest_type(r: _Reader) -> str:
    element = r.root.find("os/type")
    if element is None:
        # libvirt's early Xen driver wrote PV domains booted by a bootloader
        # with no <os> at all; only PV guests have a bootloader.
        if r.root.findtext("bootloader"):
            return "pv"
        raise InputError("no <os><type> and no <bootloader>: cannot tell PV from HVM",
                         r.where(r.root))
    guest = _GUEST_TYPES.get((element.text or "").strip())
    if guest is None:
        raise InputError(f"unknown guest type {element.text!r} in <os><type>: "
                         "expected linux (PV), hvm or xenpvh", r.where(element))
    if guest == "hvm" and element.get("machine") == "xenpvh":
        guest = "pvh"
    return guest


def _general(r: _Reader, guest: str) -> None:
    root = r.root
    name = root.find("name")
    if name is None or not name.text:
        # libvirt itself never writes such a domain: its parser refuses it.
        raise InputError("the domain has no <name> (or an empty one), which "
                         "libvirt refuses", r.where(root if name is None else name))
    r.set("name", name.text)
    r.set("uuid", root.findtext("uuid"))
    r.set("type", guest)
    memory = _mib(r, root.find("memory"))
    current = _mib(r, root.find("currentMemory"))
    r.set("memory", current or memory)
    if memory and current and memory != current:
        r.set("maxmem", memory)
    vcpu = root.find("vcpu")
    if vcpu is not None:
        maximum = r.number(vcpu, vcpu.text)
        current_vcpus = r.number(vcpu, vcpu.get("current", str(maximum)))
        r.set("vcpus", current_vcpus)
        if maximum != current_vcpus:
            r.set("maxvcpus", maximum)
        r.set("cpus", vcpu.get("cpuset"))
    pins = sorted(((r.number(p, p.get("vcpu")), p.get("cpuset", "")) for p in
                   root.iterfind("cputune/vcpupin")))
    if pins:
        r.set("cpus", [cpuset for _, cpuset in pins])
    cells = root.findall("cpu/numa/cell")
    if cells:
        r.set("vnuma", [_vnuma_node(r, cell) for cell in cells])
    cpu = root.find("cpu")
    if cpu is not None and (cpu.get("mode") or cpu.find("model") is not None):
        r.note(cpu, "the CPU model/mode has no xl key (xl masks CPUID with cpuid=)")


def _mib(r: _Reader, element: etree._Element | None) -> int | None:
    if element is None:
        return None
    return _in_mib(r, element, element.text, element.get("unit", "KiB"))


def _in_mib(r: _Reader, element: etree._Element, amount: str | None, unit: str) -> int:
    """``amount`` of libvirt ``unit`` (given on ``element``) in MiB."""
    if unit.lower() not in _UNITS:
        raise InputError(f"unknown memory unit {excerpt(unit)!r}", r.where(element))
    return r.number(element, amount) * _UNITS[unit.lower()] // 1024**2


def _vnuma_node(r: _Reader, cell: etree._Element) -> list[str]:
    size = _in_mib(r, cell, cell.get("memory"), cell.get("unit", "KiB"))
    node = [f"size={size}", f"vcpus={cell.get('cpus', '')}"]
    distances = [s.get("value", "") for s in cell.iterfind("distances/sibling")]
    if distances:
        node.append("vdistances=" + ",".join(distances))
    return node


def _boot(r: _Reader, guest: str) -> None:
    root, os = r.root, r.root.find("os")
    r.set("bootloader", root.findtext("bootloader"))
    args = root.findtext("bootloader_args")
    if args:
        r.set("bootloader_args", args.split())
    for tag, key in (("kernel", "kernel"), ("initrd", "ramdisk"), ("cmdline", "cmdline")):
        r.set(key, os.findtext(tag) if os is not None else None)
    if guest != "hvm" or os is None:
        return
    loader = os.find("loader")
    if (os.get("firmware") == "efi" or (loader is not None and (
            loader.get("type") == "pflash" or "ovmf" in (loader.text or "").lower()))):
        r.set("bios", "ovmf")
    letters = "".join(_BOOT_DEVICES.get(b.get("dev", ""), "") for b in os.iterfind("boot"))
    r.set("boot", letters or None)


def _platform(r: _Reader, guest: str) -> None:
    root = r.root
    features = root.find("features")
    if guest == "hvm":
        for flag in ("acpi", "apic", "pae"):
            r.set(flag, int(features is not None and features.find(flag) is not None))
    if features is not None:
        for flag in ("hap", "viridian"):
            if features.find(flag) is not None:
                r.set(flag, 1)
    clock = root.find("clock")
    if clock is not None:
        offset = clock.get("offset", "utc")
        if offset == "localtime" or clock.get("basis") == "localtime":
            r.set("localtime", 1)
        if offset == "variable":
            r.set("rtc_timeoffset", r.number(clock, clock.get("adjustment", "0")))
        for timer in clock.iterfind("timer[@name='hpet']"):
            r.set("hpet", int(timer.get("present", "yes") == "yes"))
    for event in ("on_poweroff", "on_reboot", "on_crash"):
        element = root.find(event)
        if element is None:
            continue
        if element.text not in _ACTIONS:
            raise InputError(f"unknown {event} action {element.text!r}", r.where(element))
        r.set(event, element.text)


def _disk(r: _Reader, disk: etree._Element, guest: str) -> None:
    target = disk.find("target")
    if target is None or not target.get("dev"):
        raise InputError("a <disk> without <target dev=...>", r.where(disk))
    driver = disk.find("driver")
    source = disk.find("source")
    path = None
    backendtype = _BACKENDS.get(driver.get("name", "")) if driver is not None else None
    if source is not None:
        path = source.get("file") or source.get("dev")
        if disk.get("type") == "network":
            if source.get("protocol") != "rbd":
                r.note(disk, f"network disk {source.get('protocol')}:{source.get('name')} "
                       "left out: only rbd has an xl form (as in libvirt's libxl driver)")
                return
            path, backendtype = _rbd_target(r, disk, source), "qdisk"
    cdrom = disk.get("device") == "cdrom"
    driver_type = driver.get("type", "raw") if driver is not None else "raw"
    spec = DiskSpec(
        vdev=target.get("dev", ""), target=path if path else (None if cdrom else ""),
        format=_FORMATS.get(driver_type, "raw") if path or not cdrom else "empty",
        readwrite=not cdrom and disk.find("readonly") is None, is_cdrom=cdrom,
        backendtype=backendtype)
    if driver_type not in _FORMATS:
        r.note(disk, f"disk format {driver_type!r} has no xl name; written as raw")
    r.append("disk", format_disk(spec))


def _rbd_target(r: _Reader, disk: etree._Element, source: etree._Element) -> str:
    """QEMU's ``rbd:POOL/IMAGE:...`` target for qdisk, as libvirt's libxl
    driver writes it: monitors in ``mon_host`` with ``\\:`` before a port and
    ``\\;`` between hosts (QEMU's escapes), ``id=`` from ``<auth>``."""
    name = source.get("name") or ""
    if not name or ":" in name:
        raise InputError(f"an rbd disk needs a pool/image name without ':' "
                         f"(got {name!r})", r.where(source))
    target = f"rbd:{name}"
    auth = disk.find("auth")
    if auth is not None and auth.get("username"):
        target += f":id={auth.get('username')}"
        r.note(auth, "the Ceph secret is not carried: the host's keyring must "
                     f"hold the key of client.{auth.get('username')}")
    else:
        target += ":auth_supported=none"
    hosts = []
    for host in source.iterfind("host"):
        hostname = host.get("name", "")
        if ":" in hostname:   # IPv6
            hostname = "[" + hostname.replace(":", "\\:") + "]"
        hosts.append(hostname + (f"\\:{host.get('port')}" if host.get("port") else ""))
    if hosts:
        target += ":mon_host=" + "\\;".join(hosts)
    return target


def _interface(r: _Reader, nic: etree._Element, guest: str) -> None:
    source = nic.find("source")
    if nic.get("type") == "network":
        r.note(nic, f"interface on libvirt network {source.get('network') if source is not None else '?'}: "
               "xl attaches vifs to bridges; put the network's bridge in bridge=")
    model = nic.find("model")
    model_type = model.get("type") if model is not None else None
    bandwidth = nic.find("bandwidth/outbound")
    rate = None
    if bandwidth is not None:
        rate = VifRate(r.number(bandwidth, bandwidth.get("average")) * 1024)
        if bandwidth.get("burst") or bandwidth.get("peak"):
            r.note(bandwidth, "peak/burst have no xl equivalent; the rate uses "
                   "xl's 50 ms interval")
    ips = [ip.get("address", "") for ip in nic.iterfind("ip")]
    spec = VifSpec(
        mac=_attr(nic, "mac", "address"),
        bridge=source.get("bridge") if source is not None else None,
        script=_attr(nic, "script", "path"), vifname=_vifname(nic),
        model=model_type if model_type not in (None, "netfront") else None,
        type="ioemu" if guest == "hvm" and model_type not in (None, "netfront") else None,
        rate=rate, ip=tuple(ips) or None)
    r.append("vif", format_vif(spec))


def _vifname(nic: etree._Element) -> str | None:
    """A chosen host-side name; Xen's own ``vifDOMID.N`` names are not one."""
    name = _attr(nic, "target", "dev")
    return None if name is None or _XEN_VIFNAME.fullmatch(name) else name


def _attr(element: etree._Element, child: str, name: str) -> str | None:
    found = element.find(child)
    return found.get(name) if found is not None else None


def _graphics(r: _Reader, gfx: etree._Element, guest: str) -> None:
    kind = gfx.get("type")
    if kind == "vnc":
        port = r.number(gfx, gfx.get("port", "-1"))
        listen = gfx.get("listen") or _attr(gfx, "listen", "address")
        display = port - VNC_BASE_PORT if port >= VNC_BASE_PORT and gfx.get("autoport") != "yes" else None
        vfb = VfbSpec(vnc=True, vnclisten=listen, vncdisplay=display,
                      vncunused=True if display is None else None,
                      vncpasswd=gfx.get("passwd"), keymap=gfx.get("keymap"))
    elif kind == "sdl":
        vfb = VfbSpec(sdl=True, display=gfx.get("display"), xauthority=gfx.get("xauth"))
    elif kind == "spice" and guest == "hvm":
        _spice(r, gfx)
        return
    else:
        r.note(gfx, f"{kind} graphics have no xl equivalent for a {guest} guest")
        return
    if guest == "hvm":
        for name, value in _vfb_keys(vfb):
            r.set(name, value)
    else:
        r.append("vfb", format_vfb(vfb))


def _vfb_keys(vfb: VfbSpec) -> list[tuple[str, PlainValue]]:
    """An HVM guest's display as top-level keys (xl reads vfb only for PV)."""
    return [(name, int(value) if isinstance(value, bool) else value)
            for name, value in vars(vfb).items() if value not in (None, ())]


def _spice(r: _Reader, gfx: etree._Element) -> None:
    r.set("spice", 1)
    r.set("spicehost", gfx.get("listen") or _attr(gfx, "listen", "address"))
    for attr, key in (("port", "spiceport"), ("tlsPort", "spicetls_port")):
        if gfx.get(attr, "-1") != "-1":
            r.set(key, r.number(gfx, gfx.get(attr)))
    passwd = gfx.get("passwd")
    r.set("spicedisable_ticketing", 0 if passwd else 1)
    r.set("spicepasswd", passwd)


def _serial(r: _Reader, char: etree._Element, guest: str) -> None:
    if char.tag == "console":
        # A PV console every PV/PVH guest has, or (HVM) the first serial port.
        return
    text = _serial_text(char)
    if text is None:
        r.note(char, f"serial type {char.get('type')} has no xl equivalent")
        return
    if guest != "hvm":
        r.note(char, "xl gives PV guests no serial port, only the PV console")
        return
    try:
        spec: SerialSpec = parse_serial(text, r.where(char))
    except SpecError as err:
        r.note(char, err.message)
        return
    r.append("serial", format_serial(spec))


def _serial_text(char: etree._Element) -> str | None:
    """The QEMU ``-serial`` spelling of a libvirt serial port, if it has one."""
    kind, path = char.get("type"), _attr(char, "source", "path")
    server = ",server=on" if _attr(char, "source", "mode") == "bind" else ""
    if kind in ("pty", "null", "vc", "stdio"):
        return kind
    if kind in ("file", "pipe") and path:
        return f"{kind}:{path}"
    if kind == "dev" and path:
        return path
    if kind == "unix" and path:
        return f"unix:{path}{server}"
    if kind == "tcp":
        protocol = "telnet" if _attr(char, "protocol", "type") == "telnet" else "tcp"
        host = _attr(char, "source", "host") or ""
        return f"{protocol}:{host}:{_attr(char, 'source', 'service')}{server}"
    return None


def _input(r: _Reader, device: etree._Element, guest: str) -> None:
    # ps2 and xen inputs come with every guest; only USB ones need saying.
    if device.get("bus") == "usb" and guest == "hvm":
        r.set("usb", 1)
        r.append("usbdevice", device.get("type", "tablet"))


def _channel(r: _Reader, char: etree._Element, guest: str) -> None:
    name = _attr(char, "target", "name")
    if char.get("type") == "unix":
        spec = ChannelSpec("socket", name=name, path=_attr(char, "source", "path"))
    elif char.get("type") == "pty":
        spec = ChannelSpec("pty", name=name)
    else:
        r.note(char, f"channel type {char.get('type')} has no xl equivalent")
        return
    r.append("channel", format_channel(spec))


def _hostdev(r: _Reader, dev: etree._Element, guest: str) -> None:
    address = dev.find("source/address")
    if address is None:
        r.note(dev, "hostdev without a source address left out")
    elif dev.get("type") == "pci":
        pci = PciAddress(*(r.number(address, address.get(n, "0"), 16)
                           for n in ("domain", "bus", "slot", "function")))
        r.append("pci", format_pci(PciSpec(address=pci)))
    elif dev.get("type") == "usb":
        r.append("usbdev", format_usb(UsbDevSpec(type="hostdev",
                                                 hostbus=r.number(address, address.get("bus")),
                                                 hostaddr=r.number(address, address.get("device")))))
    else:
        r.note(dev, f"{dev.get('type')} hostdev has no xl equivalent")


def _video(r: _Reader, video: etree._Element, guest: str) -> None:
    model = video.find("model")
    if guest != "hvm" or model is None:
        return
    r.set("vga", _VGA.get(model.get("type", ""), "cirrus"))
    vram = model.get("vram")
    if vram:
        r.set("videoram", r.number(model, vram) // 1024)


def _sound(r: _Reader, sound: etree._Element, guest: str) -> None:
    r.set("soundhw", {"ich6": "hda"}.get(sound.get("model", ""), sound.get("model")))


def _filesystem(r: _Reader, fs: etree._Element, guest: str) -> None:
    tag, path = _attr(fs, "target", "dir"), _attr(fs, "source", "dir")
    r.append("p9", f"tag={tag},security_model=none,path={path}")


_DEVICES: dict[str, Callable[[_Reader, etree._Element, str], None]] = {
    "disk": _disk, "interface": _interface, "graphics": _graphics,
    "serial": _serial, "console": _serial, "channel": _channel,
    "input": _input, "hostdev": _hostdev, "video": _video, "sound": _sound, "filesystem": _filesystem,
}
