"""One plan per target: which concerns run, in which order, and when to refuse.

Every target starts from the readiness verdict: a guest blocked for the
target (only PV-only kernels, no GRUB modules to install, no initrd tool
for a missing driver, ...) is refused with the verdict's reasons, naming
what to install. Then the target's planners run in order; the order
matters only where one planner's step must follow another's (the initrd is
rebuilt before the GRUB config is regenerated, which happens before GRUB
is installed) or where one reads what another decided (disk operations
before device names).
"""

from __future__ import annotations

from typing import Callable

from xenshift.convert.guest import (bootloader, consoles, devices, initrd, layout,
                                    nic_naming, selinux, xen_leftovers)
from xenshift.convert.guest.context import PlanContext, PlanInput
from xenshift.convert.guest.draft import Draft
from xenshift.convert.guest.errors import GuestRefusedError
from xenshift.convert.guest.plan import GuestPlan, Target
from xenshift.inspect.facts import GuestFacts
from xenshift.inspect.readiness import choose_kernel, verdict
from xenshift.inspect.texts import GuestTexts

Planner = Callable[[PlanContext], None]

CONCERNS: dict[Target, tuple[Planner, ...]] = {
    "kvm": (layout.plan, devices.plan, consoles.plan, nic_naming.plan,
            xen_leftovers.plan, initrd.plan, bootloader.plan, selinux.plan),
    "hvm": (layout.plan, devices.plan, consoles.plan, nic_naming.plan,
            initrd.plan, bootloader.plan, selinux.plan),
    # The same PV devices and pygrub: only the console name, the initrd's
    # PV drivers and the default kernel can need a change.
    "pvh": (layout.plan, consoles.plan, initrd.plan, bootloader.plan, selinux.plan),
}


def plan_guest(facts: GuestFacts, texts: GuestTexts, request: PlanInput) -> GuestPlan:
    """The changes that make the guest boot on ``request.target``.

    Raises GuestRefusedError when the guest cannot be converted as it is.
    """
    target = request.target
    judged = verdict(facts, target)
    blocking = [f.message for f in judged.findings if f.blocking]
    if blocking:
        raise GuestRefusedError(target, blocking, facts.sources)
    ctx = PlanContext(facts, request, Draft(texts), choose_kernel(facts, target),
                      bootloader.regeneration(facts, texts, target))
    for planner in CONCERNS[target]:
        planner(ctx)
    return ctx.plan()
