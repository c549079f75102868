"""What every guest planner shares: the facts, the target, the draft, the plan so far.

A planner is a module of this package with ``plan(ctx)``: it reads
``ctx.facts`` and the files in ``ctx.draft``, and adds its edits to the
draft, its disk operations and steps to the context, and its warnings.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from xenshift.convert.guest.draft import Draft
from xenshift.convert.guest.plan import (DiskOp, Finding, GuestCommand, GuestPlan, Step,
                                         Target)
from xenshift.inspect.facts import GuestFacts
from xenshift.inspect.kernels import Kernel
from xenshift.inspect.layout import Disk


@dataclass(frozen=True)
class PlanInput:
    """What planning starts from besides the facts.

    ``disk_names`` maps each source vdev to its name on the target, as the
    config conversion decided (``xvda`` → ``vda`` for KVM); ``vdevs`` are
    the vdevs of the config's disks (CD-ROMs left out); ``macs`` are
    the MACs of the guest's NICs in config order (None where the config
    gives none), so the NIC ``ethN`` has ``macs[N]``.
    """

    target: Target
    disk_names: dict[str, str] = field(default_factory=dict)
    vdevs: tuple[str, ...] = ()
    macs: tuple[str | None, ...] = ()


@dataclass
class PlanContext:
    """One guest plan in progress."""

    facts: GuestFacts
    request: PlanInput
    draft: Draft
    kernel: Kernel | None
    # The command regenerating the bootloader config, when one runs: then
    # the config's own lines are not edited (they would be overwritten).
    regenerate: GuestCommand | None = None
    disks: list[DiskOp] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    warnings: list[Finding] = field(default_factory=list)

    @property
    def target(self) -> Target:
        """The target: ``hvm``, ``pvh`` or ``kvm``."""
        return self.request.target

    @property
    def boots_from_firmware(self) -> bool:
        """Whether a BIOS boots the guest from its disk (HVM, KVM), rather
        than pygrub from the host (PVH)."""
        return self.target in ("hvm", "kvm")

    def boot_disk(self) -> Disk | None:
        """The disk holding ``/boot`` (or ``/``), None without layout facts."""
        layout = self.facts.layout
        if layout is None or not layout.disks:
            return None
        mounts = self.facts.os.mountpoints
        device = mounts.get("/boot") or self.facts.os.root or ""
        return layout.disk_holding(device) or layout.disks[0]

    def is_regenerated(self, path: str) -> bool:
        """Whether ``path`` is rewritten by the config regeneration."""
        return self.regenerate is not None and path in self.regenerate.produces

    def warn(self, concern: str, message: str) -> None:
        """Record something the admin must know."""
        self.warnings.append(Finding(concern, message))

    def plan(self) -> GuestPlan:
        """The finished plan."""
        return GuestPlan(self.target, self.kernel.version if self.kernel else None,
                         tuple(self.disks), self.draft.file_edits(),
                         self.draft.link_edits(), tuple(self.steps),
                         tuple(self.warnings))
