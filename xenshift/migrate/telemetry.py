"""Progress and statistics of a migration: tqdm bars and ``--json`` events.

The engine reports rounds, batches and the end; this module decides how
they look.  ``--json`` prints one JSON object per line on stdout (``round``,
``suspend``, ``done``, ``error``); otherwise a tqdm bar per round goes to
stderr with the rate, the dirty pages and the expected downtime.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass, field
from typing import IO, Any

from tqdm import tqdm

from xenshift.migrate.policy import RoundStats, expected_downtime, measured_rate
from xenshift.migrate.units import format_bytes
from xenshift.native import PAGE_SIZE


@dataclass(frozen=True)
class DowntimePhases:
    """Where a live migration's downtime went, in ms, as the source saw it."""

    suspend_ms: float  # asking the guest to suspend until it had
    last_round_ms: float  # the last dirty pages and the stream's tail, sent
    destination_ms: float  # the stream's end until the copy was ready there
    handover_ms: float  # the permission to unpause until the copy ran

    def describe(self) -> str:
        """One line for the progress output."""
        return (f"suspend {self.suspend_ms:.0f}, last round {self.last_round_ms:.0f}, "
                f"destination {self.destination_ms:.0f}, hand-over {self.handover_ms:.0f} ms")


@dataclass
class Summary:
    """The final statistics of a migration, save or restore."""

    domain: str
    rounds: int = 0
    pages: int = 0
    wire_bytes: int = 0
    total_seconds: float = 0.0
    downtime_ms: float | None = None
    downtime_phases: DowntimePhases | None = None
    # Destination: the domain's state applied once the stream's end was in
    # (a Xen destination: xl finishing its build, until its READY).
    restore_ms: float | None = None
    policy: str = ""
    stop_reason: str = ""
    source_checksum: str | None = None
    dest_checksum: str | None = None
    verify_ms: float | None = None  # downtime spent hashing for --verify
    extensions: dict[str, Any] = field(default_factory=dict)


class Telemetry:
    """Sink for the engine's progress reports."""

    def __init__(self, json_out: IO[str] | None = None, bar: bool = True,
                 bar_out: IO[str] | None = None):
        self.json_out = json_out
        self.bar_enabled = bar
        self.bar_out = bar_out or sys.stderr
        self._bar: tqdm | None = None

    def emit(self, event: str, **data: Any) -> None:
        """One ``--json`` event."""
        if self.json_out is not None:
            self.json_out.write(json.dumps({"event": event, **data}) + "\n")
            self.json_out.flush()

    def round_started(self, iteration: int, pages: int, final: bool = False) -> None:
        if not self.bar_enabled:
            return
        label = "final" if final else f"round {iteration}"
        self._bar = tqdm(total=pages * PAGE_SIZE, unit="B", unit_scale=True,
                         unit_divisor=1024, desc=label, file=self.bar_out, leave=True,
                         dynamic_ncols=True, mininterval=0.2)

    def pages_sent(self, pages: int) -> None:
        if self._bar is not None:
            self._bar.update(pages * PAGE_SIZE)

    def round_done(self, stats: RoundStats, history: list[RoundStats], reason: str) -> None:
        rate = measured_rate(history)
        downtime = expected_downtime(stats.dirty_pages, rate)
        if self._bar is not None:
            self._bar.set_postfix_str(
                f"dirty {stats.dirty_pages} pages, expected downtime {downtime * 1000:.0f} ms")
            self._bar.close()
            self._bar = None
        self.emit("round", iteration=stats.iteration, pages=stats.pages_sent,
                  wire_bytes=stats.wire_bytes, seconds=round(stats.seconds, 6),
                  rate_bps=round(stats.page_rate), dirty_pages=stats.dirty_pages,
                  dirty_rate_bps=round(stats.dirty_rate), throttle=stats.throttle,
                  expected_downtime_ms=round(downtime * 1000, 3), decision=reason)

    def final_done(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def suspended(self, dirty_pages: int) -> None:
        self.emit("suspend", dirty_pages=dirty_pages)

    def done(self, summary: Summary) -> None:
        self.emit("done", **asdict(summary))
        if self.bar_enabled:
            why = f" ({summary.stop_reason})" if summary.stop_reason else ""
            self.bar_out.write(
                f"{summary.domain}: {summary.rounds} rounds, {summary.pages} pages, "
                f"{format_bytes(summary.wire_bytes)} sent in {summary.total_seconds:.2f} s"
                f"{why}\n")
            if summary.downtime_ms is not None:
                hashing = ("" if summary.verify_ms is None else
                           f", {summary.verify_ms:.0f} ms of it hashing memory for --verify")
                self.bar_out.write(f"downtime {summary.downtime_ms:.1f} ms{hashing}\n")
            if summary.downtime_phases is not None:
                self.bar_out.write(f"  {summary.downtime_phases.describe()}\n")
            if summary.source_checksum:
                self.bar_out.write(f"source checksum {summary.source_checksum}\n"
                                   f"dest checksum   {summary.dest_checksum}\n")

    def failed(self, error: Exception) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        self.emit("error", message=str(error), kind=type(error).__name__)
