"""SELinux: files written by the conversion carry no labels, so relabel.

The conversion writes files from outside the guest's policy, so they have
no (or wrong) SELinux labels, and an enforcing guest would refuse to read
them. ``/.autorelabel`` makes the guest relabel every file system on its
first boot, which is what the guest's own tools do after such changes.
"""

from __future__ import annotations

from xenshift.convert.guest.context import PlanContext

CONCERN = "selinux"
AUTORELABEL = "/.autorelabel"


def plan(ctx: PlanContext) -> None:
    """Ask for a relabel on first boot when SELinux is on."""
    mode = ctx.facts.os.selinux
    if mode not in ("enforcing", "permissive") or ctx.draft.text(AUTORELABEL) is not None:
        return
    ctx.draft.create(CONCERN, AUTORELABEL, "",
                     f"SELinux is {mode}: files written by the conversion are relabelled "
                     "on first boot")
