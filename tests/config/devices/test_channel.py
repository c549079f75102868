"""Channel specs: connections, trimming, errors, round trips."""

from __future__ import annotations

import pytest
from hypothesis import given

from tests.config.devices.spec_errors import assert_spec_error
from tests.config.devices.strategies import channel_specs
from xenshift.config.devices.channel import ChannelSpec, format_channel, parse_channel


@pytest.mark.parametrize("text, expected", [
    ("connection=pty,name=org.qemu.guest_agent.0",
     ChannelSpec(connection="pty", name="org.qemu.guest_agent.0")),
    ("connection=socket,path=/var/run/ga.sock,name=org.qemu.guest_agent.0,backend=dom0",
     ChannelSpec(connection="socket", path="/var/run/ga.sock", name="org.qemu.guest_agent.0",
                 backend="dom0")),
    (" connection = socket , path = /x ", ChannelSpec(connection="socket", path="/x")),
    ("connection==pty", ChannelSpec(connection="pty")),
    ("connection=pty,mode=rw", ChannelSpec(connection="pty", unknown=("mode=rw",))),
])
def test_parse(text, expected):
    assert parse_channel(text) == expected


@pytest.mark.parametrize("text, problem, item", [
    ("connection=serial", "unknown value for connection", "connection=serial"),
    ("connection=pty,name", "not a key=value item", "name"),
    ("connection=pty,name=", "not a key=value item", "name="),
    ("connection=pty,path=/a=b", "more than one '=' (xl drops the text after the second) in",
     "path=/a=b"),
    ("name=x", "no connection= (pty or socket) given", None),
    ("", "no connection= (pty or socket) given", None),
    ("connection=socket,name=x", "connection=socket needs a path=", None),
])
def test_errors_name_spec_and_item(text, problem, item):
    assert_spec_error(parse_channel, text, "channel", problem, item)


@pytest.mark.parametrize("spec", [
    ChannelSpec(connection="pty", name=""), ChannelSpec(connection="pty", name=" a"),
    ChannelSpec(connection="socket", path="/a=b"),
])
def test_format_refuses_what_xl_cannot_carry(spec):
    with pytest.raises(ValueError):
        format_channel(spec)


@given(channel_specs())
def test_round_trip(spec):
    assert parse_channel(format_channel(spec)) == spec
