"""Per-target verdicts: can this guest run as Xen HVM, Xen PVH, or on KVM?

Pure functions of :class:`GuestFacts`. Each finding says what is in the
way and what conversion will do about it; a blocking finding is one
conversion cannot fix by itself (the user must act first, e.g. install a
regular kernel). ``ready`` means the guest boots on the target unchanged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Literal

from xenshift.inspect.digits import small_int
from xenshift.inspect.facts import GuestFacts
from xenshift.inspect.kernels import Kernel, regular_kernel_package

Target = Literal["hvm", "pvh", "kvm"]
TARGETS: tuple[Target, ...] = ("hvm", "pvh", "kvm")
Status = Literal["ready", "needs-changes", "blocked"]

# Drivers each target's initrd must hold (unless built into the kernel):
# KVM's virtio disk/NIC; an HVM guest's emulated IDE/AHCI disk until the
# Xen PV drivers take over; a PVH guest has only the PV devices.
INITRD_DRIVERS: dict[Target, tuple[str, ...]] = {
    "kvm": ("virtio_blk", "virtio_scsi", "virtio_pci", "virtio_net"),
    "hvm": ("ata_piix", "ahci", "xen_blkfront", "xen_netfront"),
    "pvh": ("xen_blkfront", "xen_netfront"),
}
# Drivers the chosen kernel needs per target, and whether lacking one
# blocks (without virtio_net a KVM guest still boots, on an e1000 NIC).
KERNEL_DRIVERS: dict[Target, tuple[tuple[str, bool], ...]] = {
    "kvm": (("virtio_blk", True), ("virtio_net", False)),
    "hvm": (),
    "pvh": (("xen_blkfront", True),),
}
# An HVM guest boots from its emulated disk or, once unplugged, the PV one.
HVM_DISK_DRIVERS = ("ata_piix", "ahci", "xen_blkfront")
# How many examples a message lists before "and N more".
_EXAMPLES = 3


@dataclass(frozen=True)
class Finding:
    """One reason the guest is not ready as it is; ``code`` is stable."""

    code: str
    message: str
    blocking: bool = False


@dataclass(frozen=True)
class Verdict:
    """The readiness of a guest for one target, with its reasons."""

    target: Target
    status: Status
    findings: tuple[Finding, ...]


def _examples(items: list[str]) -> str:
    shown = ", ".join(items[:_EXAMPLES])
    more = len(items) - _EXAMPLES
    return shown + (f" and {more} more" if more > 0 else "")


def _version_key(kernel: Kernel) -> list:
    # Digit runs sort as numbers; one too long to be a version part sorts last.
    return [p if not p.isdigit() else (n if (n := small_int(p)) is not None else 10 ** 18)
            for p in re.split(r"(\d+)", kernel.version)]


def choose_kernel(facts: GuestFacts, target: Target) -> Kernel | None:
    """The kernel the converted guest should boot on ``target``.

    A bootable non-PV-only kernel (with PVH support for ``pvh``): the
    default entry's if it qualifies, else for KVM one with virtio_net
    first, then the highest version.
    """
    usable = [k for k in facts.boot_kernels() if not k.pv_only
              and (target != "pvh" or k.pvh is not False)]
    default = facts.default_kernel()
    if default in usable:
        return default
    if not usable:
        return None
    return max(usable, key=lambda k: (target != "kvm" or k.supports("virtio_net"),
                                      _version_key(k)))


def _kernels(facts: GuestFacts, target: Target) -> list[Finding]:
    boot = facts.boot_kernels()
    if not boot:
        return [Finding("no-kernel", "no kernel found in /boot", True)]
    if all(k.pv_only for k in boot):
        names = _examples([f"{k.package or k.version}" for k in boot])
        return [Finding("pv-only-kernels",
                        f"only PV-only Xen kernels ({names}): install "
                        f"{regular_kernel_package(facts.os.distro)} in the guest first", True)]
    chosen = choose_kernel(facts, target)
    if chosen is None:  # only PVH is left to fail here
        return [Finding("no-pvh-kernel", "no kernel is built with CONFIG_XEN_PVH=y", True)]
    findings = []
    if target == "pvh" and chosen.pvh is None:
        findings.append(Finding("pvh-unknown", f"kernel {chosen.version} has no config in "
                                "/boot to tell whether it supports PVH"))
    default = facts.default_kernel()
    if default is not chosen:
        findings.append(Finding("default-kernel", f"the default boot entry does not start "
                                f"kernel {chosen.version}: it will be made the default"))
    if target == "hvm" and not any(chosen.supports(d) for d in HVM_DISK_DRIVERS):
        findings.append(Finding("no-disk-driver", f"kernel {chosen.version} has none of "
                                f"{', '.join(HVM_DISK_DRIVERS)}", True))
    for driver, blocking in KERNEL_DRIVERS[target]:
        if not chosen.supports(driver):
            findings.append(Finding(f"no-{driver}", f"kernel {chosen.version} has no "
                                    f"{driver} driver", blocking))
    return findings


def _disk_boot(facts: GuestFacts, target: Target) -> list[Finding]:
    if target == "pvh" or facts.layout is None:
        return []  # PVH boots through pygrub/pvgrub; a tree has no disks
    boot_device = facts.os.mountpoints.get("/boot") or facts.os.root or ""
    disk = facts.layout.disk_holding(boot_device) or facts.layout.disks[0]
    findings = []
    install = True
    if disk.filesystem is not None:
        findings.append(Finding("partitionless", f"{disk.device} holds {disk.filesystem.fstype} "
                                "directly, with no partition table: it will be copied to a "
                                "partitioned disk a BIOS can boot"))
    elif disk.boot_code == "none":
        findings.append(Finding("no-boot-code", f"no boot code in the MBR of {disk.device} "
                                "(pygrub booted it from the host): GRUB will be installed"))
    elif disk.boot_code == "other":
        findings.append(Finding("foreign-boot-code", f"the MBR of {disk.device} holds boot "
                                "code that is not GRUB's: GRUB will replace it"))
    else:
        install = False
    if install and disk.partition_table == "gpt" and not any(p.bios_boot for p in disk.partitions):
        findings.append(Finding("no-bios-boot-partition", f"{disk.device} is GPT without a "
                                "BIOS boot partition for GRUB's core image", True))
    if install and not any(p.endswith("/i386-pc") for p in facts.bootloader.platforms):
        findings.append(Finding("no-grub-modules", "GRUB's BIOS modules (i386-pc) are not "
                                "installed in the guest: install grub-pc-bin (Debian) or "
                                "grub2-i386-pc (SUSE)", True))
    mkconfig = {"grub-mkconfig", "grub2-mkconfig"} & set(facts.bootloader.tools)
    if facts.bootloader.kind is None and not mkconfig:
        findings.append(Finding("no-bootloader-config", "no bootloader config and no "
                                "grub-mkconfig in the guest", True))
    return findings


def _device_names(facts: GuestFacts, target: Target) -> list[Finding]:
    if target == "pvh":
        return []  # the same PV block devices keep their xvd names
    named = facts.storage.of_kind("xen", "disk")
    findings = []
    if named:
        where = _examples([f"{r.file}:{r.line} {r.spec}" for r in named])
        fix = ("renamed to vdX" if target == "kvm" else
               "made UUID=/LABEL= (the disk is sdX/hdX before the PV drivers load, xvdX after)")
        findings.append(Finding("device-names", f"{len(named)} references by device name "
                                f"({where}) will be {fix}"))
    by_bus = facts.storage.of_kind("by-id", "by-path")
    if by_bus:
        findings.append(Finding("bus-device-links", "references by bus-specific link ("
                                + _examples([f"{r.file}:{r.line} {r.spec}" for r in by_bus])
                                + ") change with the disk bus: they will be made UUID="))
    return findings


def _console(facts: GuestFacts, target: Target) -> list[Finding]:
    console = facts.console
    uses = console.xen_console_uses()
    if target == "pvh":
        xvc = [u for u in uses if "xvc0" in u]
        return [Finding("xvc0-console", f"xvc0 is the xenlinux console name ({_examples(xvc)}): "
                        "a pvops PVH guest has hvc0")] if xvc else []
    findings = []
    if uses:
        findings.append(Finding("xen-console", f"Xen console in {_examples(uses)}: it becomes "
                                "ttyS0 (tty0 kept)"))
    elif not console.serial_console:
        findings.append(Finding("no-serial-console", "no console=ttyS0 on the kernel command "
                                "line: it will be added"))
    ttys = {e.tty for e in console.securetty}
    if ttys and "ttyS0" not in ttys:
        findings.append(Finding("securetty", "/etc/securetty lacks ttyS0: it will be added"))
    return findings


def _initrd(facts: GuestFacts, target: Target) -> list[Finding]:
    kernel = choose_kernel(facts, target)
    if kernel is None:
        return []
    wanted = [d for d in INITRD_DRIVERS[target] if kernel.drivers.get(d) == "module"]
    image = facts.initrd.image_for(kernel.version)
    tool = facts.initrd.tool
    if image is None:
        problem = f"kernel {kernel.version} has no initrd"
    elif image.problem:
        problem = image.problem
    else:
        missing = [d for d in wanted if d not in image.drivers]
        problem = f"{image.path} lacks {', '.join(missing)}" if missing else None
    if problem is None or not wanted:
        return []
    if tool is None:
        return [Finding("no-initrd-tool", f"{problem}, and the guest has no initrd tool "
                        "(dracut, update-initramfs, mkinitrd)", True)]
    return [Finding("initrd-drivers", f"{problem}: it will be rebuilt with {tool}")]


def _network(facts: GuestFacts, target: Target) -> list[Finding]:
    if target != "kvm" or not facts.network.predictable_names:
        return []  # a Xen netfront NIC keeps its kernel name
    unpinned = facts.network.unpinned_kernel_names()
    if not unpinned:
        return []
    names = _examples([f"{c.name} ({c.file}:{c.line})" for c in unpinned])
    return [Finding("nic-rename", f"{names} configured by kernel name: predictable naming "
                    "renames a virtio NIC, so the name will be pinned to its MAC")]


def _xen_only(facts: GuestFacts, target: Target) -> list[Finding]:
    if target != "kvm" or not facts.xen:
        return []
    items = ([p.name for p in facts.xen.packages] +
             [f"{a.file}:{a.line} alias {a.alias} {a.module}" for a in facts.xen.modprobe_aliases] +
             [f"{s.file}:{s.line}" for s in facts.xen.scripts])
    return [Finding("xen-leftovers", f"Xen-only software ({_examples(items)}) will be "
                    "neutralised")]


def _selinux(facts: GuestFacts, target: Target) -> list[Finding]:
    if target == "pvh" or facts.os.selinux not in ("enforcing", "permissive"):
        return []
    return [Finding("selinux-relabel", f"SELinux is {facts.os.selinux}: changed files "
                    "will be relabelled")]


CHECKS: tuple[Callable[[GuestFacts, Target], list[Finding]], ...] = (
    _kernels, _disk_boot, _device_names, _console, _initrd, _network, _xen_only, _selinux)


def verdict(facts: GuestFacts, target: Target) -> Verdict:
    """The readiness of the guest for ``target``."""
    findings = tuple(f for check in CHECKS for f in check(facts, target))
    status: Status = ("blocked" if any(f.blocking for f in findings)
                      else "needs-changes" if findings else "ready")
    return Verdict(target, status, findings)


def assess(facts: GuestFacts) -> dict[Target, Verdict]:
    """Verdicts for every target."""
    return {t: verdict(facts, t) for t in TARGETS}
