"""Typed device specs of xl configs: parsers and formatters, one kind a module.

Each ``parse_*`` reads one list item the way xl (or libxlu) does and raises
:class:`xenshift.errors.SpecError` where xl would fail; each ``format_*``
writes a spec back as text that parses to an equal spec.
"""

from xenshift.config.devices.channel import ChannelSpec, format_channel, parse_channel
from xenshift.config.devices.disk import DiskSpec, format_disk, parse_disk
from xenshift.config.devices.pci import PciAddress, PciSpec, format_pci, parse_pci
from xenshift.config.devices.serial import SerialSpec, format_serial, parse_serial
from xenshift.config.devices.usb import (
    UsbCtrlSpec, UsbDevSpec, format_usb, parse_usbctrl, parse_usbdev)
from xenshift.config.devices.vdev import Vdev, parse_vdev
from xenshift.config.devices.vfb import VfbSpec, format_vfb, parse_vfb
from xenshift.config.devices.vif import VifSpec, format_vif, parse_vif
from xenshift.config.devices.vif_rate import VifRate, parse_vif_rate
from xenshift.config.devices.vnuma import (
    VnumaNode, format_vnuma_node, parse_vnuma, parse_vnuma_node)

__all__ = [
    "ChannelSpec", "DiskSpec", "PciAddress", "PciSpec", "SerialSpec", "UsbCtrlSpec",
    "UsbDevSpec", "Vdev", "VfbSpec", "VifRate", "VifSpec", "VnumaNode",
    "format_channel", "format_disk", "format_pci", "format_serial", "format_usb",
    "format_vfb", "format_vif", "format_vnuma_node",
    "parse_channel", "parse_disk", "parse_pci", "parse_serial", "parse_usbctrl",
    "parse_usbdev", "parse_vdev", "parse_vfb", "parse_vif", "parse_vif_rate",
    "parse_vnuma", "parse_vnuma_node",
]
