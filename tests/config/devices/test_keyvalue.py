"""The item splitting shared by the key=value device specs."""

from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

import xenshift.config.devices as devices
from xenshift.config.devices.keyvalue import (
    c_unsigned, join_items, split_option, xl_items, xl_pair)
from xenshift.config.devices.spec_context import SpecContext
from xenshift.errors import SpecError


@pytest.mark.parametrize("text, items", [
    ("", []), ("a", ["a"]), ("a,,b", ["a", "b"]), (",a,", ["a"]),
    ("  a , b", ["a ", "b"]), ("a, ,b", ["a", "", "b"]), ("\ta", ["\ta"]),
])
def test_xl_items(text, items):
    assert xl_items(text) == items


@given(st.lists(st.text(st.characters(blacklist_characters=",", blacklist_categories=("Cs",)))
                .map(lambda item: item.lstrip(" "))))
def test_join_items_inverts_xl_items(items):
    assert xl_items(join_items(items)) == items


def test_split_option():
    assert split_option("a=b=c") == ("a", "b=c")
    assert split_option("flag") == ("flag", None)
    assert split_option("a=") == ("a", "")


@pytest.mark.parametrize("item, pair", [
    ("a=b", ("a", "b")), (" a = b ", ("a", "b")), ("a==b", ("a", "b")), ("=a=b", ("a", "b")),
])
def test_xl_pair(item, pair):
    assert xl_pair(SpecContext("channel", item), item) == pair


@pytest.mark.parametrize("item", ["a", "a=", "=", "a=b=c"])
def test_xl_pair_refuses(item):
    with pytest.raises(SpecError):
        xl_pair(SpecContext("channel", item), item)


@pytest.mark.parametrize("text, number", [
    ("10", 10), ("0x1f", 31), ("010", 8), ("0", 0), ("-1", None), ("09", None), ("", None),
    ("1 ", None),
])
def test_c_unsigned(text, number):
    assert c_unsigned(text) == number


def test_package_exports_every_public_name():
    for name in devices.__all__:
        assert getattr(devices, name).__module__.startswith("xenshift.config.devices.")
