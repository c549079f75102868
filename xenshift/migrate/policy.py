"""When to stop pre-copy: pluggable policies over per-round statistics.

After each live round the engine asks the policy whether to go on copying
dirty pages or to suspend the domain and send the rest.  ``xen`` is Xen's
own ``simple_precopy_policy``; ``downtime=MS`` stops as soon as the pages
still dirty can cross the link within MS at the measured rate, and throttles
the vCPUs (auto-converge) when the dirty rate does not fall.
"""

from __future__ import annotations

import abc
import enum
from dataclasses import dataclass

from xenshift.migrate.errors import OptionError
from xenshift.native import PAGE_SIZE


@dataclass(frozen=True)
class RoundStats:
    """What one pre-copy round did and what it left behind."""

    iteration: int  # 0 is the full pass
    pages_sent: int
    wire_bytes: int
    seconds: float
    dirty_pages: int  # dirtied while the round ran: the next round's work
    throttle: float = 1.0

    @property
    def page_rate(self) -> float:
        """Guest bytes moved per second (compression counts as speed)."""
        return self.pages_sent * PAGE_SIZE / self.seconds if self.seconds > 0 else 0.0

    @property
    def dirty_rate(self) -> float:
        """Guest bytes dirtied per second during the round."""
        return self.dirty_pages * PAGE_SIZE / self.seconds if self.seconds > 0 else 0.0


class Decision(enum.Enum):
    CONTINUE = "continue"
    STOP = "stop-and-copy"


@dataclass(frozen=True)
class Answer:
    decision: Decision
    reason: str
    throttle: float | None = None  # new vCPU speed fraction, if any


def measured_rate(history: list[RoundStats]) -> float:
    """Link rate from the recent rounds, weighted by what they sent.

    Small rounds alone give noisy rates, so the last three are pooled.
    """
    recent = history[-3:]
    seconds = sum(r.seconds for r in recent)
    return sum(r.pages_sent for r in recent) * PAGE_SIZE / seconds if seconds > 0 else 0.0


def expected_downtime(dirty_pages: int, rate: float) -> float:
    """Seconds to send ``dirty_pages`` at ``rate`` bytes per second."""
    return dirty_pages * PAGE_SIZE / rate if rate > 0 else float("inf")


class Policy(abc.ABC):
    name: str

    def __init__(self, max_iters: int):
        if max_iters < 1:
            raise OptionError("--max-iters must be at least 1")
        self.max_iters = max_iters

    def decide(self, history: list[RoundStats]) -> Answer:
        """Decide after the last round in ``history``."""
        last = history[-1]
        if last.dirty_pages == 0:
            return Answer(Decision.STOP, "nothing left dirty")
        if last.iteration + 1 >= self.max_iters:
            return Answer(Decision.STOP, f"reached {self.max_iters} rounds")
        return self._decide(history)

    @abc.abstractmethod
    def _decide(self, history: list[RoundStats]) -> Answer: ...


class XenPolicy(Policy):
    """Xen's simple_precopy_policy: under 50 dirty pages or after 5 rounds."""

    name = "xen"
    TARGET_DIRTY_COUNT = 50

    def __init__(self, max_iters: int = 5):
        super().__init__(max_iters)

    def _decide(self, history: list[RoundStats]) -> Answer:
        if history[-1].dirty_pages < self.TARGET_DIRTY_COUNT:
            return Answer(Decision.STOP, f"under {self.TARGET_DIRTY_COUNT} dirty pages")
        return Answer(Decision.CONTINUE, "dirty pages left")


class MaxItersPolicy(Policy):
    """Exactly ``max_iters`` live rounds (fewer only if nothing is dirty)."""

    name = "max-iters"

    def _decide(self, history: list[RoundStats]) -> Answer:
        return Answer(Decision.CONTINUE, "more rounds to go")


class DowntimePolicy(Policy):
    """Stop when what is dirty fits in ``target_ms`` at the measured rate.

    If two rounds in a row leave about as much dirty as before while the
    dirty rate is close to the link rate, pre-copy cannot converge: the
    vCPUs are throttled (to 70%, then 10 points less per round, as QEMU's
    auto-converge does) down to ``MIN_THROTTLE``, after which the engine
    gives up and stops with whatever is left.
    """

    name = "downtime"
    MIN_THROTTLE = 0.05

    def __init__(self, target_ms: float, max_iters: int = 30):
        super().__init__(max_iters)
        if target_ms <= 0:
            raise OptionError("the downtime target must be positive")
        self.target = target_ms / 1000

    def _decide(self, history: list[RoundStats]) -> Answer:
        last = history[-1]
        rate = measured_rate(history)
        expect = expected_downtime(last.dirty_pages, rate)
        if expect <= self.target:
            return Answer(Decision.STOP, f"expected downtime {expect * 1000:.0f} ms "
                          f"within {self.target * 1000:.0f} ms")
        if not self._stalled(history, rate):
            return Answer(Decision.CONTINUE, f"expected downtime {expect * 1000:.0f} ms")
        throttle = (0.7 if last.throttle >= 1.0 else last.throttle - 0.1)
        if throttle < self.MIN_THROTTLE:
            return Answer(Decision.STOP, "dirty rate does not fall even throttled; giving up "
                          f"on the {self.target * 1000:.0f} ms target")
        return Answer(Decision.CONTINUE, f"dirty rate does not fall; throttling vCPUs to "
                      f"{throttle:.0%}", throttle=throttle)

    @staticmethod
    def _stalled(history: list[RoundStats], rate: float) -> bool:
        if len(history) < 3:
            return False
        a, b, c = history[-3:]
        no_fall = c.dirty_pages >= 0.9 * b.dirty_pages and b.dirty_pages >= 0.9 * a.dirty_pages
        return no_fall and c.dirty_rate >= 0.5 * rate


def parse_policy(text: str, max_iters: int | None = None) -> Policy:
    """``xen``, ``downtime=MS`` or ``max-iters[=N]``; ``max_iters`` caps rounds."""
    name, _, value = text.partition("=")
    name = name.strip().lower()
    if name == "xen" and not value:
        return XenPolicy(max_iters or 5)
    if name == "downtime":
        try:
            target = float(value.removesuffix("ms"))
        except ValueError:
            raise OptionError(f"bad downtime target {value!r}: give milliseconds, e.g. downtime=50") from None
        return DowntimePolicy(target, max_iters or 30)
    if name == "max-iters":
        try:
            n = int(value) if value else max_iters
        except ValueError:
            raise OptionError(f"bad round count {value!r}") from None
        if n is None:
            raise OptionError("max-iters needs a count: --policy max-iters=N or --max-iters N")
        return MaxItersPolicy(n)
    raise OptionError(f"unknown policy {text!r}: use xen, downtime=MS or max-iters=N")
