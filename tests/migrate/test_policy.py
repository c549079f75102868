"""Pre-copy policies decide from round statistics."""

from __future__ import annotations

import pytest

from xenshift.migrate.errors import OptionError
from xenshift.migrate.policy import (
    Decision, DowntimePolicy, MaxItersPolicy, RoundStats, XenPolicy, parse_policy)

MB = 1 << 20


def rnd(i, sent, seconds, dirty, throttle=1.0):
    return RoundStats(i, sent, sent * 4096, seconds, dirty, throttle)


def test_xen_policy_is_50_pages_or_5_rounds():
    p = XenPolicy()
    assert p.decide([rnd(0, 1000, 1, 49)]).decision is Decision.STOP
    assert p.decide([rnd(0, 1000, 1, 50)]).decision is Decision.CONTINUE
    hist = [rnd(i, 1000, 1, 500) for i in range(5)]
    assert p.decide(hist[:4]).decision is Decision.CONTINUE
    assert p.decide(hist).decision is Decision.STOP


def test_downtime_policy_stops_when_the_rest_fits():
    p = DowntimePolicy(50)
    # 25600 pages/s = 100 MiB/s: 50 ms is 1280 pages.
    assert p.decide([rnd(0, 25600, 1.0, 1200)]).decision is Decision.STOP
    assert p.decide([rnd(0, 25600, 1.0, 1400)]).decision is Decision.CONTINUE


def test_downtime_policy_throttles_then_gives_up():
    p = DowntimePolicy(50)
    hist = [rnd(i, 25600, 1.0, 25000) for i in range(3)]
    answer = p.decide(hist)
    assert answer.decision is Decision.CONTINUE and answer.throttle == pytest.approx(0.7)
    hist.append(rnd(3, 25600, 1.0, 25000, throttle=0.1))
    assert p.decide(hist).decision is Decision.STOP


def test_max_iters_and_parsing():
    p = MaxItersPolicy(3)
    assert p.decide([rnd(0, 1, 1, 10), rnd(1, 1, 1, 10)]).decision is Decision.CONTINUE
    assert p.decide([rnd(i, 1, 1, 10) for i in range(3)]).decision is Decision.STOP
    assert p.decide([rnd(0, 1, 1, 0)]).decision is Decision.STOP
    assert isinstance(parse_policy("xen"), XenPolicy)
    assert parse_policy("xen", 9).max_iters == 9
    assert parse_policy("downtime=50").target == pytest.approx(0.05)
    assert parse_policy("max-iters=4").max_iters == 4
    for bad in ("fast", "downtime=x", "max-iters"):
        with pytest.raises(OptionError):
            parse_policy(bad)
