"""PCI specs: xl-pci-configuration(5) forms, errors, and libxlu agreement."""

from __future__ import annotations

import random
from collections import Counter

import pytest
from hypothesis import given

from tests.config.devices.choices import pick
from tests.config.devices.spec_errors import assert_spec_error
from tests.config.devices.strategies import pci_specs
from tests.oracles.libxlu_pci import xlu_parse_pci
from xenshift.config.devices.pci import PciAddress, PciSpec, format_pci, parse_pci
from xenshift.errors import SpecError

NIC = PciAddress(0, 1, 0x1A, 1)

PARSED = [
    ("0000:01:1a.1", PciSpec(address=NIC)),
    ("01:1a.1", PciSpec(address=NIC)),
    ("1:1a.1", PciSpec(address=NIC)),
    ("0000:01:1A.1", PciSpec(address=NIC)),
    ("0000:01:1a.*", PciSpec(address=PciAddress(0, 1, 0x1A, None))),
    ("ffff:ff:1f.7@1f", PciSpec(address=PciAddress(0xFFFF, 0xFF, 0x1F, 7), vslot=0x1F)),
    ("0000:01:1a.1@3,permissive=1,msitranslate=0,seize=1,power_mgmt=2",
     PciSpec(address=NIC, vslot=3, permissive=True, msitranslate=False, seize=True,
             power_mgmt=True)),
    ("0000:01:1a.1,rdm_policy=relaxed", PciSpec(address=NIC, rdm_policy="relaxed")),
    ("0000:01:1a.1,rdm_policy=STRICT", PciSpec(address=NIC, rdm_policy="strict")),
    ("0000:01:1a.1,", PciSpec(address=NIC)),
    ("bdf=0000:01:1a.1,vslot=3", PciSpec(address=NIC, vslot=3)),
    ("permissive=1,bdf=01:1a.1", PciSpec(address=NIC, permissive=True)),
    ("bdf=02:00.0,bdf=01:1a.1", PciSpec(address=NIC)),
    ("name=gpu0", PciSpec(name="gpu0")),
    ("name=", PciSpec(name="")),
    ("name=a=b,vslot=04", PciSpec(name="a=b", vslot=4)),
]


@pytest.mark.parametrize("text, expected", PARSED)
def test_parse(text, expected):
    assert parse_pci(text) == expected


@pytest.mark.parametrize("text, problem, item", [
    ("0000:01:20.0", "bad BDF", "0000:01:20.0"),
    ("0000:100:00.0", "bad BDF", "0000:100:00.0"),
    ("10000:01:00.0", "bad BDF", "10000:01:00.0"),
    ("0000:01:00.8", "bad BDF", "0000:01:00.8"),
    ("bdf=01:00", "bad BDF", "bdf=01:00"),
    ("0000:01:00.0@20", "bad vslot", "20"),
    ("0000:01:00.0@", "bad vslot", ""),
    ("vslot=x,name=a", "bad vslot", "x"),
    ("0000:01:00.0junk", "unexpected text after the BDF", "junk"),
    ("0000:01:00.0@3g", "unexpected text after the BDF", "g"),
    ("0000:01:00.0,,", "no '=' in", ","),
    ("0000:01:00.0,permissive", "no '=' in", "permissive"),
    ("0000:01:00.0,permissive=yes", "not a decimal number", "permissive=yes"),
    ("0000:01:00.0,rdm_policy=lax", "unknown value for rdm_policy", "rdm_policy=lax"),
    ("0000:01:00.0,foo=1", "unknown option", "foo=1"),
    ("0000:01:00.0, permissive=1", "unknown option", " permissive=1"),
])
def test_errors_name_spec_and_item(text, problem, item):
    assert_spec_error(parse_pci, text, "pci", problem, item)


@pytest.mark.parametrize("text", ["", "0000:01:00.0,name=x", "permissive=1"])
def test_needs_exactly_one_of_bdf_and_name(text):
    with pytest.raises(SpecError, match="needs exactly one of a BDF and a name="):
        parse_pci(text)


@pytest.mark.parametrize("spec, text", [
    (PciSpec(address=NIC, vslot=3, permissive=True), "0000:01:1a.1@03,permissive=1"),
    (PciSpec(address=PciAddress(0, 1, 0, None)), "0000:01:00.*"),
    (PciSpec(name="gpu", vslot=31, rdm_policy="strict"), "name=gpu,vslot=1f,rdm_policy=strict"),
])
def test_format(spec, text):
    assert format_pci(spec) == text


def test_spec_needs_address_or_name():
    with pytest.raises(ValueError):
        PciSpec()


@given(pci_specs())
def test_round_trip(spec):
    assert parse_pci(format_pci(spec)) == spec


def our_fields(spec: PciSpec) -> dict[str, object]:
    """Our spec in the oracle's terms (libxl's defaults for what is unset)."""
    address = spec.address or PciAddress(0, 0, 0, 0)
    return {"name": spec.name, "domain": address.domain, "bus": address.bus,
            "device": address.device, "function": address.function,
            "vslot": spec.vslot or 0, "permissive": bool(spec.permissive),
            "msitranslate": bool(spec.msitranslate), "seize": bool(spec.seize),
            "power_mgmt": bool(spec.power_mgmt), "rdm_policy": spec.rdm_policy or "invalid"}


def random_pci_specs(count: int) -> list[str]:
    """PCI spec strings in libxlu's strict subset (see pci.py), valid or not."""
    rng = random.Random(3)
    domains = (["0", "0000", "1", "ffff"], ["10000", "g", ""])
    buses = (["0", "00", "01", "ff"], ["100", "g", ""])
    devices = (["0", "00", "1a", "1f"], ["20", "g", ""])
    functions = (["0", "7", "*"], ["8", "g", ""])
    slots = (["0", "3", "1f"], ["20", "g", ""])
    texts = []
    for _ in range(count):
        bdf = (f"{pick(rng, *buses)}:{pick(rng, *devices)}.{pick(rng, *functions)}")
        if rng.random() < 0.6:
            bdf = f"{pick(rng, *domains)}:{bdf}"
        by_name = rng.random() < 0.2
        items = [] if by_name else [bdf + (f"@{pick(rng, *slots)}" if rng.random() < 0.3 else "")]
        if not by_name and rng.random() < 0.2:
            items = [f"bdf={bdf}"]
        for _ in range(rng.randint(0, 3)):
            key = pick(rng, ["vslot", "permissive", "msitranslate", "seize", "power_mgmt",
                             "rdm_policy"], ["foo", "name", "bdf"])
            value = {"bdf": bdf, "vslot": pick(rng, *slots),
                     "rdm_policy": pick(rng, ["strict", "relaxed", "Relaxed"], ["lax"]),
                     "name": "gpu0"}.get(key, rng.choice(["0", "1", "2"]))
            items.append(f"{key}={value}")
        if by_name:
            items.insert(rng.randrange(len(items) + 1), f"name={rng.choice(['gpu0', '', 'a=b'])}")
        texts.append(",".join(items) + pick(rng, ["", ","], [",,"]))
    return texts


def test_agrees_with_libxlu(libxlu):
    problems = []
    texts = random_pci_specs(1000) + [text for text, _ in PARSED]
    verdicts = Counter(xlu_parse_pci(libxlu, text).value is None for text in texts)
    assert verdicts[True] > 200 and verdicts[False] > 400, verdicts
    for text in texts:
        theirs = xlu_parse_pci(libxlu, text).value
        try:
            ours = our_fields(parse_pci(text))
        except SpecError:
            ours = None
        if ours != theirs:
            problems.append(f"{text!r}: ours {ours}, libxlu {theirs}")
    assert not problems, "\n".join(problems[:10])


@pytest.mark.parametrize("text", [
    "01: 00.0", "01:0x1f.0", "vslot= 3,bdf=1:0.0", "bdf=01:00.0junk", "vslot=3g,name=a",
    "01:00.0,permissive=yes",
])
def test_deliberately_stricter_than_libxlu(libxlu, text):
    # libxlu's sscanf("%x") and atoi accept these, reading something other
    # than what they say; we refuse them (see pci.py).
    assert xlu_parse_pci(libxlu, text).value is not None
    with pytest.raises(SpecError):
        parse_pci(text)
