"""One fuzzing property per input xenshift parses (issue 13).

Each entry point gets a fixed budget of mutated fixtures: it returns, or
raises the project's own error with a location, within a few seconds.
Under CI (the "ci" profile) the same examples are replayed on every run;
``bench/fuzz.py`` runs the same entry points for longer.
"""

from __future__ import annotations

import re
import time

from hypothesis import HealthCheck, given, settings

from tests.fuzz.entry_points import ENTRY_POINTS, EntryPoint, exercise
from tests.fuzz.mutations import mutant

EXAMPLES = 2000
SECONDS_PER_INPUT = 5.0


def _property(entry: EntryPoint):
    @settings(max_examples=EXAMPLES, deadline=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                     HealthCheck.large_base_example])
    @given(mutant(entry))
    def test(data: bytes) -> None:
        start = time.perf_counter()
        exercise(entry, data)
        seconds = time.perf_counter() - start
        assert seconds < SECONDS_PER_INPUT, f"{entry.name}: {seconds:.1f} s for one input"

    test.__doc__ = f"{entry.name}: a result or a located xenshift error, quickly."
    return test


for _entry in ENTRY_POINTS:
    _name = "test_" + re.sub(r"[^a-z0-9]+", "_", _entry.name.lower()).strip("_")
    globals()[_name] = _property(_entry)
