"""The initrd: rebuilt with the guest's own tool for the target's drivers.

A PV guest's initrd often holds only ``xen-blkfront``/``xen-netfront``, so
on the target the kernel finds no root disk. The chosen kernel's initrd is
rebuilt with the tool the guest itself would use, after its settings name
the target's drivers: KVM's virtio, Xen HVM's emulated ATA/AHCI plus the PV
drivers that take over, PVH's PV drivers. Drivers built into the kernel
need nothing; an initrd already holding every driver is left alone.
"""

from __future__ import annotations

from xenshift.convert.guest.context import PlanContext
from xenshift.convert.guest.plan import RebuildInitrd
from xenshift.inspect.initrd import DRACUT_CONF_DIR, INITRAMFS_MODULES, SYSCONFIG_KERNEL
from xenshift.inspect.kernels import Kernel
from xenshift.inspect.readiness import INITRD_DRIVERS

CONCERN = "initrd"
# Modules the target's disk needs besides its controller: the SCSI disk
# driver behind ATA/AHCI and virtio-scsi.  initramfs-tools skips a name the
# kernel lacks (built in, say), so its modules file lists them all; the
# other tools get those the kernel has as modules.
DISK_HELPERS = {"hvm": ("sd_mod", "ata_generic"), "kvm": ("sd_mod",), "pvh": ()}
DRACUT_DROP_IN = f"{DRACUT_CONF_DIR}/90-xenshift.conf"
MAKE_INITRD_CONF = "/etc/initrd.mk"


def wanted_drivers(ctx: PlanContext, kernel: Kernel) -> list[str]:
    """The target's drivers and disk helpers that this kernel has as modules.

    Every initrd tool is given all of them: an initrd whose disk controller
    driver loads but has no ``sd_mod`` behind it finds no root disk either.
    """
    return [d for d in (*INITRD_DRIVERS[ctx.target], *DISK_HELPERS[ctx.target])
            if kernel.drivers.get(d) == "module"]


def _missing(ctx: PlanContext, kernel: Kernel, drivers: list[str]) -> list[str] | None:
    """Drivers the kernel's initrd lacks (None: it has to be built anyway)."""
    image = ctx.facts.initrd.image_for(kernel.version)
    if image is None or image.problem:
        return None
    return [d for d in drivers if d not in image.drivers]


def _reason(ctx: PlanContext, drivers: list[str]) -> str:
    return f"the {ctx.target.upper()} disk and NIC drivers: {', '.join(drivers)}"


def _rebuild(kernel: Kernel, drivers: list[str], initrd: str, *argv: str,
             lister: str | None = None) -> RebuildInitrd:
    return RebuildInitrd(CONCERN, argv, kernel.version, initrd, tuple(drivers),
                         f"rebuild the initrd of {kernel.version} with "
                         f"{', '.join(drivers)}",
                         (lister, initrd) if lister else None)


def _update_initramfs(ctx: PlanContext, kernel: Kernel, drivers: list[str]) -> RebuildInitrd:
    listed = {s.value.replace("-", "_") for s in ctx.facts.initrd.settings
              if s.file == INITRAMFS_MODULES}
    # drivers already holds the helpers the kernel has as modules: one line each.
    new = [m for m in dict.fromkeys([*drivers, *DISK_HELPERS[ctx.target]]) if m not in listed]
    if new:
        ctx.draft.append_lines(CONCERN, INITRAMFS_MODULES, new, _reason(ctx, drivers))
    initrd = kernel.initrd or f"/boot/initrd.img-{kernel.version}"
    return _rebuild(kernel, drivers, initrd, "update-initramfs",
                    "-u" if kernel.initrd else "-c", "-k", kernel.version,
                    lister="lsinitramfs")


def _dracut(ctx: PlanContext, kernel: Kernel, drivers: list[str]) -> RebuildInitrd:
    # dracut wants blanks around the list so that += lines join cleanly.
    text = (f"# Written by xenshift: drivers the guest needs on {ctx.target.upper()}\n"
            f'add_drivers+=" {" ".join(drivers)} "\n')
    if ctx.draft.text(DRACUT_DROP_IN) is None:
        ctx.draft.create(CONCERN, DRACUT_DROP_IN, text, _reason(ctx, drivers))
    initrd = kernel.initrd or f"/boot/initramfs-{kernel.version}.img"
    return _rebuild(kernel, drivers, initrd, "dracut", "--force", initrd, kernel.version,
                    lister="lsinitrd")


def _suse_mkinitrd(ctx: PlanContext, kernel: Kernel, drivers: list[str]) -> RebuildInitrd:
    words = (ctx.draft.var(SYSCONFIG_KERNEL, "INITRD_MODULES") or "").split()
    ctx.draft.set_var(CONCERN, SYSCONFIG_KERNEL, "INITRD_MODULES",
                      " ".join(words + [d for d in drivers if d not in words]),
                      _reason(ctx, drivers))
    initrd = kernel.initrd or f"/boot/initrd-{kernel.version}"
    # SLES 12's mkinitrd is a wrapper around dracut, with lsinitrd beside it.
    return _rebuild(kernel, drivers, initrd, "mkinitrd", "-k", kernel.vmlinuz, "-i", initrd,
                    lister="lsinitrd")


def _make_initrd(ctx: PlanContext, kernel: Kernel, drivers: list[str]) -> RebuildInitrd:
    ctx.draft.append_lines(CONCERN, MAKE_INITRD_CONF, [f"MODULES_ADD += {' '.join(drivers)}"],
                           _reason(ctx, drivers))
    initrd = kernel.initrd or f"/boot/initrd-{kernel.version}.img"
    return _rebuild(kernel, drivers, initrd, "make-initrd", "-k", kernel.version)


_BUILDERS = {"update-initramfs": _update_initramfs, "dracut": _dracut,
             "mkinitrd": _suse_mkinitrd, "make-initrd": _make_initrd}


def plan(ctx: PlanContext) -> None:
    """Name the target's drivers in the initrd settings and rebuild it."""
    kernel = ctx.kernel
    if kernel is None:
        return
    drivers = wanted_drivers(ctx, kernel)
    missing = _missing(ctx, kernel, drivers)
    if not drivers or missing == []:
        return
    tool = ctx.facts.initrd.tool
    if tool is None:
        ctx.warn(CONCERN, f"no initrd tool in the guest to add {', '.join(drivers)} "
                 f"to the initrd of {kernel.version}")
        return
    ctx.steps.append(_BUILDERS[tool](ctx, kernel, drivers))
