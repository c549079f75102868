"""The sender's save loop: log-dirty pre-copy, suspend, last round, tail.

Round 0 sends every page; each later round sends the pages the log-dirty
bitmap says were written during the previous one; the policy decides when
to suspend.  Under suspension the final bitmap is taken, the rest is sent,
optionally followed by a VERIFY pass (``--debug``), then the vCPU/platform
records and END.  Mirrors ``xg_sr_save.c``'s ``send_domain_memory_live``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from xenshift.migrate.backend.base import SourceDomain
from xenshift.migrate.outlet import Outlet
from xenshift.migrate.policy import Decision, Policy, RoundStats
from xenshift.migrate.stream import writer
from xenshift.migrate.stream.libxc import MAX_BATCH_SIZE
from xenshift.migrate.telemetry import Telemetry
from xenshift.native import ffi, lib


@dataclass
class PrecopyResult:
    """What the loop did; the domain is left suspended."""

    rounds: list[RoundStats]
    final_pages: int
    suspended_at: float
    stop_reason: str
    suspend_seconds: float = 0.0  # how long the domain took to suspend


class Precopy:
    def __init__(self, source: SourceDomain, outlet: Outlet, policy: Policy | None,
                 telemetry: Telemetry, debug: bool = False):
        self.source = source
        self.outlet = outlet
        self.policy = policy  # None: no live rounds (xl save)
        self.telemetry = telemetry
        self.debug = debug
        self.words = (source.pages + 63) // 64

    def send_prologue(self) -> None:
        src = self.source
        self.outlet.control(writer.prologue(src.config(), src.domain_header(),
                                            src.cpu_policy(), src.p2m_frames()))

    def _send_bitmap(self, bitmap, verify: bool = False) -> int:
        """Send every page whose bit is set, in batches; return the count."""
        cursor = ffi.new("uint64_t *", 0)
        sent = 0
        while True:
            pfns = ffi.new("uint64_t[]", MAX_BATCH_SIZE)
            n = lib.xs_bitmap_collect(bitmap, self.source.pages, cursor, pfns, MAX_BATCH_SIZE)
            if n == 0:
                break
            self.outlet.pages(pfns, n, self.source.map_pages(pfns, n), verify)
            self.telemetry.pages_sent(n)
            sent += n
        self.outlet.end_round()
        return sent

    def run(self) -> PrecopyResult:
        """Pre-copy (if live), suspend and finish the stream."""
        src = self.source
        dirty = ffi.new("uint64_t[]", self.words)
        lib.xs_bitmap_fill(dirty, src.pages)
        count = src.pages
        history: list[RoundStats] = []
        reason = "not live"
        if self.policy is not None:
            src.enable_logdirty()
            throttle = 1.0
            while True:
                iteration = len(history)
                self.telemetry.round_started(iteration, count)
                wire0, t0 = self.outlet.wire_bytes, time.monotonic()
                sent = self._send_bitmap(dirty)
                # Not suspended while the destination still loads this round:
                # that backlog would be downtime.  Pages the guest dirties
                # meanwhile go in the next round's bitmap.
                self.outlet.sync()
                seconds = time.monotonic() - t0
                count = src.clean_dirty(dirty)
                history.append(RoundStats(iteration, sent, self.outlet.wire_bytes - wire0,
                                          seconds, count, throttle))
                answer = self.policy.decide(history)
                self.telemetry.round_done(history[-1], history, answer.reason)
                reason = answer.reason
                if answer.decision is Decision.STOP:
                    break
                if answer.throttle is not None:
                    if not src.throttle(answer.throttle):
                        reason = "dirty rate does not fall and this backend cannot throttle"
                        break
                    throttle = answer.throttle
        suspended_at = time.monotonic()
        src.suspend()
        suspend_seconds = time.monotonic() - suspended_at
        if self.policy is not None:
            final = ffi.new("uint64_t[]", self.words)
            src.clean_dirty(final, final=True)
            count = lib.xs_bitmap_or(dirty, final, self.words)
        self.telemetry.suspended(count)
        self.outlet.lift_limit()
        self.telemetry.round_started(len(history), count, final=True)
        final_pages = self._send_bitmap(dirty)
        self.telemetry.final_done()
        if self.debug:
            self.outlet.control(writer.verify_marker())
            lib.xs_bitmap_fill(dirty, src.pages)
            self._send_bitmap(dirty, verify=True)
        self.outlet.control(writer.epilogue(src.state().tail))
        return PrecopyResult(history, final_pages, suspended_at, reason, suspend_seconds)
