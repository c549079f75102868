"""The guest side of one conversion: its disks become bootable output images.

One appliance launch does the work. Each source disk gets a qcow2 overlay
(the source is its read-only backing file); the session opens the overlays
read-write, gathers the facts, plans, and changes the guest. The overlays
then become the outputs: flattened into new images, kept as overlays where
the user allows it, or, for a partitionless boot disk, copied into a
partition of a new disk, which a second short session makes bootable. The
source is never written, and everything is created inside the caller's
:class:`~xenshift.outputs.OutputDir`, so a failure leaves nothing.

``--in-place`` instead converts the sources themselves, inside
:func:`backed_up`, which backs each up byte for byte first and restores
them all if anything fails.
"""

from __future__ import annotations

import dataclasses
import os
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from xenshift.convert.guest import GuestPlan, PlanInput, plan_guest
from xenshift.convert.report import ChangeReport
from xenshift.inspect import images
from xenshift.inspect.errors import ImageError
from xenshift.inspect.facts import GuestFacts, gather_facts
from xenshift.inspect.rewrite import apply_files, run_steps
from xenshift.inspect.session import GuestSession
from xenshift.inspect.sources import DiskImage
from xenshift.inspect.texts import read_texts
from xenshift.outputs import OutputDir
from xenshift.progress import Progress

BACKUP_SUFFIX = ".xenshift-backup"


@dataclass(frozen=True)
class DiskOptions:
    """How output disks are written.

    ``output_format``: qcow2 or raw. ``overlay``: each copied disk's output
    is a qcow2 overlay on its source (no copy; the source must then stay
    as it is). ``in_place``: convert the source images themselves, after
    backing them up.
    """

    output_format: str = "qcow2"
    overlay: bool = False
    in_place: bool = False

    def __post_init__(self) -> None:
        if self.output_format not in images.OUTPUT_FORMATS:
            raise ValueError(f"output format must be one of {', '.join(images.OUTPUT_FORMATS)}")
        if self.overlay and self.output_format != "qcow2":
            raise ValueError("an overlay output is qcow2")
        if self.overlay and self.in_place:
            raise ValueError("--overlay and --in-place exclude each other")


@dataclass
class GuestResult:
    """The facts, the plan, and the image each source disk became."""

    facts: GuestFacts
    plan: GuestPlan
    outputs: dict[str, DiskImage]


def output_name(name: str, vdev: str, fmt: str) -> str:
    """The file name of a guest's converted disk (``web-xvda.qcow2``)."""
    return f"{name}-{vdev}.{images.extension(fmt)}"


def output_format(options: DiskOptions) -> str:
    """The format of the output images."""
    return "qcow2" if options.overlay else options.output_format


def _as_sources(facts: GuestFacts, work: list[DiskImage], sources: list[DiskImage]) -> GuestFacts:
    """The facts with the work images' names replaced by the sources'."""
    by_path = {w.path: s for w, s in zip(work, sources)}
    layout = facts.layout
    if layout is not None:
        layout = dataclasses.replace(layout, disks=tuple(
            dataclasses.replace(d, path=by_path[d.path].shown, format=by_path[d.path].format)
            if d.path in by_path else d for d in layout.disks))
    return dataclasses.replace(facts, layout=layout,
                               sources=tuple(f"{s.vdev}={s.shown}" for s in sources))


def plan_disks(disks: list[DiskImage], request: PlanInput,
               progress: Progress) -> tuple[GuestFacts, GuestPlan]:
    """Inspect the sources read-only and plan: what a dry run shows."""
    with progress.step("inspecting the guest"), GuestSession(disks) as session:
        facts = gather_facts(session)
        return facts, plan_guest(facts, read_texts(session.files, facts), request)


def _change_guest(work: list[DiskImage], sources: list[DiskImage], request: PlanInput,
                  report: ChangeReport, progress: Progress,
                  in_place: bool) -> tuple[GuestFacts, GuestPlan]:
    with progress.step("starting the conversion appliance"):
        session = GuestSession(work, writable=True, shown_as=sources)
        session.open()
    try:
        facts = _as_sources(gather_facts(session), work, sources)
        plan = plan_guest(facts, read_texts(session.files, facts), request)
        if in_place and plan.rebuilds_disks:
            raise ImageError("--in-place cannot give a partitionless disk a partition "
                             "table (the disk must grow): convert to new images instead",
                             sources[0].path)
        plan.record(report)
        apply_files(session, plan)
        run_steps(session, plan.guest_steps(), report, progress)
    finally:
        session.close()
    return facts, plan


def _final_mounts(facts: GuestFacts, plan: GuestPlan) -> dict[str, str]:
    """The guest's mount points on the output disks (a rebuilt disk's file
    system is now its partition 1)."""
    rebuilt = {f"/dev/{d.vdev}" for d in plan.disks if d.action == "partition"}
    return {mp: dev + "1" if dev in rebuilt else dev
            for mp, dev in facts.os.mountpoints.items()}


def _finish_layout(facts: GuestFacts, plan: GuestPlan, outputs: list[DiskImage],
                   report: ChangeReport, progress: Progress) -> None:
    """Run the bootloader steps on rebuilt disks, which need their new layout."""
    steps = plan.layout_steps()
    if not steps:
        return
    with progress.step("starting the appliance on the rebuilt disks"):
        session = GuestSession(outputs, writable=True, mounts=_final_mounts(facts, plan))
        session.open()
    try:
        run_steps(session, steps, report, progress)
    finally:
        session.close()


def convert_disks(name: str, disks: list[DiskImage], request: PlanInput, out: OutputDir,
                  options: DiskOptions, report: ChangeReport,
                  progress: Progress) -> GuestResult:
    """Write the converted guest's disks into ``out`` (staged, not yet published)."""
    fmt = output_format(options)
    work = [images.overlay(d, out.scratch(f"{d.vdev}.overlay.qcow2")) for d in disks]
    facts, plan = _change_guest(work, disks, request, report, progress, in_place=False)
    outputs = {}
    for source, overlay in zip(disks, work):
        target = out.file(output_name(name, source.vdev, fmt))
        op = plan.disk(source.vdev)
        if op is not None and op.action == "partition":
            outputs[source.vdev] = images.partitioned(overlay, target, fmt, op.uuid, progress)
        elif options.overlay:
            # The backing file is named by its absolute path: the overlay
            # can move to its output name.
            os.replace(overlay.path, target)
            outputs[source.vdev] = dataclasses.replace(overlay, path=str(target))
            continue
        else:
            outputs[source.vdev] = images.flatten(overlay, target, fmt, progress)
        os.unlink(overlay.path)
    _finish_layout(facts, plan, [outputs[d.vdev] for d in disks], report, progress)
    return GuestResult(facts, plan, outputs)


@contextmanager
def backed_up(disks: list[DiskImage], report: ChangeReport,
              progress: Progress) -> Iterator[None]:
    """Back each source up byte for byte; restore them all if the block fails.

    On success the backups stay for the admin (named in the report); on
    any failure every source is put back, byte-identical to before.
    """
    backups: list[tuple[DiskImage, Path]] = []
    try:
        for disk in disks:
            backup = Path(disk.path + BACKUP_SUFFIX)
            if backup.exists():
                raise ImageError(f"{backup} exists: move it away before converting in place",
                                 disk.path)
            images.backup_copy(disk.path, backup, progress)
            backups.append((disk, backup))
        yield
    except BaseException:
        for disk, backup in backups:
            os.replace(backup, disk.path)
        raise
    for disk, backup in backups:
        report.note(f"disk {disk.vdev}", f"converted in place; the original is kept as {backup}")


def convert_in_place(disks: list[DiskImage], request: PlanInput, report: ChangeReport,
                     progress: Progress) -> GuestResult:
    """Convert the source images themselves (call inside :func:`backed_up`)."""
    facts, plan = _change_guest(disks, disks, request, report, progress, in_place=True)
    return GuestResult(facts, plan, {d.vdev: d for d in disks})
