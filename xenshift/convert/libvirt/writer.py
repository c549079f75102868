"""libvirt domain XML from a :class:`~.kvm_domain.KvmDomain`, via lxml.

The one place that makes XML. Elements come in the order libvirt's own
formatter (``virDomainDefFormatInternal``) writes them, so the output reads
like ``virsh dumpxml`` less what libvirt fills in itself on define
(emulator, controllers, addresses, ps2 inputs).
"""

from __future__ import annotations

from typing import Callable

from lxml import etree

from xenshift.convert.libvirt import kvm_domain as k

# libvirt writes devices grouped by kind, in this order.
DEVICE_ORDER: tuple[type, ...] = (
    k.Disk, k.Controller, k.Filesystem, k.Interface, k.CharDevice, k.Input,
    k.Graphics, k.Sound, k.Video, k.PciHostdev, k.UsbHostdev, k.Redirdev,
    k.Memballoon, k.Rng)
# Among character devices, libvirt writes serials, then consoles, then channels.
_CHAR_ORDER = ("serial", "console", "channel")


def write_domain(domain: k.KvmDomain) -> str:
    """The domain as libvirt XML text, indented by two spaces as libvirt does."""
    root = etree.Element("domain", type=domain.type)
    _text(root, "name", domain.name)
    if domain.uuid:
        _text(root, "uuid", domain.uuid)
    if domain.genid:
        etree.SubElement(root, "genid")
    _text(root, "memory", str(domain.memory), unit="KiB")
    _text(root, "currentMemory", str(domain.current_memory), unit="KiB")
    vcpu = _text(root, "vcpu", str(domain.vcpus), placement="static")
    if domain.current_vcpus != domain.vcpus:
        vcpu.set("current", str(domain.current_vcpus))
    if domain.cputune:
        _cputune(root, domain.cputune)
    if domain.numa_memnodes:
        numatune = etree.SubElement(root, "numatune")
        for cell, node in sorted(domain.numa_memnodes.items()):
            etree.SubElement(numatune, "memnode", cellid=str(cell), mode="strict",
                             nodeset=str(node))
    _os(root, domain.os)
    features = etree.SubElement(root, "features")
    for flag in domain.features.flags:
        etree.SubElement(features, flag)
    if domain.features.hyperv:
        hyperv = etree.SubElement(features, "hyperv", mode="custom")
        for name in domain.features.hyperv:
            extra = {"retries": "8191"} if name == "spinlocks" else {}
            etree.SubElement(hyperv, name, state="on", **extra)
    if domain.cpu.mode or domain.cpu.cells:
        _cpu(root, domain.cpu)
    _clock(root, domain.clock)
    for event in ("on_poweroff", "on_reboot", "on_crash"):
        _text(root, event, getattr(domain, event))
    if domain.pm.suspend_to_mem is not None or domain.pm.suspend_to_disk is not None:
        pm = etree.SubElement(root, "pm")
        for tag, value in (("suspend-to-mem", domain.pm.suspend_to_mem),
                           ("suspend-to-disk", domain.pm.suspend_to_disk)):
            if value is not None:
                etree.SubElement(pm, tag, enabled=_yes_no(value))
    devices = etree.SubElement(root, "devices")
    for device in sorted(domain.devices, key=_device_rank):
        _WRITERS[type(device)](devices, device)
    etree.indent(root, space="  ")
    return etree.tostring(root, encoding="unicode") + "\n"


def _device_rank(device: k.Device) -> tuple[int, int]:
    char = _CHAR_ORDER.index(device.element) if isinstance(device, k.CharDevice) else 0
    return DEVICE_ORDER.index(type(device)), char


def _text(parent: etree._Element, tag: str, text: str, **attrs: str) -> etree._Element:
    element = etree.SubElement(parent, tag, **attrs)
    element.text = text
    return element


def _yes_no(value: bool) -> str:
    return "yes" if value else "no"


def _cputune(root: etree._Element, tune: k.Cputune) -> None:
    element = etree.SubElement(root, "cputune")
    if tune.shares is not None:
        _text(element, "shares", str(tune.shares))
    if tune.global_quota is not None:
        _text(element, "global_period", str(tune.global_period))
        _text(element, "global_quota", str(tune.global_quota))
    for pin in tune.vcpupins:
        etree.SubElement(element, "vcpupin", vcpu=str(pin.vcpu), cpuset=pin.cpuset)


def _os(root: etree._Element, os: k.Os) -> None:
    element = etree.SubElement(root, "os")
    if os.firmware:
        element.set("firmware", os.firmware)
    _text(element, "type", "hvm", arch="x86_64", machine=os.machine)
    for tag in ("kernel", "initrd", "cmdline"):
        value = getattr(os, tag)
        if value is not None:
            _text(element, tag, value)


def _cpu(root: etree._Element, cpu: k.Cpu) -> None:
    element = etree.SubElement(root, "cpu")
    if cpu.mode:
        element.set("mode", cpu.mode)
    if not cpu.cells:
        return
    numa = etree.SubElement(element, "numa")
    for cell in cpu.cells:
        cell_el = etree.SubElement(numa, "cell", id=str(cell.id), cpus=cell.cpus,
                                   memory=str(cell.memory), unit="KiB")
        if cell.distances:
            distances = etree.SubElement(cell_el, "distances")
            for sibling, value in enumerate(cell.distances):
                etree.SubElement(distances, "sibling", id=str(sibling), value=str(value))


def _clock(root: etree._Element, clock: k.Clock) -> None:
    element = etree.SubElement(root, "clock", offset=clock.offset)
    if clock.adjustment is not None:
        element.set("adjustment", str(clock.adjustment))
        element.set("basis", clock.basis or "utc")
    for timer in clock.timers:
        etree.SubElement(element, "timer", name=timer.name, present=_yes_no(timer.present))


def _disk(devices: etree._Element, disk: k.Disk) -> None:
    element = etree.SubElement(devices, "disk", type=disk.source_type, device=disk.device)
    driver = etree.SubElement(element, "driver", name="qemu", type=disk.driver_type)
    if disk.discard:
        driver.set("discard", disk.discard)
    if disk.source is not None:
        if disk.source_type == "network":
            source = etree.SubElement(element, "source", protocol="rbd", name=disk.source)
            for host in disk.hosts:
                etree.SubElement(source, "host", name=host.name,
                                 **({"port": host.port} if host.port else {}))
        else:
            attr = "dev" if disk.source_type == "block" else "file"
            etree.SubElement(element, "source", **{attr: disk.source})
    etree.SubElement(element, "target", dev=disk.target_dev, bus=disk.bus)
    if disk.readonly:
        etree.SubElement(element, "readonly")
    if disk.boot_order is not None:
        etree.SubElement(element, "boot", order=str(disk.boot_order))


def _controller(devices: etree._Element, controller: k.Controller) -> None:
    element = etree.SubElement(devices, "controller", type=controller.type,
                               model=controller.model)
    if controller.ports is not None:
        element.set("ports", str(controller.ports))


def _filesystem(devices: etree._Element, fs: k.Filesystem) -> None:
    element = etree.SubElement(devices, "filesystem", type="mount",
                               accessmode=fs.accessmode)
    etree.SubElement(element, "source", dir=fs.source_dir)
    etree.SubElement(element, "target", dir=fs.target_dir)


def _interface(devices: etree._Element, nic: k.Interface) -> None:
    element = etree.SubElement(devices, "interface", type=nic.type)
    if nic.mac:
        etree.SubElement(element, "mac", address=nic.mac)
    etree.SubElement(element, "source", **{nic.type: nic.source})
    if nic.bandwidth:
        bandwidth = etree.SubElement(element, "bandwidth")
        etree.SubElement(bandwidth, "outbound", average=str(nic.bandwidth.average),
                         burst=str(nic.bandwidth.burst))
    if nic.target_dev:
        etree.SubElement(element, "target", dev=nic.target_dev)
    etree.SubElement(element, "model", type=nic.model)
    if nic.mtu is not None:
        etree.SubElement(element, "mtu", size=str(nic.mtu))
    if nic.boot_order is not None:
        etree.SubElement(element, "boot", order=str(nic.boot_order))


def _char_device(devices: etree._Element, char: k.CharDevice) -> None:
    element = etree.SubElement(devices, char.element, type=char.type)
    source = char.source
    if source is not None:
        attrs = {name: value for name in ("mode", "host", "service", "path")
                 if (value := getattr(source, name)) is not None}
        etree.SubElement(element, "source", **attrs)
        if source.protocol:
            etree.SubElement(element, "protocol", type=source.protocol)
    target = etree.SubElement(element, "target")
    for attr, value in (("type", char.target_type), ("port", char.target_port),
                        ("name", char.target_name)):
        if value is not None:
            target.set(attr, str(value))


def _input(devices: etree._Element, device: k.Input) -> None:
    etree.SubElement(devices, "input", type=device.type, bus=device.bus)


def _graphics(devices: etree._Element, gfx: k.Graphics) -> None:
    element = etree.SubElement(devices, "graphics", type=gfx.type)
    if gfx.type != "sdl":
        element.set("port", str(gfx.port) if gfx.port is not None else "-1")
        if gfx.tls_port is not None:
            element.set("tlsPort", str(gfx.tls_port))
        element.set("autoport", _yes_no(gfx.port is None and gfx.tls_port is None))
    for attr, value in (("listen", gfx.listen), ("keymap", gfx.keymap),
                        ("passwd", gfx.passwd), ("display", gfx.display),
                        ("xauth", gfx.xauth)):
        if value is not None:
            element.set(attr, value)
    if gfx.listen is not None:
        etree.SubElement(element, "listen", type="address", address=gfx.listen)
    if gfx.image_compression:
        etree.SubElement(element, "image", compression=gfx.image_compression)
    if gfx.streaming:
        etree.SubElement(element, "streaming", mode=gfx.streaming)
    if gfx.mouse_mode:
        etree.SubElement(element, "mouse", mode=gfx.mouse_mode)
    if gfx.clipboard is not None:
        etree.SubElement(element, "clipboard", copypaste=_yes_no(gfx.clipboard))
    if gfx.gl is not None:
        etree.SubElement(element, "gl", enable=_yes_no(gfx.gl))


def _sound(devices: etree._Element, sound: k.Sound) -> None:
    etree.SubElement(devices, "sound", model=sound.model)


def _video(devices: etree._Element, video: k.Video) -> None:
    element = etree.SubElement(devices, "video")
    model = etree.SubElement(element, "model", type=video.model)
    if video.vram is not None:
        model.set("vram", str(video.vram))


def _pci_hostdev(devices: etree._Element, dev: k.PciHostdev) -> None:
    source = _hostdev_source(devices, "pci")
    etree.SubElement(source, "address", domain=f"0x{dev.domain:04x}",
                     bus=f"0x{dev.bus:02x}", slot=f"0x{dev.slot:02x}",
                     function=f"0x{dev.function:x}")


def _usb_hostdev(devices: etree._Element, dev: k.UsbHostdev) -> None:
    source = _hostdev_source(devices, "usb")
    etree.SubElement(source, "address", bus=str(dev.bus), device=str(dev.device))


def _hostdev_source(devices: etree._Element, kind: str) -> etree._Element:
    element = etree.SubElement(devices, "hostdev", mode="subsystem", type=kind,
                               managed="yes")
    return etree.SubElement(element, "source")


def _redirdev(devices: etree._Element, dev: k.Redirdev) -> None:
    etree.SubElement(devices, "redirdev", bus=dev.bus, type=dev.type)


def _memballoon(devices: etree._Element, balloon: k.Memballoon) -> None:
    etree.SubElement(devices, "memballoon", model=balloon.model)


def _rng(devices: etree._Element, rng: k.Rng) -> None:
    element = etree.SubElement(devices, "rng", model=rng.model)
    _text(element, "backend", rng.backend, model="random")


_WRITERS: dict[type, Callable] = {
    k.Disk: _disk, k.Controller: _controller, k.Filesystem: _filesystem,
    k.Interface: _interface, k.CharDevice: _char_device, k.Input: _input,
    k.Graphics: _graphics, k.Sound: _sound, k.Video: _video,
    k.PciHostdev: _pci_hostdev, k.UsbHostdev: _usb_hostdev, k.Redirdev: _redirdev,
    k.Memballoon: _memballoon, k.Rng: _rng,
}
