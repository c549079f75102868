"""Converting one guest of a batch job, in a process of its own.

The conversion writes into a staging directory inside the job's output
(``.staging/NAME.attemptN``); the result, with its report, is written next
to the outputs, and only then is the whole directory renamed to
``OUTPUT/NAME``. So an output directory either exists complete, result
included, or not at all — which is what lets a restarted runner tell a
finished guest from an interrupted one.
"""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import signal
import time
import traceback
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

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
    """What a worker process is asked to do."""

    guest: GuestJob
    name: str
    output: Path
    attempt: int

    @property
    def staging(self) -> Path:
        """This attempt's private directory."""
        return self.output / STAGING / f"{self.name}.attempt{self.attempt}"

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


def run_task(task: Task, parent: int, reply: Connection) -> None:
    """Body of a worker process: convert, publish, send the outcome."""
    _die_with_parent(parent)
    started = time.monotonic()
    try:
        task.staging.mkdir(parents=True)
        result = convert(request_for(task.guest, task.staging / "out"))
        record = result.to_json() | {
            "name": task.name, "source": str(task.guest.source),
            "host": task.guest.host,
            "target": task.guest.options.target,
            "config_only": task.guest.options.config_only,
            "outputs": [str(task.destination / p.name) for p in result.outputs],
            "seconds": time.monotonic() - started,
        }
        out = task.staging / "out"
        write_atomic(out / RESULT_NAME, json.dumps(record, indent=2).encode())
        if task.destination.exists():
            raise XenshiftError(f"{task.destination} exists; xen-batch does not "
                                "overwrite outputs")
        os.rename(out, task.destination)
        reply.send(("done", record))
    except XenshiftError as err:
        reply.send(("failed", str(err)))
    except Exception:  # a bug: keep the traceback for the report
        reply.send(("failed", traceback.format_exc()))
    finally:
        shutil.rmtree(task.staging, ignore_errors=True)
        reply.close()
