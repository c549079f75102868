"""The SUSE trees, materialized and inspected once for all tests here."""

from __future__ import annotations

import pytest

from fixtures.images.suse_trees import materialize
from xenshift.inspect import inspect_tree


@pytest.fixture(scope="session")
def sles11(tmp_path_factory):
    """Facts of the SLES 11 SP4 tree (kernel-xen only)."""
    return inspect_tree(materialize("sles11-sp4-pv", tmp_path_factory.mktemp("t") / "root"))


@pytest.fixture(scope="session")
def sles12_root(tmp_path_factory):
    """A fresh copy of the SLES 12 SP1 tree."""
    return materialize("sles12-sp1-pv", tmp_path_factory.mktemp("t") / "root")


@pytest.fixture(scope="session")
def sles12(sles12_root):
    """Facts of the SLES 12 SP1 tree (kernel-default and kernel-xen)."""
    return inspect_tree(sles12_root)
