"""Reading a :class:`DomainConfig` out of a document, with xl's own rules.

The rules are those of xl's ``parse_config_data`` (Xen 4.17): ``type`` is
matched by prefix (``"h"`` and even ``""`` mean HVM), the deprecated
``builder`` may not contradict it, PV is the default, ``cmdline`` beats
``root``/``extra``, ``bootloader_args`` may be a (deprecated) string split
on blanks, and unknown ``on_*`` actions are errors. Every problem of a file
is collected and raised together.
"""

from __future__ import annotations

from typing import Callable

from xenshift.config import devices
from xenshift.config.document import Dialect, Document
from xenshift.config.model import (DomainConfig, GuestType, KernelBoot,
                                   Lifecycle, TypeSource)
from xenshift.config.settings import Settings
from xenshift.config.syntax import ListValue, Scalar
from xenshift.errors import ConfigError, ConfigErrors, Location
from xenshift.limits import devices_problem, vcpus_problem

ACTIONS = ("destroy", "restart", "rename-restart", "preserve",
           "coredump-destroy", "coredump-restart", "soft-reset")

# Device lists: key -> (DomainConfig field, parser of one item).
DEVICE_LISTS: dict[str, tuple[str, Callable]] = {
    "disk": ("disks", devices.parse_disk),
    "vif": ("vifs", devices.parse_vif),
    "pci": ("pcis", devices.parse_pci),
    "vfb": ("vfbs", devices.parse_vfb),
    "channel": ("channels", devices.parse_channel),
    "usbctrl": ("usbctrls", devices.parse_usbctrl),
    "usbdev": ("usbdevs", devices.parse_usbdev),
}

# Keys the model interprets; everything else lands in DomainConfig.other.
MODELLED_KEYS = frozenset({
    "name", "uuid", "type", "builder", "memory", "maxmem", "vcpus",
    "maxvcpus", "cpus", "kernel", "ramdisk", "cmdline", "root", "extra",
    "bootloader", "bootloader_args", "firmware", "on_poweroff", "on_reboot",
    "on_crash", "on_watchdog", "on_soft_reset", "serial", "vnuma",
    *DEVICE_LISTS,
})


def match_guest_type(text: str) -> GuestType | None:
    """xl's ``type=`` matching: the value is a prefix of hvm, pv or pvh.

    The order matters as in xl: ``""`` and ``"h"`` are HVM, ``"p"`` and
    ``"pv"`` are PV, only ``"pvh"`` is PVH.
    """
    for candidate in (GuestType.HVM, GuestType.PV, GuestType.PVH):
        if candidate.value.startswith(text):
            return candidate
    return None


def match_builder(text: str) -> GuestType | None:
    """The deprecated ``builder=``: a prefix of ``hvm`` or ``generic`` (PV)."""
    if "hvm".startswith(text):
        return GuestType.HVM
    if "generic".startswith(text):
        return GuestType.PV
    return None


class _Builder:
    """Collects the typed view and every error found on the way."""

    def __init__(self, doc: Document):
        self.doc = doc
        self.settings: Settings = doc.settings
        self.errors: list[ConfigError] = []
        self.warnings: list[ConfigError] = []

    def at(self, key: str) -> Location:
        return self.settings.location(key)

    def guarded(self, getter: Callable, key: str):
        """A typed lookup whose error is recorded instead of raised."""
        try:
            return getter(key)
        except ConfigError as err:
            self.errors.append(err)
            return None

    def string(self, key: str) -> str | None:
        return self.guarded(self.settings.get_string, key)

    def number(self, key: str) -> int | None:
        # xl warns about a number it cannot read and carries on without it.
        try:
            return self.settings.get_long(key)
        except ConfigError as err:
            self.warnings.append(ConfigError(
                f"{err.message}; xl ignores it", err.location))
            return None

    def vcpu_count(self, key: str) -> int | None:
        count = self.number(key)
        too_many = vcpus_problem(count or 0, key)
        if too_many is not None:
            self.errors.append(ConfigError(too_many, self.at(key)))
            return None
        return count

    def guest_type(self) -> tuple[GuestType, TypeSource]:
        found: tuple[GuestType, TypeSource] | None = None
        text = self.string("type")
        if text is not None:
            kind = match_guest_type(text)
            if kind is None:
                self.errors.append(ConfigError(
                    f"invalid guest type {text!r}: xl accepts \"pv\", "
                    "\"pvh\" and \"hvm\"", self.at("type")))
            else:
                found = (kind, TypeSource.TYPE)
        builder = self.string("builder")
        if builder is not None:
            kind = match_builder(builder)
            if kind is None and builder == "linux" and \
                    self.doc.dialect is Dialect.XM:
                kind = GuestType.PV  # xend's name for the PV builder
            if kind is None:
                self.errors.append(ConfigError(
                    f"invalid builder {builder!r}: xl accepts \"hvm\" and "
                    "\"generic\" (and prefers type=)", self.at("builder")))
            elif found is not None and found[0] is not kind:
                self.errors.append(ConfigError(
                    f"builder={builder!r} contradicts type={text!r}; xl "
                    "refuses the file", self.at("builder")))
            elif found is None:
                found = (kind, TypeSource.BUILDER)
        return found or (GuestType.PV, TypeSource.DEFAULT)

    def kernel_boot(self) -> KernelBoot:
        cmdline = self.string("cmdline")
        root = self.string("root")
        extra = self.string("extra")
        if cmdline is not None and (root is not None or extra is not None):
            self.warnings.append(ConfigError(
                "xl ignores root= and extra= because cmdline= is set",
                self.at("cmdline")))
        effective = cmdline
        if effective is None and root is not None:
            effective = f"root={root}" + (f" {extra}" if extra is not None else "")
        elif effective is None:
            effective = extra
        return KernelBoot(
            kernel=self.string("kernel"), ramdisk=self.string("ramdisk"),
            cmdline=effective, root=root, extra=extra,
            bootloader=self.string("bootloader"),
            bootloader_args=self.bootloader_args(),
            firmware=self.string("firmware"))

    def bootloader_args(self) -> tuple[str, ...]:
        setting = self.settings.get("bootloader_args")
        if setting is None:
            return ()
        if isinstance(setting.value, Scalar):
            # The deprecated string form, which xl splits on blanks.
            return tuple(setting.value.text.split())
        items = self.guarded(self.settings.get_string_list, "bootloader_args")
        return tuple(i.text for i in items or ())

    def lifecycle(self) -> Lifecycle:
        values = {}
        for field_name in ("on_poweroff", "on_reboot", "on_crash",
                           "on_watchdog", "on_soft_reset"):
            action = self.string(field_name)
            if action is None:
                continue
            if action not in ACTIONS:
                self.errors.append(ConfigError(
                    f"unknown {field_name} action {action!r}: xl accepts "
                    + ", ".join(ACTIONS), self.at(field_name)))
                continue
            values[field_name] = action
        return Lifecycle(**values)

    def cpus(self) -> str | list[str] | None:
        setting = self.settings.get("cpus")
        if setting is None:
            return None
        if isinstance(setting.value, Scalar):
            return setting.value.text
        items = self.guarded(self.settings.get_string_list, "cpus")
        return [i.text for i in items or ()]

    def device_list(self, key: str, parse: Callable) -> list:
        items = self.guarded(self.settings.get_string_list, key) or []
        too_many = devices_problem(len(items), key)
        if too_many is not None:
            self.errors.append(ConfigError(too_many, self.at(key)))
            return []
        specs = []
        for item in items:
            where = Location(self.doc.path, item.line, item.column)
            try:
                spec = parse(item.text, where)
                if key == "disk":
                    # libxl refuses a vdev it cannot decode when it builds
                    # the domain; say so here, where the disk is written.
                    devices.parse_vdev(spec.vdev, where)
                specs.append(spec)
            except ConfigError as err:
                self.errors.append(err)
        return specs

    def xm_cdrom(self, guest_type: GuestType, disks: list) -> list:
        """xm's ``cdrom = "PATH"`` of an HVM guest, as the disk it was.

        xend handed the path to qemu-dm as its ``-cdrom``: the IDE
        secondary master, ``hdc``.  xl has no such key, so without this the
        CD-ROM would vanish in conversion.  Many xm-era files also read as
        xl, so the key counts in either dialect.
        """
        if guest_type is not GuestType.HVM:
            return []
        path = self.string("cdrom")
        if not path:
            return []
        if any(disk.vdev == "hdc" for disk in disks):
            self.warnings.append(ConfigError(
                "cdrom= left out: a disk of disk= already sits on hdc, where "
                "xend put the CD-ROM", self.at("cdrom")))
            return []
        return [devices.parse_disk(f"format=raw,vdev=hdc,access=r,devtype=cdrom,"
                                   f"target={path}", self.at("cdrom"))]

    def serials(self) -> list:
        setting = self.settings.get("serial")
        if setting is None:
            return []
        values = [setting.value] if isinstance(setting.value, Scalar) \
            else setting.value.items
        specs = []
        for item in values:
            if not isinstance(item, Scalar):
                self.errors.append(ConfigError(
                    "serial has a nested list where a device string is "
                    "expected", Location(self.doc.path, item.line, item.column)))
                continue
            try:
                specs.append(devices.parse_serial(
                    item.text, Location(self.doc.path, item.line, item.column)))
            except ConfigError as err:
                self.errors.append(err)
        return specs

    def vnuma(self) -> list:
        value = self.guarded(self.settings.get_list, "vnuma")
        if value is None:
            return []
        nodes = []
        for node in value.items:
            where = Location(self.doc.path, node.line, node.column)
            if not isinstance(node, ListValue) or not all(
                    isinstance(item, Scalar) for item in node.items):
                self.errors.append(ConfigError(
                    "each vnuma node must be a list of \"key=value\" "
                    "strings", where))
                return []
            nodes.append([item.text for item in node.items])
        try:
            return list(devices.parse_vnuma(nodes, self.at("vnuma")))
        except ConfigError as err:
            self.errors.append(err)
            return []


def build_domain(doc: Document) -> DomainConfig:
    """The typed view of a readable document.

    Raises :class:`ConfigErrors` with the document's syntax errors, or with
    every semantic error (bad numbers, types, actions, device specs).
    """
    doc.check()
    b = _Builder(doc)
    guest_type, type_source = b.guest_type()
    name = b.string("name")
    if name is None:
        b.errors.append(ConfigError("the domain has no name= (xl requires one)",
                                    Location(doc.path, 1, 1)))
    devices_of = {field: b.device_list(key, parse)
                  for key, (field, parse) in DEVICE_LISTS.items()}
    devices_of["disks"] += b.xm_cdrom(guest_type, devices_of["disks"])
    config = DomainConfig(
        document=doc, name=name, uuid=b.string("uuid"),
        guest_type=guest_type, type_source=type_source,
        memory=b.number("memory"), maxmem=b.number("maxmem"),
        vcpus=b.vcpu_count("vcpus"), maxvcpus=b.vcpu_count("maxvcpus"),
        cpus=b.cpus(), boot=b.kernel_boot(), lifecycle=b.lifecycle(),
        serials=b.serials(), vnuma=b.vnuma(),
        **devices_of,
        other={s.key: s for s in doc.settings if s.key not in MODELLED_KEYS},
        warnings=b.warnings)
    if b.errors:
        raise ConfigErrors(sorted(b.errors, key=_position))
    return config


def _position(err: ConfigError) -> tuple[int, int]:
    loc = err.location
    return ((loc.line or 0) if loc else 0, (loc.column or 0) if loc else 0)

