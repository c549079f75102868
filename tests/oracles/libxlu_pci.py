"""Xen's PCI-spec parser (``xlu_pci_parse_spec_string``) as a Python function."""

from __future__ import annotations

from typing import Any

from tests.oracles.libxlu_build import Libxlu, OracleResult

PCI_FUNC_ALL = 0xFFFFFFFF


def xlu_parse_pci(libxlu: Libxlu, spec: str) -> OracleResult:
    """Parse one pci spec with libxlu, as ``xl pci-attach`` does."""
    text = spec.encode(errors="surrogateescape")
    return libxlu.parse(
        "pci", lambda cfg, pci: libxlu.lib.xlu_pci_parse_spec_string(cfg, pci, text),
        lambda pci: _pci_fields(libxlu, pci))


def _pci_fields(libxlu: Libxlu, pci: Any) -> dict[str, Any]:
    return {
        "name": libxlu.text(pci.name),
        "domain": pci.domain, "bus": pci.bus, "device": pci.dev,
        "function": None if pci.vfunc_mask == PCI_FUNC_ALL else pci.func,
        "vslot": pci.vdevfn >> 3,
        "permissive": bool(pci.permissive),
        "msitranslate": bool(pci.msitranslate),
        "seize": bool(pci.seize),
        "power_mgmt": bool(pci.power_mgmt),
        "rdm_policy": libxlu.text(libxlu.lib.libxl_rdm_reserve_policy_to_string(pci.rdm_policy)),
    }
