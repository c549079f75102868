"""Progress bars for copies and long steps, on stderr.

Copies report a fraction done; long steps (an appliance launch, an initrd
rebuild, a boot check) report only their elapsed time, refreshed every
second. Bars show when stderr is a terminal unless asked otherwise, so
``--json`` output and logs stay clean.
"""

from __future__ import annotations

import sys
import threading
from contextlib import contextmanager
from typing import Callable, Iterator

from tqdm import tqdm

# Whole percent steps on the copy bars.
_PERCENT = 100


class Progress:
    """Where a conversion shows its progress; ``enabled`` None means "if a TTY"."""

    def __init__(self, enabled: bool | None = None):
        self.enabled = sys.stderr.isatty() if enabled is None else enabled

    @contextmanager
    def copy(self, label: str, size: int | None = None) -> Iterator[Callable[[float], None]]:
        """A bar for a copy; the caller reports the fraction done (0..1).

        Given the ``size`` in bytes, the bar shows bytes done and the rate.
        """
        if size:
            bar = tqdm(total=size, desc=label, unit="B", unit_scale=True, unit_divisor=1024,
                       disable=not self.enabled, leave=False)
            scale = size
        else:
            bar = tqdm(total=_PERCENT, desc=label, unit="%", disable=not self.enabled,
                       bar_format="{desc}: {percentage:3.0f}%|{bar}| {elapsed}", leave=False)
            scale = _PERCENT

        def update(fraction: float) -> None:
            bar.update(max(0, round(fraction * scale) - bar.n))

        try:
            yield update
        finally:
            bar.close()

    @contextmanager
    def step(self, label: str) -> Iterator[None]:
        """A bar showing how long a step has been running."""
        if not self.enabled:
            yield
            return
        bar = tqdm(total=None, desc=label, bar_format="{desc}: {elapsed}", leave=False)
        done = threading.Event()

        def tick() -> None:
            while not done.wait(1.0):
                bar.refresh()

        ticker = threading.Thread(target=tick, daemon=True)
        ticker.start()
        try:
            yield
        finally:
            done.set()
            ticker.join()
            bar.close()


QUIET = Progress(enabled=False)
