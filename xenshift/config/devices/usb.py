"""USB controller and device specs (``usbctrl=`` and ``usbdev=`` items).

xl reads both with a strict ``key=value`` loop: any other item makes it
exit. Enum values are matched without regard to case, as libxl does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

from xenshift.config.devices.keyvalue import (
    Reader, c_unsigned, decimal, join_items, read_options, set_fields)
from xenshift.config.devices.spec_context import SpecContext
from xenshift.errors import Location

UsbCtrlType = Literal["auto", "pv", "devicemodel", "qusb"]
UsbDevType = Literal["hostdev"]


@dataclass(frozen=True)
class UsbCtrlSpec:
    """One ``usbctrl=`` item: a USB controller and its ports."""

    type: UsbCtrlType | None = None
    version: int | None = None
    ports: int | None = None


@dataclass(frozen=True)
class UsbDevSpec:
    """One ``usbdev=`` item: a host USB device (bus and address) and where
    it plugs in (controller index, port)."""

    type: UsbDevType | None = None
    hostbus: int | None = None
    hostaddr: int | None = None
    controller: int | None = None
    port: int | None = None


def parse_usbctrl(text: str, location: Location | None = None) -> UsbCtrlSpec:
    """Parse one usbctrl spec as xl does; SpecError where xl exits."""
    ctx = SpecContext("usbctrl", text, location)
    readers = {"type": _enum(get_args(UsbCtrlType)), "version": decimal, "ports": decimal}
    return UsbCtrlSpec(**read_options(ctx, readers))


def parse_usbdev(text: str, location: Location | None = None) -> UsbDevSpec:
    """Parse one usbdev spec as xl does; SpecError where xl exits."""
    ctx = SpecContext("usbdev", text, location)
    readers = {"type": _enum(get_args(UsbDevType)), "hostbus": _c_number,
               "hostaddr": _c_number, "controller": decimal, "port": decimal}
    return UsbDevSpec(**read_options(ctx, readers))


def format_usb(spec: UsbCtrlSpec | UsbDevSpec) -> str:
    """A usbctrl or usbdev spec as xl reads it back to an equal spec."""
    return join_items([f"{name}={value}" for name, value in set_fields(spec)])


def _enum(names: tuple[str, ...]) -> Reader:
    def read(ctx: SpecContext, item: str, value: str) -> str:
        if value.lower() not in names:
            raise ctx.error("unknown value for type", item)
        return value.lower()
    return read


def _c_number(ctx: SpecContext, item: str, value: str) -> int:
    """hostbus and hostaddr: xl's ``strtoul(value, NULL, 0)``, taken whole."""
    number = c_unsigned(value)
    if number is None:
        raise ctx.error("not a number", item)
    return number
