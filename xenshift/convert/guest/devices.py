"""Device names: every place the guest names a disk, renamed for the target.

fstab, crypttab, ``root=``/``resume=`` on kernel command lines (bootloader
configs, ``/etc/default/grub``, SUSE's ``/etc/sysconfig/bootloader``),
``device.map`` and other settings in those files and
``/etc/sysconfig/grub`` (``boot=/dev/xvda``) name disks ``xvdX`` under Xen
PV. On KVM the same disk is
``vdX`` (or ``sdX`` on SATA), as the config conversion numbered it. On Xen
HVM it is ``hdX``/``sdX`` while the emulated controller serves it and
``xvdX`` once the PV drivers take over, so a name would be wrong half the
time: references become ``UUID=`` (``LABEL=`` without a UUID). References
by UUID, label or LVM name are left alone: they hold on every target.
"""

from __future__ import annotations

import re

from xenshift.convert.guest.context import PlanContext
from xenshift.convert.guest.draft import replace_word
from xenshift.convert.guest.layout import partition_device
from xenshift.inspect.bootloader import DEFAULT_GRUB, SYSCONFIG_BOOTLOADER, SYSCONFIG_GRUB

CONCERN = "devices"
# How long systemd waits for a disk the config does not give.
DEVICE_TIMEOUT = "10s"
_XEN_DEVICE = re.compile(r"^/dev/(xvd[a-z]+)(\d*)$")
_XEN_WORD = re.compile(r"(?<![^\s\"'=])/dev/xvd[a-z]+\d*(?![^\s\"',])")
# Settings files that may name disks outside kernel command lines.
SETTINGS_FILES = (DEFAULT_GRUB, SYSCONFIG_BOOTLOADER, SYSCONFIG_GRUB)
_HVM_REASON = ("the disk is hdX/sdX while emulated and xvdX once the PV drivers "
               "load: UUID= names it either way")


def _kvm_spec(ctx: PlanContext, spec: str) -> tuple[str | None, str]:
    match = _XEN_DEVICE.match(spec)
    if not match:
        return None, "not a Xen disk name"
    names = ctx.request.disk_names
    whole = spec[len("/dev/"):]
    if whole in names:
        # A partition vdev (xvda1) given to the guest as a disk of its own.
        vdev, partition = whole, partition_device(ctx, whole)
    else:
        vdev, partition = match.groups()
        partition = partition or partition_device(ctx, vdev)
    new = names.get(vdev)
    if new is None:
        return None, f"{vdev} is not a disk of the config"
    return f"/dev/{new}{partition}", f"{vdev} is {new} on KVM"


def _hvm_spec(ctx: PlanContext, spec: str) -> tuple[str | None, str]:
    layout = ctx.facts.layout
    if layout is None:
        return None, "no disk was inspected to learn its UUID"
    fs = layout.filesystem_of(spec)
    if fs is not None and fs.uuid:
        return f"UUID={fs.uuid}", _HVM_REASON
    if fs is not None and fs.label:
        return f"LABEL={fs.label}", _HVM_REASON
    return None, "no file system with a UUID or label on it"


def _settings_words(ctx: PlanContext, rename, left: list[str]) -> None:
    """Xen disk names in settings files that are no kernel argument
    (``boot=/dev/xvda`` in /etc/sysconfig/grub, ``GRUB_DEVICE=``, ...)."""
    for path in SETTINGS_FILES:
        text = ctx.draft.text(path)
        if text is None or ctx.is_regenerated(path):
            continue
        for number, line in enumerate(text.splitlines(), start=1):
            if line.lstrip().startswith("#"):
                continue
            for spec in dict.fromkeys(_XEN_WORD.findall(line)):
                new, reason = rename(ctx, spec)
                if new is None:
                    left.append(f"{path}:{number} {spec} ({reason})")
                    continue
                line = replace_word(line, spec, new)
                ctx.draft.replace_line(CONCERN, path, number, line, f"{spec}: {reason}")


def _absent(ctx: PlanContext, spec: str) -> bool:
    """Whether ``spec`` is a Xen disk (or partition) the config does not give."""
    match = _XEN_DEVICE.match(spec)
    vdevs = ctx.request.vdevs
    return bool(match and vdevs) and spec[len("/dev/"):] not in vdevs \
        and match.group(1) not in vdevs


def _not_waited_for(ctx: PlanContext, line: int, spec: str) -> None:
    """Mark the fstab line of an absent disk ``nofail``.

    Without it the converted guest waits 90 s for the device at boot
    (systemd's "Timed out waiting for device"), and a file system on it
    fails local-fs.target.
    """
    options = ["nofail"]
    if ctx.facts.console.uses_systemd:
        options.append(f"x-systemd.device-timeout={DEVICE_TIMEOUT}")
    text = ctx.draft.line("/etc/fstab", line)
    body = text.split("#", 1)[0]
    fields = list(re.finditer(r"\S+", body))
    if len(fields) >= 4:
        have = fields[3].group().split(",")
        names = {h.split("=")[0] for h in have}
        merged = ",".join(have + [o for o in options if o.split("=")[0] not in names])
        new = text[:fields[3].start()] + merged + text[fields[3].end():]
    else:  # fstab's defaults for the missing fields
        missing = ["none", "auto", "defaults"][len(fields) - 1:]
        new = body.rstrip() + " " + " ".join(missing[:-1] + [",".join(["defaults", *options])])
    ctx.draft.replace_line(CONCERN, "/etc/fstab", line, new,
                           f"{spec} is not a disk of the config: the guest "
                           f"boots without waiting for it ({', '.join(options)})")


def plan(ctx: PlanContext) -> None:
    """Rename device references for the target."""
    rename = _kvm_spec if ctx.target == "kvm" else _hvm_spec
    left: list[str] = []
    for ref in ctx.facts.storage.of_kind("xen", "disk"):
        if ctx.is_regenerated(ref.file):
            continue
        if ref.file == "/etc/fstab" and _absent(ctx, ref.spec):
            _not_waited_for(ctx, ref.line, ref.spec)
            continue
        new, reason = rename(ctx, ref.spec)
        if new is None:
            left.append(f"{ref.file}:{ref.line} {ref.spec} ({reason})")
            continue
        line = ctx.draft.line(ref.file, ref.line)
        ctx.draft.replace_line(CONCERN, ref.file, ref.line,
                               replace_word(line, ref.spec, new),
                               f"{ref.origin}: {reason}")
    _settings_words(ctx, rename, left)
    if left:
        ctx.warn(CONCERN, "device names left as they are: " + "; ".join(left))
