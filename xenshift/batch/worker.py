"""Converting one guest of a batch job, in a process of its own.

The conversion writes into a staging directory inside the job's output
(``.staging/NAME.attemptN.ID``, one per run); the result, with its report, is written next
to the outputs, and only then is the whole directory renamed to
``OUTPUT/NAME``. So an output directory either exists complete, result
included, or not at all — which is what lets a restarted runner tell a
finished guest from an interrupted one.
"""

from __future__ import annotations

import ctypes
import dataclasses
import errno
import fcntl
import json
import os
import shutil
import signal
import time
import traceback
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import IO, Iterator

from xenshift.atomic import write_atomic
from xenshift.batch.jobfile import GuestJob, GuestOptions
from xenshift.bootcheck import BootOptions
from xenshift.convert.guest_disks import DiskOptions
from xenshift.convert.libvirt import KvmOptions
from xenshift.convert.pipeline import ConversionRequest, convert
from xenshift.convert.to_hvm import HvmOptions
from xenshift.errors import XenshiftError
from xenshift.remote.session import RemoteSource

RESULT_NAME = "xen-batch-result.json"
STAGING = ".staging"
_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class Task:
    """What a worker is asked to do."""

    guest: GuestJob
    name: str
    output: Path
    attempt: int

    @property
    def destination(self) -> Path:
        """Where the finished guest's directory goes."""
        return self.output / self.name


def request_for(guest: GuestJob, outdir: Path) -> ConversionRequest:
    """The pipeline request for one guest's options."""
    o: GuestOptions = guest.options
    return ConversionRequest(
        source=guest.source, target=o.target, outdir=outdir,
        config_only=o.config_only,
        hvm=HvmOptions(nic_model=o.nic_model, hdtype=o.hdtype),
        kvm=KvmOptions(machine=o.machine, accel=o.accel, disk_bus=o.disk_bus,
                       bridges=dict(o.bridge), networks=dict(o.network)),
        disks=DiskOptions(output_format=o.format),
        boot=BootOptions() if o.verify_boot else None,
        remote=RemoteSource(o.source, o.ssh()) if o.source else None)


def _die_with_parent(parent: int) -> None:
    # A worker must not outlive a killed runner: its late output would make
    # the restarted runner convert the guest a second time.
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:
        os._exit(1)


def _options_json(options: GuestOptions) -> dict:
    return json.loads(json.dumps(dataclasses.asdict(options)))


def published_record(task: Task) -> dict | None:
    """The result of ``task``'s guest if its output is already published.

    On a cluster two runs of one guest can overlap (a worker cut off from
    the scheduler finishes what another worker was given again); the first
    to publish wins and the other takes its result instead of a second copy.
    """
    try:
        record = json.loads((task.destination / RESULT_NAME).read_text())
    except (OSError, ValueError):
        return None
    same = (isinstance(record, dict) and record.get("source") == str(task.guest.source)
            and record.get("options") == _options_json(task.guest.options))
    return record if same else None


def _locked(lock_path: Path) -> IO | None:
    """``lock_path`` opened and flocked, or None if another holds it or a
    cleaner removed it between the open and the lock."""
    lock = open(lock_path, "a")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        if os.fstat(lock.fileno()).st_ino == os.stat(lock_path).st_ino:
            return lock
    except (BlockingIOError, FileNotFoundError):
        pass
    lock.close()
    return None


@contextmanager
def _staging(task: Task) -> Iterator[Path]:
    """A directory of this run's own, removed afterwards.

    A run holds an flock on ``DIR.lock`` from before the directory exists
    until after it is gone, so a cleaner (:func:`clear_staging`) never
    removes the directory of a run still going, on this host or another
    sharing the output.
    """
    parent = task.output / STAGING
    parent.mkdir(parents=True, exist_ok=True)
    lock = None
    while lock is None:
        staging = parent / f"{task.name}.attempt{task.attempt}.{uuid.uuid4().hex[:12]}"
        lock_path = staging.with_name(staging.name + ".lock")
        lock = _locked(lock_path)
    with lock:
        try:
            staging.mkdir()
            yield staging
        finally:
            shutil.rmtree(staging, ignore_errors=True)
            lock_path.unlink(missing_ok=True)


def clear_staging(output: Path) -> None:
    """Remove what runs that ended left in ``output``'s staging area.

    Directories whose run still holds its lock stay: a killed runner's
    conversions may still be finishing on cluster workers.
    """
    parent = output / STAGING
    if not parent.is_dir():
        return
    for lock_path in parent.glob("*.lock"):
        lock = _locked(lock_path)
        if lock is not None:
            with lock:
                shutil.rmtree(lock_path.with_suffix(""), ignore_errors=True)
                lock_path.unlink(missing_ok=True)
    for entry in parent.iterdir():
        # A directory without its lock is from a run that ended (runs lock
        # first and unlock last).
        if entry.is_dir() and not entry.with_name(entry.name + ".lock").exists():
            shutil.rmtree(entry, ignore_errors=True)
    try:
        parent.rmdir()
    except OSError:
        pass  # a run still holds part of it


def convert_and_publish(task: Task, worker: str | None = None) -> dict:
    """Convert ``task``'s guest and publish its output directory; its result.

    ``worker`` names the cluster worker doing it (None: a local run).
    Raises XenshiftError when the guest cannot be converted.
    """
    if (existing := published_record(task)) is not None:
        return existing
    started = time.monotonic()
    with _staging(task) as staging:
        out = staging / "out"
        result = convert(request_for(task.guest, out))
        record = result.to_json() | {
            "name": task.name, "source": str(task.guest.source),
            "host": task.guest.host,
            "target": task.guest.options.target,
            "config_only": task.guest.options.config_only,
            "options": _options_json(task.guest.options),
            "outputs": [str(task.destination / p.name) for p in result.outputs],
            "worker": worker, "location": str(task.destination),
            "seconds": time.monotonic() - started,
        }
        write_atomic(out / RESULT_NAME, json.dumps(record, indent=2).encode())
        if task.destination.exists():
            if (existing := published_record(task)) is not None:
                return existing
            raise XenshiftError(f"{task.destination} exists; xen-batch does not "
                                "overwrite outputs")
        try:
            os.rename(out, task.destination)
        except OSError as err:
            # Another run of this guest published first.
            existing = published_record(task)
            if err.errno not in (errno.EEXIST, errno.ENOTEMPTY) or existing is None:
                raise
            return existing
    return record


def run_task(task: Task, parent: int, reply: Connection) -> None:
    """Body of a worker process: convert, publish, send the outcome."""
    _die_with_parent(parent)
    try:
        reply.send(("done", convert_and_publish(task)))
    except XenshiftError as err:
        reply.send(("failed", str(err)))
    except Exception:  # a bug: keep the traceback for the report
        reply.send(("failed", traceback.format_exc()))
    finally:
        reply.close()
