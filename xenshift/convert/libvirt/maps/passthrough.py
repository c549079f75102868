"""Host devices and USB: ``pci=``, ``usbdev=``, ``usbctrl=``, ``usb*`` keys.

PCI passthrough carries over as VFIO hostdevs, but the KVM host must have
an IOMMU and the device must be free there, so each one is a warning.
"""

from __future__ import annotations

from xenshift.config.devices import PciSpec, UsbDevSpec, format_pci, format_usb
from xenshift.config.syntax import Scalar
from xenshift.convert.libvirt.context import KvmRule, MapContext
from xenshift.convert.libvirt.kvm_domain import (Controller, Input, PciHostdev,
                                                 UsbHostdev)

RULES = (
    KvmRule("pci", "devices/hostdev[@type='pci']",
            "managed VFIO hostdev by host address; needs an IOMMU on the KVM "
            "host; by-name devices, vslot and the Xen pciback flags cannot be carried"),
    KvmRule("pci_seize", "devices/hostdev/@managed",
            "managed='yes' makes libvirt take the device from its host driver"),
    KvmRule("usbdev", "devices/hostdev[@type='usb']", "host bus and device number"),
    KvmRule("usbctrl", "devices/controller[@type='usb']",
            "version 1 → piix3-uhci, 2 → ich9-ehci1, 3 → qemu-xhci (with ports)"),
    KvmRule("usb", "devices/controller[@type='usb']", "a KVM domain has a USB controller"),
    KvmRule("usbversion", "devices/controller[@type='usb']/@model",
            "1 → piix3-uhci, 2 → ich9-ehci1, 3 → qemu-xhci"),
    KvmRule("usbdevice", "devices/input[@bus='usb']",
            "tablet, mouse, keyboard → USB inputs; host:BUS.ADDR → usb hostdev"),
)

_USB_MODELS = {1: "piix3-uhci", 2: "ich9-ehci1", 3: "qemu-xhci"}
_XHCI = "qemu-xhci"
_USB_INPUTS = ("tablet", "mouse", "keyboard")


def apply(ctx: MapContext) -> None:
    """Hostdevs, USB controllers and USB inputs."""
    for spec in ctx.config.pcis:
        _pci(ctx, spec)
    if ctx.is_set("pci_seize"):
        ctx.kept("pci_seize", "libvirt's managed='yes' detaches the devices "
                 "from their host driver")
    for index, spec in enumerate(ctx.config.usbdevs):
        _usbdev(ctx, spec, f"#{index}")
    _controllers(ctx)
    _usbdevice(ctx)


def _pci(ctx: MapContext, spec: PciSpec) -> None:
    item = format_pci(spec)
    address = spec.address
    if address is None:
        ctx.dropped("pci", "a device named for xl pci-assignable-add -n; give "
                    "its host address", item=item)
        return
    ctx.domain.devices.append(PciHostdev(address.domain, address.bus, address.device,
                                         address.function or 0))
    ctx.kept("pci", "VFIO hostdev, managed", item=item)
    ctx.warn(f"pci {item}", "passthrough needs an IOMMU on the KVM host and the "
             "device bound to vfio-pci (libvirt does that for managed devices); "
             "the guest sees it at a new address")
    if address.function is None:
        ctx.warn(f"pci {item}", "all functions (*): only function 0 is added; "
                 "add a hostdev for each other function")
    for name in ("vslot", "permissive", "msitranslate", "power_mgmt", "rdm_policy"):
        value = getattr(spec, name)
        if value is not None:
            ctx.dropped("pci", "a Xen pciback/slot setting; VFIO has none",
                        item=item, value=f"{name}={value}")


def _usbdev(ctx: MapContext, spec: UsbDevSpec, item: str) -> None:
    text = format_usb(spec)
    if spec.hostbus is None or spec.hostaddr is None:
        ctx.dropped("usbdev", "needs hostbus= and hostaddr=", item=item, value=text)
        return
    ctx.domain.devices.append(UsbHostdev(spec.hostbus, spec.hostaddr))
    ctx.kept("usbdev", f"usb hostdev bus {spec.hostbus} device {spec.hostaddr}",
             item=item, value=text)
    if spec.controller is not None or spec.port is not None:
        ctx.dropped("usbdev", "libvirt picks the guest's USB controller and port",
                    item=item, value=f"controller={spec.controller},port={spec.port}")
    ctx.warn(f"usbdev {item}", "host USB addresses change when a device is "
             "replugged or the host reboots; check them on the KVM host")


def _controllers(ctx: MapContext) -> None:
    for index, spec in enumerate(ctx.config.usbctrls):
        model = _USB_MODELS.get(spec.version or 2, _XHCI)
        ports = spec.ports if model == _XHCI else None
        ctx.domain.devices.append(Controller("usb", model, ports))
        ctx.changed("usbctrl", f"usb controller {model}", "an emulated USB "
                    "controller of the same version", item=f"#{index}",
                    before=format_usb(spec))
    version = ctx.settings.get_long("usbversion")
    if version is not None:
        model = _USB_MODELS.get(version, _XHCI)
        ctx.domain.devices.append(Controller("usb", model))
        ctx.kept("usbversion", f"usb controller {model}")
    if ctx.is_set("usb"):
        ctx.kept("usb", "libvirt adds a USB controller by itself")


def _usbdevice(ctx: MapContext) -> None:
    setting = ctx.settings.get("usbdevice")
    if setting is None:
        return
    values = [setting.value] if isinstance(setting.value, Scalar) else setting.value.items
    for value in values:
        text = value.text if isinstance(value, Scalar) else str(value)
        if text in _USB_INPUTS:
            ctx.domain.devices.append(Input(text, "usb"))
            ctx.kept("usbdevice", f"input {text} bus usb", item=text, value=text)
            continue
        host = _host_address(text)
        if host is None:
            ctx.dropped("usbdevice", "no libvirt equivalent for this QEMU USB "
                        "device", item=text, value=text)
            continue
        ctx.domain.devices.append(UsbHostdev(*host))
        ctx.kept("usbdevice", "usb hostdev", item=text, value=text)


def _host_address(text: str) -> tuple[int, int] | None:
    """(bus, device) of QEMU's ``host:BUS.ADDR``, None for other forms."""
    kind, _, rest = text.partition(":")
    bus, dot, addr = rest.partition(".")
    if kind != "host" or not dot or not bus.isdigit() or not addr.isdigit():
        return None
    return int(bus), int(addr)
