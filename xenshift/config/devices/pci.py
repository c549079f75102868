"""PCI passthrough specs (xl-pci-configuration(5)), as libxlu reads them.

A spec is ``[DDDD:]BB:DD.F[@VSLOT][,KEY=VALUE]...`` or only ``KEY=VALUE``
items, one of which is ``bdf=`` or ``name=``; it must name a device by
exactly one of a BDF or a name. ``F`` may be ``*`` (every function).
Numbers are hex. Keys: ``bdf vslot permissive msitranslate seize
power_mgmt rdm_policy name``; an unknown key is an error.

libxlu (``xlu_pci_parse_spec_string``) also takes blanks, a sign or ``0x``
inside BDF numbers (it uses ``sscanf("%x")``), ignores anything after the
value of ``bdf=`` and ``vslot=``, and reads a non-numeric flag as 0
(``atoi``). We refuse those: a spec relying on them says something else
than it means.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from xenshift.config.devices.keyvalue import decimal, join_items
from xenshift.config.devices.spec_context import SpecContext
from xenshift.errors import Location

RdmPolicy = Literal["strict", "relaxed"]

_BDF = re.compile(r"(?:([0-9a-fA-F]+):)?([0-9a-fA-F]+):([0-9a-fA-F]+)\.(\*|[0-9a-fA-F]+)")
_HEX = re.compile(r"[0-9a-fA-F]+")
_FLAGS = ("permissive", "msitranslate", "seize", "power_mgmt")
_MAX_SLOT = 0x1F


@dataclass(frozen=True)
class PciAddress:
    """A host PCI function; ``function`` is None for ``*`` (all of them)."""

    domain: int
    bus: int
    device: int
    function: int | None

    def __str__(self) -> str:
        function = "*" if self.function is None else f"{self.function:x}"
        return f"{self.domain:04x}:{self.bus:02x}:{self.device:02x}.{function}"


@dataclass(frozen=True)
class PciSpec:
    """One ``pci=`` item: a device by address or by name, and its options.

    The flags are None when the spec leaves them to the global
    ``pci_permissive`` etc.
    """

    address: PciAddress | None = None
    name: str | None = None
    vslot: int | None = None
    permissive: bool | None = None
    msitranslate: bool | None = None
    seize: bool | None = None
    power_mgmt: bool | None = None
    rdm_policy: RdmPolicy | None = None

    def __post_init__(self) -> None:
        if (self.address is None) == (self.name is None):
            raise ValueError("a PCI spec names a device by address or by name, not both")


def parse_pci(text: str, location: Location | None = None) -> PciSpec:
    """Parse one pci spec; SpecError where libxlu fails (or is lax, above)."""
    ctx = SpecContext("pci", text, location)
    values: dict[str, Any] = {}
    rest = text
    positional = _BDF.match(text)
    if positional:
        values["address"] = _address(ctx, positional)
        rest = text[positional.end():]
        if rest.startswith("@"):
            slot = _HEX.match(rest, 1)
            values["vslot"] = _vslot(ctx, slot.group() if slot else rest[1:])
            rest = rest[slot.end() if slot else 1:]
        if rest and not rest.startswith(","):
            raise ctx.error("unexpected text after the BDF", rest)
        rest = rest[1:]
    while rest:
        key, equals, after = rest.partition("=")
        if not equals:
            raise ctx.error("no '=' in", rest)
        value, _, rest = after.partition(",")
        item = f"{key}={value}"
        if key == "bdf":
            bdf = _BDF.fullmatch(value)
            if bdf is None:
                raise ctx.error("bad BDF", item)
            values["address"] = _address(ctx, bdf)
        elif key == "vslot":
            values["vslot"] = _vslot(ctx, value)
        elif key in _FLAGS:
            values[key] = decimal(ctx, item, value) != 0
        elif key == "rdm_policy":
            # libxl matches enum names without regard to case.
            if value.lower() not in ("strict", "relaxed"):
                raise ctx.error("unknown value for rdm_policy", item)
            values[key] = value.lower()
        elif key == "name":
            values[key] = value
        else:
            raise ctx.error("unknown option", item)
    if ("address" in values) == ("name" in values):
        raise ctx.error("needs exactly one of a BDF and a name=")
    return PciSpec(**values)


def format_pci(spec: PciSpec) -> str:
    """The spec as libxlu reads it back to an equal PciSpec.

    ValueError for a name holding a comma, which no pci spec can carry.
    """
    items = []
    if spec.address is not None:
        slot = "" if spec.vslot is None else f"@{spec.vslot:02x}"
        items.append(f"{spec.address}{slot}")
    else:
        items.append(f"name={spec.name}")
        if spec.vslot is not None:
            items.append(f"vslot={spec.vslot:02x}")
    for flag in _FLAGS:
        value = getattr(spec, flag)
        if value is not None:
            items.append(f"{flag}={int(value)}")
    if spec.rdm_policy is not None:
        items.append(f"rdm_policy={spec.rdm_policy}")
    return join_items(items)


def _address(ctx: SpecContext, match: re.Match[str]) -> PciAddress:
    domain, bus, device, function = match.groups()
    address = PciAddress(int(domain or "0", 16), int(bus, 16), int(device, 16),
                         None if function == "*" else int(function, 16))
    if (address.domain > 0xFFFF or address.bus > 0xFF or address.device > _MAX_SLOT
            or (address.function or 0) > 7):
        raise ctx.error("bad BDF", match.group())
    return address


def _vslot(ctx: SpecContext, text: str) -> int:
    if not _HEX.fullmatch(text) or int(text, 16) > _MAX_SLOT:
        raise ctx.error("bad vslot", text)
    return int(text, 16)
