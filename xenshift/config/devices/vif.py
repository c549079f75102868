"""Network interface specs (xl-network-configuration(5)), as xl reads them.

xl cuts a vif spec at commas and hands each item to ``parse_nic_config``.
An item it does not know is reported ("unrecognized argument") and
otherwise ignored, so we keep such items in ``VifSpec.unknown`` for the
linter rather than failing. A ``type`` other than ``vif`` or ``ioemu``
(xm's ``type=netfront`` among them) is the same to xl: "Invalid parameter
`type'", then the default type; it joins ``unknown`` too.  A bad ``rate``,
``devid`` or ``mtu`` makes xl exit; a bad ``mac`` only makes it complain and
keep going with a half-set address, which we refuse.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from xenshift.config.devices.keyvalue import (
    decimal, join_items, set_fields, split_option, xl_items)
from xenshift.config.devices.spec_context import SpecContext
from xenshift.config.devices.vif_rate import VifRate, read_rate
from xenshift.errors import Location

VifType = Literal["vif", "ioemu"]

# The COLO proxy settings parse_nic_config accepts, all plain strings.
COLO_KEYS = frozenset({
    "colo_sock_mirror_id", "colo_sock_mirror_ip", "colo_sock_mirror_port",
    "colo_sock_compare_sec_in_id", "colo_sock_compare_sec_in_ip",
    "colo_sock_compare_sec_in_port",
    "colo_sock_redirector0_id", "colo_sock_redirector0_ip", "colo_sock_redirector0_port",
    "colo_sock_redirector1_id", "colo_sock_redirector1_ip", "colo_sock_redirector1_port",
    "colo_sock_redirector2_id", "colo_sock_redirector2_ip", "colo_sock_redirector2_port",
    "colo_sock_compare_pri_in_id", "colo_sock_compare_pri_in_ip",
    "colo_sock_compare_pri_in_port",
    "colo_sock_compare_notify_id", "colo_sock_compare_notify_ip",
    "colo_sock_compare_notify_port",
    "colo_filter_mirror_queue", "colo_filter_mirror_outdev",
    "colo_filter_redirector0_queue", "colo_filter_redirector0_indev",
    "colo_filter_redirector0_outdev",
    "colo_filter_redirector1_queue", "colo_filter_redirector1_indev",
    "colo_filter_redirector1_outdev",
    "colo_compare_pri_in", "colo_compare_sec_in", "colo_compare_out",
    "colo_compare_notify_dev",
    "colo_sock_sec_redirector0_id", "colo_sock_sec_redirector0_ip",
    "colo_sock_sec_redirector0_port",
    "colo_sock_sec_redirector1_id", "colo_sock_sec_redirector1_ip",
    "colo_sock_sec_redirector1_port",
    "colo_filter_sec_redirector0_queue", "colo_filter_sec_redirector0_indev",
    "colo_filter_sec_redirector0_outdev",
    "colo_filter_sec_redirector1_queue", "colo_filter_sec_redirector1_indev",
    "colo_filter_sec_redirector1_outdev",
    "colo_filter_sec_rewriter0_queue",
    "colo_checkpoint_host", "colo_checkpoint_port",
})
# Keys whose value is stored as given.
_STRING_KEYS = ("bridge", "script", "backend", "vifname", "model", "vlan", "forwarddev",
                "accel")
_MAC = re.compile(r"[0-9a-fA-F]{1,2}(?:[:-][0-9a-fA-F]{1,2}){5}")


@dataclass(frozen=True)
class VifSpec:
    """One ``vif=`` item.

    ``ip`` is the space-separated address list (``()`` for ``ip=``),
    ``mac`` is normalised to ``00:16:3e:74:3d:76``, and ``netdev_alias``
    says ``gatewaydev`` was spelt with its deprecated name ``netdev``.
    xl ignores ``accel`` ("not supported"). ``colo`` holds the ``colo_*``
    settings in order, ``unknown`` the items xl does not recognise.
    """

    type: VifType | None = None
    mac: str | None = None
    bridge: str | None = None
    gatewaydev: str | None = None
    netdev_alias: bool = False
    ip: tuple[str, ...] | None = None
    script: str | None = None
    backend: str | None = None
    vifname: str | None = None
    model: str | None = None
    rate: VifRate | None = None
    devid: int | None = None
    mtu: int | None = None
    vlan: str | None = None
    forwarddev: str | None = None
    accel: str | None = None
    trusted: bool | None = None
    colo: tuple[tuple[str, str], ...] = ()
    unknown: tuple[str, ...] = ()

    @property
    def ignored_type(self) -> str | None:
        """A ``type=`` item xl ignores (xm's ``type=netfront``), if any."""
        return next((item for item in self.unknown if item.startswith("type=")), None)


def parse_vif(text: str, location: Location | None = None) -> VifSpec:
    """Parse one vif spec as xl does; SpecError where xl fails or misreads."""
    ctx = SpecContext("vif", text, location)
    values: dict[str, Any] = {}
    colo: dict[str, str] = {}
    unknown: list[str] = []
    for item in xl_items(text):
        key, value = split_option(item)
        if value is None:
            if item in ("trusted", "untrusted"):
                values["trusted"] = item == "trusted"
            elif item:
                unknown.append(item)
        elif key == "type":
            if value in ("vif", "ioemu"):
                values["type"] = value
            else:
                unknown.append(item)
        elif key == "mac":
            values["mac"] = _mac(ctx, item, value)
        elif key == "ip":
            values["ip"] = tuple(value.split())
        elif key == "rate":
            values["rate"] = read_rate(ctx, value)
        elif key in ("devid", "mtu"):
            values[key] = decimal(ctx, item, value)
        elif key in ("netdev", "gatewaydev"):
            values["gatewaydev"] = value
            values["netdev_alias"] = key == "netdev"
        elif key in _STRING_KEYS:
            values[key] = value
        elif key in COLO_KEYS:
            colo[key] = value
        else:
            unknown.append(item)
    return VifSpec(**values, colo=tuple(colo.items()), unknown=tuple(unknown))


def format_vif(spec: VifSpec) -> str:
    """The spec as xl reads it back to an equal VifSpec.

    ValueError for a value holding a comma, which no vif spec can carry.
    """
    items: list[str] = []
    for name, value in set_fields(spec, skip=("netdev_alias", "colo", "unknown")):
        if name == "gatewaydev" and spec.netdev_alias:
            items.append(f"netdev={value}")
        elif name == "trusted":
            items.append("trusted" if value else "untrusted")
        elif name == "ip":
            items.append("ip=" + " ".join(value))
        else:
            items.append(f"{name}={value}")
    items += [f"{key}={value}" for key, value in spec.colo]
    return join_items(items + list(spec.unknown))


def _mac(ctx: SpecContext, item: str, value: str) -> str:
    if not _MAC.fullmatch(value):
        raise ctx.error("bad mac address", item)
    return ":".join(f"{int(part, 16):02x}" for part in re.split("[:-]", value))
