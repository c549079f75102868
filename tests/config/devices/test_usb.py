"""usbctrl and usbdev specs: keys, errors, round trips."""

from __future__ import annotations

import pytest
from hypothesis import given

from tests.config.devices.spec_errors import assert_spec_error
from tests.config.devices.strategies import usbctrl_specs, usbdev_specs
from xenshift.config.devices.usb import (
    UsbCtrlSpec, UsbDevSpec, format_usb, parse_usbctrl, parse_usbdev)


@pytest.mark.parametrize("text, expected", [
    ("", UsbCtrlSpec()),
    ("type=qusb,version=2,ports=6", UsbCtrlSpec(type="qusb", version=2, ports=6)),
    ("type=PV, version=1", UsbCtrlSpec(type="pv", version=1)),
    ("type=devicemodel,type=auto", UsbCtrlSpec(type="auto")),
])
def test_parse_usbctrl(text, expected):
    assert parse_usbctrl(text) == expected


@pytest.mark.parametrize("text, expected", [
    ("hostbus=1, hostaddr=3", UsbDevSpec(hostbus=1, hostaddr=3)),
    ("type=hostdev,hostbus=0x10,hostaddr=010,controller=0,port=2",
     UsbDevSpec(type="hostdev", hostbus=16, hostaddr=8, controller=0, port=2)),
])
def test_parse_usbdev(text, expected):
    assert parse_usbdev(text) == expected


@pytest.mark.parametrize("parse, kind, text, problem, item", [
    (parse_usbctrl, "usbctrl", "type=ohci", "unknown value for type", "type=ohci"),
    (parse_usbctrl, "usbctrl", "type=pv,speed=2", "unknown parameter", "speed=2"),
    (parse_usbctrl, "usbctrl", "type=pv,ports", "unknown parameter", "ports"),
    (parse_usbctrl, "usbctrl", "ports=six", "not a decimal number", "ports=six"),
    (parse_usbdev, "usbdev", "type=tablet", "unknown value for type", "type=tablet"),
    (parse_usbdev, "usbdev", "hostbus=0x", "not a number", "hostbus=0x"),
    (parse_usbdev, "usbdev", "hostaddr=09", "not a number", "hostaddr=09"),
    (parse_usbdev, "usbdev", "port=-1", "not a decimal number", "port=-1"),
    (parse_usbdev, "usbdev", "hostbus=1, ,hostaddr=2", "unknown parameter", ""),
])
def test_errors_name_spec_and_item(parse, kind, text, problem, item):
    assert_spec_error(parse, text, kind, problem, item)


def test_format():
    assert format_usb(UsbCtrlSpec(type="qusb", version=2, ports=6)) == "type=qusb,version=2,ports=6"
    assert format_usb(UsbDevSpec(hostbus=1, hostaddr=3)) == "hostbus=1,hostaddr=3"


@given(usbctrl_specs)
def test_usbctrl_round_trip(spec):
    assert parse_usbctrl(format_usb(spec)) == spec


@given(usbdev_specs)
def test_usbdev_round_trip(spec):
    assert parse_usbdev(format_usb(spec)) == spec
