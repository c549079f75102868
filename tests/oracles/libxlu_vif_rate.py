"""Xen's vif rate parser (``xlu_vif_parse_rate``) as a Python function."""

from __future__ import annotations

from tests.oracles.libxlu_build import Libxlu, OracleResult


def xlu_parse_vif_rate(libxlu: Libxlu, rate: str) -> OracleResult:
    """Parse a ``rate=`` value with libxlu: the interval and the credit."""
    text = rate.encode(errors="surrogateescape")
    return libxlu.parse(
        "nic", lambda cfg, nic: libxlu.lib.xlu_vif_parse_rate(cfg, text, nic),
        lambda nic: {"interval_usecs": nic.rate_interval_usecs,
                     "bytes_per_interval": nic.rate_bytes_per_interval})
