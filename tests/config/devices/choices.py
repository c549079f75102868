"""Seeded random choices that are usually right, for generated test input."""

from __future__ import annotations

import random


def pick(rng: random.Random, good: list[str], bad: list[str], bad_rate: float = 0.08) -> str:
    """A value from ``good``, or now and then (``bad_rate``) from ``bad``."""
    return rng.choice(bad if bad and rng.random() < bad_rate else good)
