"""``GuestPlan``: every change a guest conversion makes, before it is made.

A plan is data: the disk-layout operation for each disk, the edits of the
guest's files (whole-file before/after, with the line changes that make
them up and why), symlinks, and the steps to run in the guest in order
(initrd rebuild, GRUB install, config regeneration). The planners build it
from :class:`~xenshift.inspect.facts.GuestFacts` without touching a disk;
:mod:`xenshift.inspect.rewrite` carries it out on the output images. The
same plan feeds ``--dry-run``, the JSON report and the change report.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Literal, Union

from xenshift.convert.report import ChangeKind, ChangeReport

Target = Literal["hvm", "pvh", "kvm"]
DiskAction = Literal["copy", "partition"]
# Where GRUB's core image goes: behind the MBR, before the first partition.
PARTITION_START = 1 << 20


@dataclass(frozen=True)
class LineChange:
    """One change to one line (``line`` None: the whole file is new or gone).

    ``concern`` names the planner that made it (``devices``, ``console``, …).
    """

    concern: str
    line: int | None
    before: str | None
    after: str | None
    reason: str


@dataclass(frozen=True)
class FileEdit:
    """A guest text file's content before and after (None: absent)."""

    path: str
    before: str | None
    after: str | None
    changes: tuple[LineChange, ...]

    def diff(self) -> str:
        """A unified diff of the edit, ``a/PATH`` to ``b/PATH``."""
        old = "/dev/null" if self.before is None else f"a{self.path}"
        new = "/dev/null" if self.after is None else f"b{self.path}"
        return "".join(difflib.unified_diff(
            (self.before or "").splitlines(keepends=True),
            (self.after or "").splitlines(keepends=True), old, new))


@dataclass(frozen=True)
class LinkEdit:
    """A symlink created (``after``), removed (``after`` None) or retargeted."""

    concern: str
    path: str
    before: str | None
    after: str | None
    reason: str


@dataclass(frozen=True)
class GuestCommand:
    """A command run inside the guest (chrooted into its root).

    ``produces`` lists the text files it rewrites, so their new content can
    be reported once it has run.
    """

    concern: str
    argv: tuple[str, ...]
    reason: str
    produces: tuple[str, ...] = ()

    def describe(self) -> str:
        """The command line, for people."""
        return " ".join(self.argv)


@dataclass(frozen=True)
class RebuildInitrd:
    """Rebuild kernel ``version``'s initrd at ``initrd`` with ``argv`` (the
    guest's own tool); afterwards it must hold every one of ``drivers``, as
    read by xenshift and by ``lister`` (the tool's own lister, when the
    guest has it)."""

    concern: str
    argv: tuple[str, ...]
    version: str
    initrd: str
    drivers: tuple[str, ...]
    reason: str
    lister: tuple[str, ...] | None = None

    def describe(self) -> str:
        """The command line, for people."""
        return " ".join(self.argv)


@dataclass(frozen=True)
class GrubInstall:
    """Install GRUB's BIOS boot code into the MBR of disk ``vdev``.

    ``tool`` is the guest's own ``grub-install`` when it has one; without
    it, the conversion appliance's ``grub-install`` builds the core image
    from the guest's own modules in ``modules_dir``.
    """

    concern: str
    vdev: str
    modules_dir: str
    tool: str | None
    boot_directory: str
    reason: str

    def describe(self) -> str:
        """What runs, for people."""
        how = self.tool or f"the appliance's grub-install with {self.modules_dir}"
        return f"install GRUB (i386-pc) to the MBR of {self.vdev} using {how}"


@dataclass(frozen=True)
class SetDefaultEntry:
    """After ``config`` is regenerated, make the entry booting ``kernel`` the
    default (``GRUB_DEFAULT`` in ``defaults_file``) and regenerate again."""

    concern: str
    config: str
    kernel: str
    defaults_file: str
    regenerate: GuestCommand
    reason: str

    def describe(self) -> str:
        """What runs, for people."""
        return f"make the {self.config} entry booting {self.kernel} the default"


Step = Union[GuestCommand, RebuildInitrd, GrubInstall, SetDefaultEntry]


@dataclass(frozen=True)
class DiskOp:
    """How one source disk becomes its output image.

    ``copy``: the image is copied as it is. ``partition``: the disk holds a
    file system with no partition table, which no BIOS boots; the output
    gets an MBR with one partition at :data:`PARTITION_START` and the file
    system copied into it block for block (so its UUID stays).
    """

    vdev: str
    action: DiskAction
    reason: str
    fstype: str | None = None
    uuid: str | None = None

    @property
    def partition_start(self) -> int:
        """Byte offset of the file system in the output image."""
        return PARTITION_START if self.action == "partition" else 0


@dataclass(frozen=True)
class Finding:
    """Something the admin should know that is not itself a change."""

    concern: str
    message: str


@dataclass(frozen=True)
class GuestPlan:
    """Everything one guest conversion changes, in the order it is done."""

    target: Target
    kernel: str | None
    disks: tuple[DiskOp, ...]
    files: tuple[FileEdit, ...]
    links: tuple[LinkEdit, ...]
    steps: tuple[Step, ...]
    warnings: tuple[Finding, ...]

    def disk(self, vdev: str) -> DiskOp | None:
        """The operation planned for source disk ``vdev``."""
        return next((d for d in self.disks if d.vdev == vdev), None)

    @property
    def rebuilds_disks(self) -> bool:
        """Whether some output disk gets a new layout."""
        return any(d.action != "copy" for d in self.disks)

    def layout_steps(self) -> tuple[Step, ...]:
        """Steps that must see the output disks' final layout: the
        bootloader's (GRUB's core image, its config's device hints), when
        a disk is rebuilt. They run after the rebuild."""
        if not self.rebuilds_disks:
            return ()
        return tuple(s for s in self.steps if s.concern == "bootloader")

    def guest_steps(self) -> tuple[Step, ...]:
        """Every other step, run on the work images before any rebuild."""
        later = self.layout_steps()
        return tuple(s for s in self.steps if s not in later)

    def record(self, report: ChangeReport) -> None:
        """Add every guest change to ``report``, one entry per line change."""
        for op in self.disks:
            if op.action != "copy":
                report.changed(f"disk {op.vdev}", f"whole-disk {op.fstype}",
                               "partition 1 (MBR)", op.reason)
        for edit in self.files:
            for change in edit.changes:
                where = edit.path if change.line is None else f"{edit.path}:{change.line}"
                subject = f"guest {where}"
                if change.before is None:
                    report.added(subject, _one_line(change.after or ""), change.reason)
                elif change.after is None:
                    report.dropped(subject, change.before, change.reason)
                else:
                    report.changed(subject, change.before, change.after, change.reason)
        for link in self.links:
            subject = f"guest {link.path}"
            if link.after is None:
                report.dropped(subject, f"-> {link.before}", link.reason)
            elif link.before is None:
                report.added(subject, f"-> {link.after}", link.reason)
            else:
                report.changed(subject, f"-> {link.before}", f"-> {link.after}", link.reason)
        for step in self.steps:
            # A step changes the guest as a whole (its initrd, its MBR):
            # recorded as a change with what runs as the new state.
            report.add(ChangeKind.CHANGED, f"guest {step.concern}", step.reason,
                       after=step.describe())
        for finding in self.warnings:
            report.warn(f"guest {finding.concern}", finding.message)

    def to_text(self) -> str:
        """The plan for people: disk operations, diffs, links and steps."""
        out = [f"# guest changes for {self.target}"
               + (f" (kernel {self.kernel})" if self.kernel else "")]
        for op in self.disks:
            out.append(f"# disk {op.vdev}: {op.action} ({op.reason})")
        text = "\n".join(out) + "\n"
        text += "".join(edit.diff() for edit in self.files)
        lines = []
        for link in self.links:
            lines.append(f"# link {link.path}: {link.before or '(none)'} -> "
                         f"{link.after or '(removed)'}")
        for number, step in enumerate(self.steps, start=1):
            lines.append(f"# step {number}: {step.describe()}")
        for finding in self.warnings:
            lines.append(f"# warning ({finding.concern}): {finding.message}")
        return text + "".join(line + "\n" for line in lines)

    def to_json(self) -> dict:
        """The plan as plain JSON data."""
        return {
            "target": self.target, "kernel": self.kernel,
            "disks": [{"vdev": d.vdev, "action": d.action, "reason": d.reason}
                      for d in self.disks],
            "files": [{"path": e.path, "created": e.before is None,
                       "removed": e.after is None,
                       "changes": [{"concern": c.concern, "line": c.line,
                                    "before": c.before, "after": c.after,
                                    "reason": c.reason} for c in e.changes]}
                      for e in self.files],
            "links": [{"path": l.path, "before": l.before, "after": l.after,
                       "reason": l.reason} for l in self.links],
            "steps": [{"concern": s.concern, "what": s.describe(), "reason": s.reason}
                      for s in self.steps],
            "warnings": [{"concern": f.concern, "message": f.message}
                         for f in self.warnings],
        }


def _one_line(text: str) -> str:
    """A new file's content for a one-line report entry: its non-comment lines."""
    lines = [line.strip() for line in text.splitlines()
             if line.strip() and not line.lstrip().startswith("#")]
    return "; ".join(lines) if lines else "(empty file)"
