"""Vif specs: every key of xl-network-configuration(5), errors, round trips."""

from __future__ import annotations

import pytest
from hypothesis import given

from tests.config.devices.spec_errors import assert_spec_error
from tests.config.devices.strategies import vif_specs
from xenshift.config.devices.vif import VifSpec, format_vif, parse_vif
from xenshift.config.devices.vif_rate import VifRate

PARSED = [
    ("", VifSpec()),
    ("mac=00:16:3E:74:3d:76,model=rtl8139,bridge=xenbr0",
     VifSpec(mac="00:16:3e:74:3d:76", model="rtl8139", bridge="xenbr0")),
    ("mac=0:16:3e:1:2:3", VifSpec(mac="00:16:3e:01:02:03")),
    ("mac=00-16-3e-01-02-03", VifSpec(mac="00:16:3e:01:02:03")),
    ("type=vif", VifSpec(type="vif")),
    ("type=ioemu, model=e1000", VifSpec(type="ioemu", model="e1000")),
    ("bridge=br.42", VifSpec(bridge="br.42")),
    ("bridge=ovsbr0:42:43", VifSpec(bridge="ovsbr0:42:43")),
    ("gatewaydev=eth0", VifSpec(gatewaydev="eth0")),
    ("netdev=eth0", VifSpec(gatewaydev="eth0", netdev_alias=True)),
    ("ip=10.0.0.1", VifSpec(ip=("10.0.0.1",))),
    ("ip=10.0.0.1 10.0.0.2  fe80::1", VifSpec(ip=("10.0.0.1", "10.0.0.2", "fe80::1"))),
    ("ip=", VifSpec(ip=())),
    ("script=vif-route,backend=netdom,vifname=web0",
     VifSpec(script="vif-route", backend="netdom", vifname="web0")),
    ("rate=10Mb/s", VifSpec(rate=VifRate(1_250_000))),
    ("rate=1MB/s@20ms", VifSpec(rate=VifRate(1_000_000, 20_000))),
    ("devid=3,mtu=9000", VifSpec(devid=3, mtu=9000)),
    ("vlan=10p/100+10x4", VifSpec(vlan="10p/100+10x4")),
    ("forwarddev=eth1", VifSpec(forwarddev="eth1")),
    ("accel=netfront", VifSpec(accel="netfront")),
    ("trusted", VifSpec(trusted=True)),
    ("untrusted", VifSpec(trusted=False)),
    ("colo_checkpoint_host=10.0.0.9,colo_checkpoint_port=9000,colo_compare_out=x",
     VifSpec(colo=(("colo_checkpoint_host", "10.0.0.9"), ("colo_checkpoint_port", "9000"),
                   ("colo_compare_out", "x")))),
    # strtok: runs of commas vanish, leading blanks go, trailing ones stay.
    (",,bridge=xenbr0,,  model=e1000 ,", VifSpec(bridge="xenbr0", model="e1000 ")),
    # The last of a repeated key wins.
    ("bridge=a,bridge=b", VifSpec(bridge="b")),
    ("netdev=a,gatewaydev=b", VifSpec(gatewaydev="b")),
    # Unknown items: xl prints "unrecognized argument" and goes on.
    ("bridge=xenbr0,vif2=x,foo,Trusted,model= ",
     VifSpec(bridge="xenbr0", model=" ", unknown=("vif2=x", "foo", "Trusted"))),
    # xm's type=netfront: xl says "Invalid parameter `type'" and goes on.
    ("type=netfront,bridge=xenbr0", VifSpec(bridge="xenbr0", unknown=("type=netfront",))),
]


@pytest.mark.parametrize("text, expected", PARSED)
def test_parse(text, expected):
    assert parse_vif(text) == expected


@pytest.mark.parametrize("text, problem, item", [
    ("mac=00:16:3e:74:3d", "bad mac address", "mac=00:16:3e:74:3d"),
    ("mac=00:16:3e:74:3d:7g", "bad mac address", "mac=00:16:3e:74:3d:7g"),
    ("mac=100:16:3e:74:3d:76", "bad mac address", "mac=100:16:3e:74:3d:76"),
    ("bridge=br0,mtu=abc", "not a decimal number", "mtu=abc"),
    ("devid=-1", "not a decimal number", "devid=-1"),
    ("rate=10XB/s", "invalid rate", "10XB/s"),
    ("rate=@20ms", "no rate specified in", "@20ms"),
    ("rate=0MB/s", "rate overflow", "0MB/s"),
    ("rate=10MB/s@20h", "invalid replenishment interval", "20h"),
])
def test_errors_name_spec_and_item(text, problem, item):
    assert_spec_error(parse_vif, text, "vif", problem, item)


def test_format_order_and_spelling():
    spec = parse_vif("foo=1,untrusted,rate=10Mb/s@20ms,netdev=eth0,ip=a b,mac=0:1:2:3:4:5")
    assert format_vif(spec) == ("mac=00:01:02:03:04:05,netdev=eth0,ip=a b,"
                                "rate=1250KB/s@20ms,untrusted,foo=1")


def test_format_refuses_a_comma():
    with pytest.raises(ValueError):
        format_vif(VifSpec(bridge="a,b"))


@given(vif_specs())
def test_round_trip(spec):
    assert parse_vif(format_vif(spec)) == spec
