"""vnuma nodes: keys, vcpu ranges, errors, round trips."""

from __future__ import annotations

import pytest
from hypothesis import given

from tests.config.devices.spec_errors import assert_spec_error
from tests.config.devices.strategies import vnuma_nodes
from xenshift.config.devices.vnuma import (
    VnumaNode, format_vnuma_node, parse_vnuma, parse_vnuma_node)
from xenshift.errors import SpecError

TWO_NODES = [["pnode=0", "size=1024", "vcpus=0-3,5", "vdistances=10,20"],
             ["pnode=1", "size=512", "vcpus=4", "vdistances=20,10"]]


def test_parse_vnuma():
    assert parse_vnuma(TWO_NODES) == (
        VnumaNode(pnode=0, size_mib=1024, vcpus=(0, 1, 2, 3, 5), vdistances=(10, 20)),
        VnumaNode(pnode=1, size_mib=512, vcpus=(4,), vdistances=(20, 10)))


@pytest.mark.parametrize("items, expected", [
    ([], VnumaNode()),
    ([" pnode = 1 ", "vcpus= 0 , 2-3"], VnumaNode(pnode=1, vcpus=(0, 2, 3))),
    (["vcpus=5,0-1,,1"], VnumaNode(vcpus=(5, 0, 1, 1))),
    (["vdistances=10"], VnumaNode(vdistances=(10,))),
    (["size=256", "memory=1"], VnumaNode(size_mib=256, unknown=("memory=1",))),
])
def test_parse_node(items, expected):
    assert parse_vnuma_node(items) == expected


@pytest.mark.parametrize("items, problem, item", [
    (["pnode=x"], "not a decimal number", "pnode=x"),
    (["size=1G"], "not a decimal number", "size=1G"),
    (["vcpus=3-1"], "bad vcpu range", "3-1"),
    (["vcpus=a"], "bad vcpu range", "a"),
    (["vcpus=,"], "empty list in", "vcpus=,"),
    (["vdistances=10,x"], "not a decimal number", "vdistances=10,x"),
    (["pnode"], "not a key=value item", "pnode"),
    (["size=1", "pnode="], "not a key=value item", "pnode="),
])
def test_errors_name_spec_and_item(items, problem, item):
    assert_spec_error(parse_vnuma_node, items, "vnuma", problem, item, text=", ".join(items))


def test_more_distances_than_nodes():
    with pytest.raises(SpecError) as caught:
        parse_vnuma([["vdistances=10,20,30"], ["vdistances=20,10"]])
    assert caught.value.message == (
        "vnuma spec 'vdistances=10,20,30': more distances than the 2 nodes in '10,20,30'")


@pytest.mark.parametrize("node, items", [
    (VnumaNode(pnode=0, size_mib=1024, vcpus=(0, 1, 2, 3, 5), vdistances=(10, 20)),
     ["pnode=0", "size=1024", "vcpus=0-3,5", "vdistances=10,20"]),
    (VnumaNode(vcpus=(5, 0, 1, 1)), ["vcpus=5,0-1,1"]),
])
def test_format(node, items):
    assert format_vnuma_node(node) == items


def test_format_refuses_empty_lists():
    with pytest.raises(ValueError):
        format_vnuma_node(VnumaNode(vcpus=()))


@given(vnuma_nodes)
def test_round_trip(node):
    assert parse_vnuma_node(format_vnuma_node(node)) == node
