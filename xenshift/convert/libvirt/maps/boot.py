"""Guest type, firmware, boot order and direct kernel boot.

Every KVM guest is HVM. A PV or PVH guest's ``kernel=`` becomes libvirt's
direct kernel boot, with the disk and console names of its command line
rewritten for KVM (``xvda`` → ``vda``, ``hvc0`` → ``ttyS0``); pygrub and
pv-grub have no KVM equivalent, since they read the guest's GRUB config
from the Xen host.
"""

from __future__ import annotations

import re

from xenshift.config.model import GuestType
from xenshift.convert.libvirt.context import KvmRule, MapContext
from xenshift.convert.libvirt.kvm_domain import Disk, Interface

RULES = (
    KvmRule("type", "os/type", "every KVM guest is hvm (x86_64, machine q35 or pc)"),
    KvmRule("builder", "os/type", "the deprecated spelling of type"),
    KvmRule("kernel", "os/kernel",
            "direct kernel boot; the file must exist on the KVM host; a "
            "pv-grub kernel cannot be carried"),
    KvmRule("ramdisk", "os/initrd", "direct kernel boot's initrd"),
    KvmRule("cmdline", "os/cmdline",
            "xvdX/hdX/sdX renamed as the disks are, hvc0/xvc0 → ttyS0"),
    KvmRule("root", "os/cmdline", "root=VALUE, rewritten as cmdline"),
    KvmRule("extra", "os/cmdline", "appended, rewritten as cmdline"),
    KvmRule("firmware", "os/@firmware",
            "uefi/ovmf → efi, bios/seabios → BIOS (SeaBIOS); pv-grub cannot be carried"),
    KvmRule("bios", "os/@firmware", "ovmf → efi, seabios/rombios → BIOS (SeaBIOS)"),
    KvmRule("boot", "devices/*/boot/@order",
            "c (disk), d (cdrom), n (network) → per-device boot order"),
)

_UEFI = ("uefi", "ovmf")
_BIOS = ("bios", "seabios", "rombios")
_CONSOLE = re.compile(r"(?<![\w/])(hvc0|xvc0)(?!\w)")
_KVM_CONSOLE = "ttyS0"


def apply(ctx: MapContext) -> None:
    """Set ``os`` and the devices' boot order."""
    _guest_type(ctx)
    _firmware(ctx)
    _kernel(ctx)
    _boot_order(ctx)


def _guest_type(ctx: MapContext) -> None:
    kind = ctx.config.guest_type
    for key in ("type", "builder"):
        if not ctx.is_set(key):
            continue
        if kind is GuestType.HVM:
            ctx.kept(key, "an HVM guest stays HVM")
        else:
            ctx.changed(key, "hvm", f"KVM has no {kind.value.upper()} mode: "
                        "the guest boots as HVM with virtio devices")
    if kind is not GuestType.HVM and not ctx.is_set("type") and not ctx.is_set("builder"):
        ctx.warn("type", "PV (xl's default) becomes HVM: the guest needs a "
                 "kernel with virtio drivers in its initrd")


def _firmware(ctx: MapContext) -> None:
    for key in ("firmware", "bios"):
        value = ctx.settings.get_string(key)
        if value is None:
            continue
        if value in _UEFI:
            ctx.domain.os.firmware = "efi"
            ctx.changed(key, "os firmware='efi'", "UEFI (OVMF) on KVM")
        elif value in _BIOS:
            ctx.kept(key, "SeaBIOS, KVM's default firmware" if value != "rombios"
                     else "ROMBIOS does not exist on KVM; SeaBIOS boots the same disks")
        elif value.startswith("pvgrub"):
            ctx.dropped(key, "pv-grub reads the guest's menu.lst as a PV kernel; "
                        "KVM boots the bootloader in the disk image, which the "
                        "disk conversion installs")
        else:
            ctx.dropped(key, "a custom Xen firmware image; choose a KVM loader "
                        "(os/loader) by hand")


def _kernel(ctx: MapContext) -> None:
    boot, os = ctx.config.boot, ctx.domain.os
    direct = boot.kernel is not None and not boot.uses_pvgrub
    if boot.kernel is not None and not direct:
        ctx.dropped("kernel", "a pv-grub image: it reads the guest's menu.lst "
                    "as a PV kernel; KVM boots the bootloader in the disk image, "
                    "which the disk conversion installs")
    if direct:
        os.kernel = boot.kernel
        ctx.kept("kernel", "direct kernel boot")
        ctx.warn("kernel", f"{boot.kernel} must exist on the KVM host, and the "
                 "kernel needs virtio drivers (a Xen-only kernel will not boot)")
    if boot.ramdisk is not None:
        if direct:
            os.initrd = boot.ramdisk
            ctx.kept("ramdisk", "initrd of the direct kernel boot")
            ctx.warn("ramdisk", f"{boot.ramdisk} must exist on the KVM host and "
                     "hold the virtio drivers")
        else:
            ctx.dropped("ramdisk", "no direct kernel boot without kernel=")
    _command_line(ctx, direct)
    converted = bool(ctx.options.disk_images)  # the disk conversion installs GRUB
    if not direct and ctx.config.guest_type is not GuestType.HVM and not converted:
        ctx.warn("boot", "the guest was started by pygrub/pv-grub (or not at all): "
                 "KVM boots the disk's own bootloader, which a PV image usually "
                 "lacks; the disk conversion (xen2kvm without --config-only) "
                 "installs GRUB - until then this domain will not boot")


def _command_line(ctx: MapContext, direct: bool) -> None:
    boot = ctx.config.boot
    if boot.cmdline is None:
        return
    rewritten = rewrite_command_line(boot.cmdline, ctx.renames)
    keys = ["cmdline"] if ctx.is_set("cmdline") else [k for k in ("root", "extra")
                                                      if ctx.is_set(k)]
    if ctx.is_set("cmdline"):
        for ignored in ("root", "extra"):
            if ctx.is_set(ignored):
                ctx.dropped(ignored, "xl ignores it too, since cmdline= is set")
    if not direct:
        for key in keys:
            ctx.dropped(key, "kernel arguments for pygrub/pv-grub; put them in "
                        f"the guest's GRUB config, for KVM as: {rewritten}")
        return
    ctx.domain.os.cmdline = rewritten
    for key in keys:
        if rewritten != boot.cmdline:
            ctx.changed(key, rewritten, "disk and console names as KVM names them",
                        before=boot.cmdline)
        else:
            ctx.kept(key, "kernel command line")


def rewrite_command_line(cmdline: str, renames: dict[str, str]) -> str:
    """``cmdline`` with Xen disk names renamed and the console on ttyS0.

    ``renames`` maps source vdevs to KVM disks; a whole-disk rename also
    renames its partitions (``xvda`` → ``vda`` makes ``xvda2`` ``vda2``).
    """
    if renames:
        names = sorted(renames, key=len, reverse=True)
        pattern = re.compile(r"(?<!\w)(" + "|".join(map(re.escape, names)) + r")(\d*)(?!\w)")

        def rename(match: re.Match[str]) -> str:
            name, partition = match.groups()
            if partition and name[-1].isdigit():
                return match.group()    # xvda1 renamed, but this is xvda12
            return renames[name] + partition

        cmdline = pattern.sub(rename, cmdline)
    return _CONSOLE.sub(_KVM_CONSOLE, cmdline)


def _boot_order(ctx: MapContext) -> None:
    letters = ctx.settings.get_string("boot")
    default = "cd" if ctx.config.guest_type is GuestType.HVM else "c"
    devices = ctx.domain.devices
    first = {
        "c": next((d for d in devices if isinstance(d, Disk) and d.device == "disk"), None),
        "d": next((d for d in devices if isinstance(d, Disk) and d.device == "cdrom"), None),
        "n": next((d for d in devices if isinstance(d, Interface)), None),
    }
    order, chosen, skipped = 1, [], []
    for letter in dict.fromkeys(letters if letters is not None else default):
        device = first.get(letter)
        if device is None:
            skipped.append(letter)
            continue
        device.boot_order = order
        order += 1
        chosen.append(f"{_name(device)}={device.boot_order}")
    summary = ", ".join(chosen) or "none"
    if letters is None:
        if chosen:
            ctx.added("boot order", summary, f"xl's default boot order {default!r}")
        return
    if skipped:
        ctx.changed("boot", summary, f"no device for {''.join(skipped)!r} "
                    "(a: floppy, c: disk, d: cdrom, n: network)")
    else:
        ctx.kept("boot", f"per-device boot order {summary}")


def _name(device: Disk | Interface) -> str:
    return device.target_dev if isinstance(device, Disk) else f"interface {device.source}"
