"""Serial devices in QEMU's -serial syntax: kinds, errors, round trips."""

from __future__ import annotations

import pytest
from hypothesis import given

from tests.config.devices.spec_errors import assert_spec_error
from tests.config.devices.strategies import serial_specs
from xenshift.config.devices.serial import SerialSpec, format_serial, parse_serial


@pytest.mark.parametrize("text, expected", [
    ("pty", SerialSpec("pty")),
    ("none", SerialSpec("none")),
    ("null", SerialSpec("null")),
    ("stdio", SerialSpec("stdio")),
    ("vc", SerialSpec("vc")),
    ("vc:80Cx24C", SerialSpec("vc", "80Cx24C")),
    ("msmouse", SerialSpec("msmouse")),
    ("/dev/ttyS0", SerialSpec("device", "/dev/ttyS0")),
    ("COM1", SerialSpec("device", "COM1")),
    ("file:/var/log/guest.log", SerialSpec("file", "/var/log/guest.log")),
    ("pipe:/tmp/serial", SerialSpec("pipe", "/tmp/serial")),
    ("tcp::4555,server,nowait", SerialSpec("tcp", ":4555", ("server", "nowait"))),
    ("tcp:192.168.0.2:4444,server=on,wait=off",
     SerialSpec("tcp", "192.168.0.2:4444", ("server=on", "wait=off"))),
    ("telnet:localhost:4444,server", SerialSpec("telnet", "localhost:4444", ("server",))),
    ("unix:/tmp/serial.sock,server,nowait",
     SerialSpec("unix", "/tmp/serial.sock", ("server", "nowait"))),
    ("udp:192.168.0.2:4555@:4556", SerialSpec("udp", "192.168.0.2:4555@:4556")),
    ("chardev:ser0", SerialSpec("chardev", "ser0")),
    ("mon:stdio", SerialSpec("mon", "stdio")),
    ("mon:tcp::4444,server", SerialSpec("mon", "tcp::4444,server")),
])
def test_parse(text, expected):
    assert parse_serial(text) == expected


def test_network_and_monitor_properties():
    assert (parse_serial("tcp::4555,server").host, parse_serial("tcp::4555").port) == ("", 4555)
    assert parse_serial("telnet:h:23").host == "h"
    assert parse_serial("pty").host is None and parse_serial("unix:/s").port is None
    assert parse_serial("mon:tcp::4444,server").inner == SerialSpec("tcp", ":4444", ("server",))
    assert parse_serial("pty").inner is None


@pytest.mark.parametrize("text, problem, item", [
    ("serial0", "unknown serial device", "serial0"),
    ("PTY", "unknown serial device", "PTY"),
    ("pty:x", "unknown serial device", "pty:x"),
    ("", "unknown serial device", ""),
    ("file:", "file: needs a target in", "file:"),
    ("tcp:host", "tcp: needs [host]:port, not", "host"),
    ("tcp:host:port,server", "tcp: needs [host]:port, not", "host:port"),
    ("mon:bogus", "unknown serial device", "bogus"),
])
def test_errors_name_spec_and_item(text, problem, item):
    assert_spec_error(parse_serial, text, "serial", problem, item)


@given(serial_specs())
def test_round_trip(spec):
    assert parse_serial(format_serial(spec)) == spec
