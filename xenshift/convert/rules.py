"""What PV→HVM and PV→PVH do with each xl key: the rule table.

The converters take every decision about a key from here: a key with a
CHANGE action goes to the converter's handler for it, KEEP and DROP are
applied as they stand. The README's mapping table is generated from the
same table (with the libvirt column from
:mod:`xenshift.convert.libvirt.mapping`), so the documentation cannot drift
from the code.

Keys without an explicit rule follow the key catalog: a key xl.cfg(5)
documents only for other guest types is dropped, any other key is kept
(xl ignores unknown keys, so keeping them is harmless and loses nothing).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from xenshift.config import keys
from xenshift.config.model import GuestType


class Action(Enum):
    """What a conversion does with a key."""

    KEEP = "kept"
    DROP = "dropped"
    CHANGE = "changed"     # rewritten by the converter's handler
    ADD = "added"          # set by the converter when the source lacks it


@dataclass(frozen=True)
class Rule:
    """One key's treatment for one target, with the reason shown to users."""

    action: Action
    reason: str


@dataclass(frozen=True)
class KeyRules:
    """A key's rules for both Xen targets."""

    key: str
    hvm: Rule
    pvh: Rule


def _r(action: Action, reason: str) -> Rule:
    return Rule(action, reason)


_PV_BOOT_HVM = _r(Action.DROP, "PV boot: an HVM guest boots from the "
                               "bootloader on its own disk")
_KEEP_PVH_BOOT = _r(Action.KEEP, "PVH boots a PV-style kernel or bootloader "
                                 "(the kernel must support PVH)")

EXPLICIT: tuple[KeyRules, ...] = (
    KeyRules("type", _r(Action.CHANGE, "set to hvm"),
             _r(Action.CHANGE, "set to pvh")),
    KeyRules("builder", _r(Action.DROP, "deprecated; replaced by type"),
             _r(Action.DROP, "deprecated; replaced by type")),
    KeyRules("bootloader", _PV_BOOT_HVM, _KEEP_PVH_BOOT),
    KeyRules("bootloader_args", _PV_BOOT_HVM, _KEEP_PVH_BOOT),
    KeyRules("kernel", _PV_BOOT_HVM,
             _r(Action.CHANGE, "kept for direct boot (the kernel must "
                               "support PVH); GRUB 2's Xen PV image becomes "
                               "its PVH image, a legacy pv-grub kernel "
                               "bootloader=\"pygrub\"")),
    KeyRules("ramdisk", _PV_BOOT_HVM, _KEEP_PVH_BOOT),
    KeyRules("cmdline", _PV_BOOT_HVM, _KEEP_PVH_BOOT),
    KeyRules("root", _PV_BOOT_HVM, _KEEP_PVH_BOOT),
    KeyRules("extra", _PV_BOOT_HVM, _KEEP_PVH_BOOT),
    KeyRules("firmware",
             _r(Action.CHANGE, "pv-grub is PV boot and is dropped; bios/uefi "
                               "values are kept"),
             _r(Action.CHANGE, "pv-grub cannot start a PVH guest: becomes "
                               "bootloader=\"pygrub\"")),
    KeyRules("disk",
             _r(Action.CHANGE, "whole-disk xvdX become emulated hdX (sdX "
                               "with hdtype=\"ahci\") so the firmware can "
                               "boot them; partition vdevs cannot be "
                               "emulated"),
             _r(Action.KEEP, "PV disks, as before")),
    KeyRules("vif",
             _r(Action.CHANGE, "an emulated NIC model is added (default "
                               "e1000); MACs, bridges and rates kept"),
             _r(Action.CHANGE, "HVM-only model= and type=ioemu are removed")),
    KeyRules("vfb",
             _r(Action.CHANGE, "becomes the top-level vnc/sdl keys of the "
                               "emulated display"),
             _r(Action.DROP, "PVH has no device model to back a PV "
                             "framebuffer")),
    KeyRules("boot", _r(Action.ADD, "boot from disk (then cdrom if there is "
                                    "one)"),
             _r(Action.DROP, "HVM-only")),
    KeyRules("xen_platform_pci",
             _r(Action.ADD, "1: the guest's PV drivers take over the "
                            "emulated disks and NICs"),
             _r(Action.DROP, "HVM-only")),
    KeyRules("serial", _r(Action.ADD, "\"pty\": the console moves from "
                                      "hvc0 to the emulated ttyS0"),
             _r(Action.DROP, "HVM-only: the console stays hvc0")),
    KeyRules("hdtype", _r(Action.ADD, "\"ahci\" when asked for, so disks are "
                                      "sdX"),
             _r(Action.DROP, "HVM-only")),
    KeyRules("pci", _r(Action.KEEP, "passthrough works for HVM"),
             _r(Action.DROP, "Xen 4.17 has no PCI passthrough for PVH "
                             "guests")),
)

_EXPLICIT = {rules.key: rules for rules in EXPLICIT}


def _catalog_rule(key: str, target: GuestType) -> Rule:
    info = keys.lookup(key)
    if info is None:
        if key in keys.XM_ONLY_KEYS:
            return _r(Action.DROP, "an xm/xend key that xl ignores")
        return _r(Action.KEEP, "not an xl key; kept as written (xl ignores "
                               "it)")
    if target not in info.guest_types:
        types = "/".join(sorted(t.value.upper() for t in info.guest_types))
        return _r(Action.DROP, f"only meaningful for {types} guests")
    return _r(Action.KEEP, f"valid for {target.value.upper()}")


def rule_for(key: str, target: GuestType) -> Rule:
    """The rule for ``key`` when converting to ``target`` (HVM or PVH)."""
    explicit = _EXPLICIT.get(key)
    if explicit is not None:
        return explicit.hvm if target is GuestType.HVM else explicit.pvh
    return _catalog_rule(key, target)


def handled_keys(target: GuestType) -> set[str]:
    """Keys whose CHANGE or ADD rule a converter must implement."""
    return {r.key for r in EXPLICIT
            if rule_for(r.key, target).action in (Action.CHANGE, Action.ADD)}
