"""Fixtures of the remote-input tests: a client key and namespace Xen hosts."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.remote.hosts import XenHost, keypair


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    """(client key, authorized_keys holding it, their directory)."""
    d = tmp_path_factory.mktemp("keys")
    identity = keypair(d / "client")
    authorized = d / "authorized_keys"
    authorized.write_text(Path(f"{identity}.pub").read_text())
    return identity, authorized, d


@pytest.fixture(scope="module")
def xen1(keys, tmp_path_factory):
    """A namespace Xen host, shared by a module's tests."""
    host = XenHost(tmp_path_factory.mktemp("xen1"), keys[1])
    yield host
    host.close()
