"""Vfb specs: keys, xl's stop at a bare word, errors, round trips."""

from __future__ import annotations

import pytest
from hypothesis import given

from tests.config.devices.spec_errors import assert_spec_error
from tests.config.devices.strategies import vfb_specs
from xenshift.config.devices.vfb import VfbSpec, format_vfb, parse_vfb


@pytest.mark.parametrize("text, expected", [
    ("", VfbSpec()),
    ("vnc=1,vnclisten=0.0.0.0,vncdisplay=3,vncunused=0,vncpasswd=s3cret,keymap=de",
     VfbSpec(vnc=True, vnclisten="0.0.0.0", vncdisplay=3, vncunused=False, vncpasswd="s3cret",
             keymap="de")),
    ("sdl=1, opengl=1, display=:0.0, xauthority=/root/.Xauthority",
     VfbSpec(sdl=True, opengl=True, display=":0.0", xauthority="/root/.Xauthority")),
    ("vnc=2", VfbSpec(vnc=True)),
    ("vnc=1,type=vnc", VfbSpec(vnc=True, unknown=("type=vnc",))),
    # xl stops at the first item without "=", ignoring the rest.
    ("vnc=1,vncviewer,sdl=1", VfbSpec(vnc=True, unknown=("vncviewer", "sdl=1"))),
    ("vnc=1, ,sdl=1", VfbSpec(vnc=True, unknown=("", "sdl=1"))),
])
def test_parse(text, expected):
    assert parse_vfb(text) == expected


@pytest.mark.parametrize("text, item", [
    ("vnc=yes", "vnc=yes"), ("vncdisplay=:1", "vncdisplay=:1"), ("sdl=", "sdl="),
])
def test_numbers_must_be_numbers(text, item):
    # xl's atoi would read these as 0, which is not what they say.
    assert_spec_error(parse_vfb, text, "vfb", "not a decimal number", item)


def test_format():
    assert format_vfb(VfbSpec(vnc=True, vncdisplay=1, keymap="fr", unknown=("x",))) == \
        "vnc=1,vncdisplay=1,keymap=fr,x"


@given(vfb_specs())
def test_round_trip(spec):
    assert parse_vfb(format_vfb(spec)) == spec
