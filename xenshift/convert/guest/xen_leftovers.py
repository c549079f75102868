"""Xen leftovers on KVM: disabled, not deleted.

On KVM the Xen PV drivers never load, so modprobe aliases pointing NICs or
disk adapters at them, init scripts that load them and initrd settings
that demand them (dracut fails on a driver it cannot find) are disabled in
place: commented out, or the Xen names taken out of a module list. Xen's
guest tools are uninstalled with the guest's package manager. Kernel
packages stay (a regular kernel is the default already), as virt-v2v does.
"""

from __future__ import annotations

import fnmatch

from xenshift.convert.guest.context import PlanContext
from xenshift.convert.guest.plan import GuestCommand
from xenshift.inspect.xen_leftovers import is_xen_module

CONCERN = "xen"
KEPT_PACKAGES = ("kernel-xen*", "linux-image-*")
_REMOVE = {"deb": ("dpkg", "--purge"), "rpm": ("rpm", "-e")}
# initrd settings that are module lists, by name ("+=" for dracut's appends).
_MODULE_LISTS = ("INITRD_MODULES", "DOMU_INITRD_MODULES", "add_drivers+=",
                 "add_drivers", "force_drivers+=", "force_drivers", "drivers")
_REASON = "a Xen PV driver, which KVM never loads"


def _modprobe_and_scripts(ctx: PlanContext) -> None:
    xen = ctx.facts.xen
    for alias in xen.modprobe_aliases:
        ctx.draft.comment_out(CONCERN, alias.file, alias.line,
                              f"alias {alias.alias} {alias.module}: {_REASON}")
    for script in xen.scripts:
        ctx.draft.comment_out(CONCERN, script.file, script.line, f"loads {_REASON}")


def _initrd_settings(ctx: PlanContext) -> None:
    for setting in ctx.facts.initrd.settings:
        if setting.name not in _MODULE_LISTS:
            continue
        words = setting.value.split()
        kept = [w for w in words if not is_xen_module(w)]
        if kept == words:
            continue
        reason = f"{setting.name.rstrip('+=')} names {_REASON}"
        if setting.name.endswith("+=") and not kept:
            ctx.draft.comment_out(CONCERN, setting.file, setting.line, reason)
        elif setting.name.endswith("+="):
            ctx.draft.replace_line(CONCERN, setting.file, setting.line,
                                   f'{setting.name}" {" ".join(kept)} "', reason)
        else:
            ctx.draft.set_var(CONCERN, setting.file, setting.name, " ".join(kept), reason)


def _packages(ctx: PlanContext) -> None:
    names = [p.name for p in ctx.facts.xen.packages
             if not any(fnmatch.fnmatchcase(p.name, k) for k in KEPT_PACKAGES)]
    if not names:
        return
    remove = _REMOVE.get(ctx.facts.os.package_format or "")
    if remove is None:
        ctx.warn(CONCERN, f"Xen guest software {', '.join(names)} stays: no package "
                 "manager known to remove it with")
        return
    ctx.steps.append(GuestCommand(CONCERN, (*remove, *names),
                                  "Xen guest tools have nothing to talk to on KVM"))


def plan(ctx: PlanContext) -> None:
    """Disable Xen-only aliases, script lines, initrd settings; remove Xen tools."""
    _modprobe_and_scripts(ctx)
    _initrd_settings(ctx)
    _packages(ctx)
