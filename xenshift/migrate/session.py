"""One migration, save or restore from start to end, with its guarantees.

Source side (:func:`migrate`): hold the domain's lease, pre-copy, suspend,
finish the stream, then xl's hand-over.  Until the permission to unpause
has gone out, any failure resumes the source; after it, the source only
goes away once the destination reports its copy running.

Destination side (:func:`receive`): build ``NAME--incoming`` paused; until
the permission arrives, any failure destroys it (and if this process is
killed, the domain's own lease does).
"""

from __future__ import annotations

import time
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from xenshift.migrate import extension as ext
from xenshift.migrate import handover
from xenshift.migrate.backend.base import (
    MIGRATEDAWAY_SUFFIX, Backend, DomainState, SourceDomain)
from xenshift.migrate.errors import (
    HandoverError, MigrationError, StreamFormatError, VerifyMismatchError)
from xenshift.migrate.outlet import FramedOutlet, Outlet, Tee, XenOutlet
from xenshift.migrate.policy import Policy
from xenshift.migrate.precopy import Precopy, PrecopyResult
from xenshift.migrate.restore import DomainBuilder, FramedInlet
from xenshift.migrate.stream.framing import ExactReader
from xenshift.migrate.stream.reader import Format, StreamContents, read_stream
from xenshift.migrate.telemetry import DowntimePhases, Summary, Telemetry
from xenshift.migrate.transport import Connection, RateLimiter


@dataclass(frozen=True)
class MigrateOptions:
    policy: Policy
    bandwidth: int | None = None
    streams: int = 1
    compress: str | None = None
    zero_pages: bool = False
    debug: bool = False
    verify: bool = False
    paused: bool = False
    save_stream: Path | None = None

    def extensions(self) -> ext.Extensions:
        return ext.Extensions(self.compress, self.zero_pages, self.streams,
                              self.verify, self.paused, sync=True)


OpenControl = Callable[[RateLimiter], Connection]
OpenData = Callable[[RateLimiter], Connection]


def _summary(name: str, result: PrecopyResult, wire: int, seconds: float,
             policy: str) -> Summary:
    return Summary(domain=name, rounds=len(result.rounds) + 1,
                   pages=sum(r.pages_sent for r in result.rounds) + result.final_pages,
                   wire_bytes=wire, total_seconds=round(seconds, 6),
                   policy=policy, stop_reason=result.stop_reason)


def migrate(source: SourceDomain, open_control: OpenControl, open_data: OpenData | None,
            options: MigrateOptions, telemetry: Telemetry) -> Summary:
    """Live-migrate ``source``; on return it is gone and the copy runs."""
    started = time.monotonic()
    name = source.name
    limiter = RateLimiter(options.bandwidth)
    handed_over = False  # PERMISSION sent: the outcome is the destination's
    renaming: Future | None = None
    with ExitStack() as stack:
        lease = stack.enter_context(source.lease())
        conn = open_control(limiter)
        stack.callback(conn.close)
        tee = Tee(stack.enter_context(open(options.save_stream, "wb"))
                  if options.save_stream else None)
        try:
            handover.expect(conn, handover.BANNER, "the receiver's banner")
            outlet = _open_outlet(conn, open_data, limiter, options, tee, stack)
            stack.callback(outlet.close)
            pre = Precopy(source, outlet, options.policy, telemetry, debug=options.debug)
            pre.send_prologue()
            result = pre.run()
            outlet.close()
            stream_ended = time.monotonic()
            checks = _verify(source, conn) if options.verify else None
            # xl renames its source once the destination is READY; the
            # rename (an xl command on Xen, some hundred ms) runs here while
            # the destination still builds, not in the downtime after it.
            renaming = stack.enter_context(ThreadPoolExecutor(1)).submit(
                source.rename, name + MIGRATEDAWAY_SUFFIX)
            handover.expect(conn, handover.READY, "the destination's READY")
            ready = time.monotonic()
            renaming.result()
            lease.keep()
            handed_over = True
            conn.send(handover.PERMISSION)
            status = handover.read_report(conn)
            # The copy runs (or failed to start) there: the migration's time
            # ends here, before the source's memory is freed.
            ended = time.monotonic()
            downtime = ended - result.suspended_at
            phases = _phases(result, stream_ended, ready, ended)
            if status != 0:
                handed_over = False
                handover.expect(conn, handover.PERMISSION, "the destination's go-back")
                raise HandoverError(f"the destination could not start {name} "
                                    f"(status {status})")
        except BaseException as err:
            if renaming is not None:
                renaming.exception()  # done before the name is put back
            if handed_over:
                raise HandoverError(
                    f"lost the destination after handing {name} over ({err}); it may be "
                    f"running there, so the source is kept paused as "
                    f"{name}{MIGRATEDAWAY_SUFFIX}") from err
            try:
                _roll_back(source, name)
            except MigrationError as undo:
                raise MigrationError(f"{err}; resuming the source also failed: {undo}") from err
            raise
        source.destroy()
    summary = _summary(name, result, outlet.wire_bytes, ended - started, options.policy.name)
    summary.downtime_ms = round(downtime * 1000, 3)
    summary.downtime_phases = phases
    if checks is not None:
        summary.source_checksum, summary.dest_checksum, summary.verify_ms = checks
    summary.extensions = {k: v for k, v in vars(options.extensions()).items() if k != "token"}
    return summary


def _phases(result: PrecopyResult, stream_ended: float, ready: float,
            ended: float) -> DowntimePhases:
    suspended = result.suspended_at + result.suspend_seconds
    return DowntimePhases(*(round(seconds * 1000, 3) for seconds in (
        result.suspend_seconds, stream_ended - suspended, ready - stream_ended, ended - ready)))


def _verify(source: SourceDomain, conn: Connection) -> tuple[str, str, float]:
    """Checksum the suspended source while the destination hashes its copy
    (the stream's end is out); both checksums and the milliseconds this
    added to the downtime.  A difference is an error."""
    started = time.monotonic()
    mine = source.checksum()
    theirs = ext.read_checksum(conn)
    if theirs != mine:
        raise VerifyMismatchError(f"destination checksum {theirs} differs from the "
                                  f"source's {mine}")
    return mine, theirs, round((time.monotonic() - started) * 1000, 3)


def _open_outlet(conn: Connection, open_data: OpenData | None, limiter: RateLimiter,
                 options: MigrateOptions, tee: Tee, stack: ExitStack) -> Outlet:
    wanted = options.extensions()
    if not wanted.wanted:
        return XenOutlet(conn, tee)
    wanted = wanted.with_token()
    ext.send_hello(conn, wanted)
    data = [conn]
    if wanted.streams > 1:
        if open_data is None:
            raise MigrationError("--streams needs a TCP transport")
        data = []
        for i in range(wanted.streams):
            c = open_data(limiter)
            stack.callback(c.close)
            c.send(ext.data_hello(wanted.token, i))
            data.append(c)
    return FramedOutlet(conn, data, wanted, tee)


def _roll_back(source: SourceDomain, name: str) -> None:
    """Make the source what it was: its name, running, log-dirty off."""
    if source.name != name:
        source.rename(name)
    source.disable_logdirty()
    source.resume()


AcceptData = Callable[[ext.Extensions], list[Connection]]


def receive(conn: Connection, backend: Backend, accept_data: AcceptData | None,
            paused: bool = False) -> Summary:
    """Receive one migration on ``conn``; return once the domain runs here."""
    started = time.monotonic()
    builder = DomainBuilder(backend)
    inlet: FramedInlet | None = None
    committed = False
    try:
        conn.send(handover.BANNER)
        reader = ExactReader(conn, conn.name)
        first = reader.read(32, "the stream header")
        options = ext.Extensions()
        if first.startswith(ext.HELLO_MAGIC):
            options = ext.read_hello(reader, first)
            if options.streams > 1 and accept_data is None:
                ext.send_reply(conn, False, "parallel streams need a TCP receiver")
                raise HandoverError("the sender asked for parallel streams over stdio")
            ext.send_reply(conn, True)
            data = accept_data(options) if options.streams > 1 else []
            inlet = FramedInlet(conn, data, options, builder)
            contents = read_stream(ExactReader(inlet, conn.name), builder, Format.XL)
            inlet.check()
            contents.pages += inlet.pages
        else:
            contents = read_stream(reader, builder, Format.XL, xl_magic=first)
        dest = builder.dest
        restoring = time.monotonic()
        dest.restore_state(DomainState(contents.policy, contents.tail))
        restore_ms = round((time.monotonic() - restoring) * 1000, 3)
        if options.verify:
            ext.send_checksum(conn, dest.checksum())
        conn.send(handover.READY)
        handover.expect(conn, handover.PERMISSION, "the source's permission to unpause")
        try:
            dest.rename(builder.name)
            if not (paused or options.paused):
                dest.unpause()
            dest.commit()
        except MigrationError:
            conn.send(handover.REPORT + b"\1")
            builder.discard()
            conn.send(handover.PERMISSION)
            raise
        committed = True
        conn.send(handover.REPORT + b"\0")
    finally:
        if inlet is not None:
            inlet.close()
        if not committed:
            builder.discard()
    return Summary(domain=builder.name, pages=contents.pages,
                   total_seconds=round(time.monotonic() - started, 6), restore_ms=restore_ms)


def save(source: SourceDomain, path: Path, telemetry: Telemetry, debug: bool = False) -> Summary:
    """``xl save``: stop the domain, write it to ``path``, destroy it."""
    started = time.monotonic()
    try:
        with open(path, "wb") as f:
            pre = Precopy(source, XenOutlet(None, Tee(f)), None, telemetry, debug=debug)
            pre.send_prologue()
            result = pre.run()
    except BaseException:
        path.unlink(missing_ok=True)
        source.resume()
        raise
    source.destroy()
    return _summary(source.name, result, path.stat().st_size, time.monotonic() - started,
                    "save")


def restore(path: Path, backend: Backend, paused: bool = False) -> Summary:
    """``xl restore``: build the domain from a saved stream and start it."""
    started = time.monotonic()
    builder = DomainBuilder(backend)
    try:
        with open(path, "rb") as f:
            reader = ExactReader(f, str(path))
            contents: StreamContents = read_stream(reader, builder, Format.XL)
            if f.read(1):
                raise StreamFormatError("data after the stream's END", reader.offset, str(path))
        dest = builder.dest
        restoring = time.monotonic()
        dest.restore_state(DomainState(contents.policy, contents.tail))
        restore_ms = round((time.monotonic() - restoring) * 1000, 3)
        dest.rename(builder.name)
        if not paused:
            dest.unpause()
        dest.commit()
    except BaseException:
        builder.discard()
        raise
    return Summary(domain=builder.name, pages=contents.pages,
                   total_seconds=round(time.monotonic() - started, 6))
