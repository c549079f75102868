"""Platform features, CPU mode, clock, power management and lifecycle actions."""

from __future__ import annotations

from xenshift.config.syntax import ListValue
from xenshift.convert.libvirt.context import KvmRule, MapContext
from xenshift.convert.libvirt.kvm_domain import Timer

RULES = (
    KvmRule("acpi", "features/acpi", "on unless acpi=0"),
    KvmRule("apic", "features/apic", "on unless apic=0"),
    KvmRule("pae", "features/pae", "on unless pae=0"),
    KvmRule("viridian", "features/hyperv",
            "Hyper-V enlightenment groups → hyperv features (base → relaxed, "
            "vapic, spinlocks; freq, stimer, hcall_ipi, hcall_remote_tlb_flush "
            "likewise); other groups are listed as not carried"),
    KvmRule("nestedhvm", "cpu/@mode", "nestedhvm=1 → host-passthrough, which exposes VMX/SVM"),
    KvmRule("hpet", "clock/timer[@name='hpet']", "present yes/no"),
    KvmRule("localtime", "clock/@offset", "localtime=1 → offset localtime"),
    KvmRule("rtc_timeoffset", "clock/@adjustment", "offset variable, basis utc or localtime"),
    KvmRule("acpi_s3", "pm/suspend-to-mem", "enabled yes/no"),
    KvmRule("acpi_s4", "pm/suspend-to-disk", "enabled yes/no"),
    KvmRule("ms_vm_genid", "genid", "generate → genid (libvirt makes the ID)"),
    KvmRule("on_poweroff", "on_poweroff",
            "destroy/restart kept; the QEMU driver refuses the others, which "
            "become the nearest of the two"),
    KvmRule("on_reboot", "on_reboot", "as on_poweroff"),
    KvmRule("on_crash", "on_crash",
            "destroy, restart, preserve, coredump-destroy, coredump-restart "
            "kept; rename-restart → restart, soft-reset → restart"),
)

# Hyper-V features libvirt writes, in its order, and what each viridian
# group (xl.cfg(5)) turns on.
_HYPERV_ORDER = ("relaxed", "vapic", "spinlocks", "vpindex", "runtime", "synic",
                 "stimer", "frequencies", "tlbflush", "ipi")
_VIRIDIAN_GROUPS = {
    "base": ("relaxed", "vapic", "spinlocks"),
    "freq": ("frequencies",),
    "apic_assist": ("vapic",),
    "stimer": ("vpindex", "synic", "stimer"),
    "hcall_remote_tlb_flush": ("vpindex", "tlbflush"),
    "hcall_ipi": ("vpindex", "ipi"),
}
_VIRIDIAN_DEFAULTS = ("base", "freq", "time_ref_count", "apic_assist", "crash_ctl")
_VIRIDIAN_ALL = _VIRIDIAN_DEFAULTS + ("reference_tsc", "hcall_remote_tlb_flush",
                                      "stimer", "hcall_ipi", "ex_processor_masks",
                                      "no_vp_limit", "cpu_hotplug")
# Lifecycle actions the QEMU driver accepts, per event.
_ALLOWED = {
    "on_poweroff": ("destroy", "restart"),
    "on_reboot": ("destroy", "restart"),
    "on_crash": ("destroy", "restart", "preserve", "coredump-destroy", "coredump-restart"),
}
_NEAREST = {"rename-restart": "restart", "coredump-restart": "restart",
            "soft-reset": "restart", "preserve": "destroy",
            "coredump-destroy": "destroy"}


def apply(ctx: MapContext) -> None:
    """Features, CPU mode, clock, pm and on_* of the domain."""
    _features(ctx)
    _viridian(ctx)
    _nested(ctx)
    _clock(ctx)
    _pm(ctx)
    _lifecycle(ctx)


def _features(ctx: MapContext) -> None:
    flags = ctx.domain.features.flags
    for key in ("acpi", "apic", "pae"):
        if not ctx.is_set(key):
            continue
        if ctx.flag(key, True):
            ctx.kept(key, f"features/{key}")
        else:
            flags.remove(key)
            ctx.kept(key, f"no features/{key}")


def _viridian(ctx: MapContext) -> None:
    setting = ctx.settings.get("viridian")
    if setting is None:
        return
    if isinstance(setting.value, ListValue):
        groups = _viridian_groups([item.text for item in ctx.settings.get_string_list("viridian") or ()])
    else:
        groups = list(_VIRIDIAN_DEFAULTS) if ctx.flag("viridian", False) else []
    features = {f for g in groups for f in _VIRIDIAN_GROUPS.get(g, ())}
    ctx.domain.features.hyperv = [f for f in _HYPERV_ORDER if f in features]
    if not groups:
        ctx.kept("viridian", "no Hyper-V enlightenments")
        return
    ctx.changed("viridian", "hyperv " + " ".join(ctx.domain.features.hyperv),
                "Hyper-V enlightenments as KVM names them")
    lost = [g for g in groups if g not in _VIRIDIAN_GROUPS]
    if lost:
        ctx.warn("viridian", "groups without a libvirt hyperv feature here: "
                 + ", ".join(lost))


def _viridian_groups(items: list[str]) -> list[str]:
    """The groups a viridian list turns on, in order (xl's defaults/all, !group)."""
    groups: list[str] = []
    for item in items:
        names = {"defaults": _VIRIDIAN_DEFAULTS, "all": _VIRIDIAN_ALL}.get(
            item.lstrip("!"), (item.lstrip("!"),))
        for name in names:
            if item.startswith("!"):
                groups = [g for g in groups if g != name]
            elif name not in groups:
                groups.append(name)
    return groups


def _nested(ctx: MapContext) -> None:
    if not ctx.is_set("nestedhvm"):
        return
    if ctx.flag("nestedhvm", False):
        ctx.domain.cpu.mode = "host-passthrough"
        ctx.changed("nestedhvm", "cpu mode='host-passthrough'",
                    "exposes the host's VMX/SVM for nested guests (KVM's "
                    "kvm_intel/kvm_amd nested=1 must be on)")
    else:
        ctx.kept("nestedhvm", "no nested virtualisation, KVM's default")


def _clock(ctx: MapContext) -> None:
    clock = ctx.domain.clock
    localtime = ctx.flag("localtime", False)
    if localtime:
        clock.offset = "localtime"
    if ctx.is_set("localtime"):
        ctx.kept("localtime", f"clock offset {clock.offset}")
    offset = ctx.settings.get_long("rtc_timeoffset")
    if offset is not None:
        clock.offset, clock.adjustment = "variable", offset
        clock.basis = "localtime" if localtime else "utc"
        ctx.kept("rtc_timeoffset", f"clock offset variable adjustment={offset} "
                 f"basis={clock.basis}")
    if ctx.is_set("hpet"):
        present = ctx.flag("hpet", True)
        clock.timers.append(Timer("hpet", present))
        ctx.kept("hpet", f"timer hpet present={'yes' if present else 'no'}")


def _pm(ctx: MapContext) -> None:
    pm = ctx.domain.pm
    for key, attr in (("acpi_s3", "suspend_to_mem"), ("acpi_s4", "suspend_to_disk")):
        if ctx.is_set(key):
            setattr(pm, attr, ctx.flag(key, True))
            ctx.kept(key, f"pm/{attr.replace('_', '-')}")
    genid = ctx.settings.get_string("ms_vm_genid")
    if genid is not None:
        ctx.domain.genid = genid == "generate"
        ctx.kept("ms_vm_genid", "genid" if ctx.domain.genid else "no genid")


def _lifecycle(ctx: MapContext) -> None:
    for event in ("on_poweroff", "on_reboot", "on_crash"):
        action = getattr(ctx.config.lifecycle, event)
        kvm_action = action if action in _ALLOWED[event] else _NEAREST[action]
        setattr(ctx.domain, event, kvm_action)
        if not ctx.is_set(event):
            continue
        if kvm_action == action:
            ctx.kept(event, action)
        else:
            ctx.changed(event, kvm_action, f"libvirt's QEMU driver refuses "
                        f"{action!r} for {event}")
