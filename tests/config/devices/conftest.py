"""Fixtures for the device-spec tests: Xen's own parsers, built once."""

from __future__ import annotations

import pytest

from tests.oracles.libxlu_build import DEFAULT_CACHE, Libxlu, load_libxlu


@pytest.fixture(scope="session")
def libxlu() -> Libxlu:
    """Debian's libxlutil through cffi, compiled on first use."""
    return load_libxlu(DEFAULT_CACHE)
