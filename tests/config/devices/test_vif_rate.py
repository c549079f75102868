"""Vif rates: units, libxlu's octal quirk, and agreement with xlu_vif_parse_rate."""

from __future__ import annotations

import random
from collections import Counter

import pytest
from hypothesis import given

from tests.config.devices.choices import pick
from tests.config.devices.strategies import rate_texts
from tests.oracles.libxlu_vif_rate import xlu_parse_vif_rate
from xenshift.config.devices.vif_rate import VifRate, parse_vif_rate
from xenshift.errors import SpecError


@pytest.mark.parametrize("text, bytes_per_second, interval", [
    ("10Mb/s", 1_250_000, 50_000),
    ("250KB/s", 250_000, 50_000),
    ("1MB/s@20ms", 1_000_000, 20_000),
    ("1GB/s@1s", 10**9, 10**6),
    ("1GB/s@2", 10**9, 2 * 10**6),
    ("100B/s@300us", 100, 300),
    ("100B/s@300u", 100, 300),
    ("100B/s@30m", 100, 30_000),
    ("12b/s", 1, 50_000),        # bits round down to whole bytes
    ("7b/s", 0, 50_000),
    ("010MB/s", 8_000_000, 50_000),   # strtoull base 0: octal
    ("018b/s", 0, 50_000),            # octal "01", then the check sees "8b"
    ("4294967295GB/s@1us", 4_294_967_295 * 10**9, 1),
])
def test_parse(text, bytes_per_second, interval):
    assert parse_vif_rate(text) == VifRate(bytes_per_second, interval)


def test_bytes_per_interval():
    assert parse_vif_rate("1MB/s@20ms").bytes_per_interval == 20_000


@pytest.mark.parametrize("text, message", [
    ("", "no rate specified in ''"),
    ("10MB", "invalid rate '10MB'"),
    ("10 MB/s", "invalid rate '10 MB/s'"),
    ("10kB/s", "invalid rate '10kB/s'"),
    ("0B/s", "rate overflow '0B/s'"),
    ("08B/s", "rate overflow '08B/s'"),
    ("4294967296B/s", "rate overflow '4294967296B/s'"),
    ("10MB/s@", "invalid replenishment interval ''"),
    ("10MB/s@0ms", "replenishment interval overflow '0ms'"),
    ("10MB/s@4295s", "replenishment interval overflow '4295s'"),
    ("10MB/s@1@2", "invalid replenishment interval '1@2'"),
    ("5GB/s@4294s", "rate overflow '5GB/s@4294s'"),
    ("4294967295GB/s", "rate overflow '4294967295GB/s'"),   # credit beyond 64 bits
])
def test_errors(text, message):
    with pytest.raises(SpecError) as caught:
        parse_vif_rate(text)
    assert caught.value.message == f"vif rate spec '{text}': {message}"


@pytest.mark.parametrize("rate, text", [
    (VifRate(1_250_000), "1250KB/s"), (VifRate(10**10, 20_000), "10GB/s@20ms"),
    (VifRate(5, 1_500), "5B/s@1500us"), (VifRate(0), "1b/s"), (VifRate(10**6, 10**6), "1MB/s@1s"),
    (VifRate(536_870_911_875), "4294967295Kb/s"),
])
def test_canonical_text(rate, text):
    assert str(rate) == text


@given(rate_texts())
def test_round_trip(text):
    try:
        rate = parse_vif_rate(text)
    except SpecError:
        return
    assert parse_vif_rate(str(rate)) == rate


def random_rates(count: int) -> list[str]:
    """Rate texts, valid or not, many near the limits and the octal quirk."""
    rng = random.Random(11)
    numbers = (["1", "7", "8", "010", "123456", "4294967295"],
               ["0", "018", "09", "4294967296", "99999999999999999999", ""])
    texts = []
    for _ in range(count):
        text = (pick(rng, *numbers) + pick(rng, ["", "K", "M", "G"], ["k", "T"])
                + pick(rng, ["B", "b"], ["x"]) + pick(rng, ["/s"], ["/m", ""]))
        if rng.random() < 0.5:
            text += "@" + pick(rng, *numbers) + pick(rng, ["", "s", "ms", "us", "m", "u"],
                                                     ["h", "mss"])
        texts.append(text)
    return texts


def test_agrees_with_libxlu(libxlu):
    problems = []
    texts = random_rates(1000) + ["", "@", "1B/s@@1", " 1B/s", "1B/s "]
    verdicts = Counter(xlu_parse_vif_rate(libxlu, text).value is None for text in texts)
    assert verdicts[True] > 200 and verdicts[False] > 400, verdicts
    for text in texts:
        theirs = xlu_parse_vif_rate(libxlu, text).value
        try:
            rate = parse_vif_rate(text)
            ours = {"interval_usecs": rate.interval_usecs,
                    "bytes_per_interval": rate.bytes_per_interval}
        except SpecError:
            ours = None
        if ours != theirs:
            problems.append(f"{text!r}: ours {ours}, libxlu {theirs}")
    assert not problems, "\n".join(problems[:10])
