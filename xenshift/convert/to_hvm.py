"""PV → HVM on Xen: the xl config of a fully virtualized guest.

An HVM guest boots through emulated firmware, which sees only emulated
disks: whole-disk ``hd*`` (IDE, or AHCI with ``hdtype="ahci"``) and ``sd*``
vdevs. So the first four whole disks are renamed to ``hdX`` (the guest's PV
drivers still take them over, since ``xen_platform_pci=1``); a partition
vdev such as ``xvda1`` cannot be emulated at all, and a guest that boots
from one needs its disk layout changed first. The NICs get an emulated
model, the console moves to an emulated serial port, and a PV framebuffer
becomes the emulated display's VNC/SDL keys.
"""

from __future__ import annotations

from dataclasses import dataclass

from xenshift.config.devices import DiskSpec, parse_vif
from xenshift.config.devices.disk import with_vdev
from xenshift.config.devices.keyvalue import with_item
from xenshift.config.devices.vdev import disk_letters
from xenshift.config.model import DomainConfig, GuestType
from xenshift.convert.boot_disk import boot_disk
from xenshift.convert.retarget import ConversionError, Retarget, XenConversion
from xenshift.convert.rules import rule_for

NIC_MODELS = ("e1000", "rtl8139")
HD_SLOTS = 4


@dataclass(frozen=True)
class HvmOptions:
    """Choices an admin makes for PV → HVM."""

    nic_model: str = "e1000"
    hdtype: str = "ide"          # "ide" or "ahci"
    keep_xvd: bool = False       # PV-on-HVM: leave xvd names alone
    # The guest's disks are converted too: a boot disk given as a partition
    # vdev (xvda1) is then rebuilt as a partitioned whole disk.
    rebuilds_disks: bool = False


def _plan_vdevs(disks: list[DiskSpec], keep_xvd: bool,
                rebuilt: DiskSpec | None = None) -> dict[int, str]:
    """New vdev per disk index (only for disks that change).

    Disks already on hd/sd keep their slots; xvd disks take the hd slot of
    the same letter when free, else the next free one, in order.  A
    partition vdev being ``rebuilt`` as a whole disk takes the first free
    slot before all others, so that the firmware boots it.
    """
    taken = {d.vdev_info.disk for d in disks
             if d.vdev_info.family == "hd" and d.vdev_info.disk is not None}
    plan = {}
    if rebuilt is not None:
        slot = next((s for s in range(HD_SLOTS) if s not in taken), None)
        if slot is None:
            raise ConversionError(f"{rebuilt.vdev} is the boot disk, but all "
                                  f"{HD_SLOTS} emulated disk slots are taken")
        taken.add(slot)
        plan[disks.index(rebuilt)] = f"hd{disk_letters(slot)}"
    if keep_xvd:
        return plan
    for i, disk in enumerate(disks):
        info = disk.vdev_info
        if info.family != "xvd" or not info.is_whole_disk or i in plan:
            continue
        slot = info.disk if info.disk < HD_SLOTS and info.disk not in taken \
            else next((s for s in range(HD_SLOTS) if s not in taken), None)
        if slot is None:
            continue
        taken.add(slot)
        plan[i] = f"hd{disk_letters(slot)}"
    return plan


class _ToHvm(Retarget):
    def __init__(self, config: DomainConfig, options: HvmOptions):
        super().__init__(config, GuestType.HVM)
        self.options = options

    def handlers(self):
        return {
            "type": self.type, "firmware": self.firmware, "disk": self.disk,
            "vif": self.vif, "vfb": self.vfb, "boot": self.boot,
            "xen_platform_pci": self.platform_pci, "serial": self.serial,
            "hdtype": self.hdtype,
        }

    def type(self) -> None:
        self.drop("builder", rule_for("builder", GuestType.HVM).reason)
        self.set("type", "hvm", "the guest runs fully virtualized",
                 after="name")

    def firmware(self) -> None:
        value = self.doc.settings.get_string("firmware")
        if value is None:
            return
        if value.startswith("pvgrub"):
            self.drop("firmware", "pv-grub is PV boot; HVM boots from the "
                                  "disk's own bootloader")
        else:
            self.report.kept("firmware", "an HVM firmware choice", value)

    def disk(self) -> None:
        items = self.doc.settings.get_string_list("disk") or []
        disks = self.config.disks
        if not disks:
            raise ConversionError(
                f"{self.config.path}: {self.config.name} has no disks; an HVM "
                "guest boots from a disk (this one boots its kernel from the "
                "host, which only PV and PVH can do)")
        rebuilt = self._partition_boot_disk()
        bootable = [d for d in disks if d.vdev_info.is_whole_disk
                    and not d.is_cdrom]
        if not bootable and rebuilt is None:
            parts = ", ".join(d.vdev for d in disks)
            raise ConversionError(
                f"{self.config.path}: disks {parts} are partitions of virtual "
                "disks (vdevs like xvda1); HVM firmware boots only whole "
                "disks, so this guest needs a disk-layout change first: "
                "declare a root file-system image as a whole disk (xvda) and "
                "xen2hvm without --config-only rebuilds it as a partitioned "
                "disk; several partition images must be merged into one "
                "partitioned disk beforehand")
        plan = _plan_vdevs(disks, self.options.keep_xvd, rebuilt)
        texts = []
        for i, (disk, item) in enumerate(zip(disks, items)):
            info = disk.vdev_info
            if disk is rebuilt:
                texts.append(with_vdev(item.text, disk, plan[i]))
                self.report.warn(f"disk {disk.vdev}", f"the boot disk, a partition vdev: "
                                 f"its image is rebuilt as a partitioned whole disk "
                                 f"({plan[i]}) that the firmware boots")
            elif i in plan:
                texts.append(with_vdev(item.text, disk, plan[i]))
            else:
                texts.append(item.text)
                if info.family == "xvd" and not info.is_whole_disk:
                    self.report.warn(f"disk {disk.vdev}", "a partition vdev "
                                     "cannot be emulated: the guest sees it "
                                     "only once its PV drivers load")
                elif info.family == "xvd" and not self.options.keep_xvd:
                    self.report.warn(f"disk {disk.vdev}", "no emulated disk "
                                     "slot left (IDE has four): the guest "
                                     "sees it only through its PV drivers")
        if plan:
            renames = ", ".join(f"{disks[i].vdev}->{new}" for i, new in plan.items())
            self.set_items("disk", texts, f"emulated disks the firmware can boot "
                                    f"({renames}); the guest's PV drivers "
                                    "take them over as before")
        else:
            self.report.kept("disk", "vdevs unchanged"
                             + (" (--keep-xvd)" if self.options.keep_xvd else ""),
                             self.source_text("disk"))

    def _partition_boot_disk(self) -> DiskSpec | None:
        """The boot disk when it is a partition vdev, to be rebuilt whole.

        Without its disks converted, no firmware could boot such a guest:
        refused, naming the disk, rather than booting another disk.
        """
        boot = boot_disk(self.config)
        if boot is None or boot.vdev_info.is_whole_disk:
            return None
        if not self.options.rebuilds_disks:
            raise ConversionError(
                f"{self.config.path}: {self.config.name} boots from {boot.vdev}, a "
                "partition vdev, and HVM firmware boots only whole disks: convert "
                "it with its disks into new images (without --config-only or "
                f"--in-place), which rebuilds {boot.vdev} as a partitioned whole disk")
        return boot

    def vif(self) -> None:
        items = self.doc.settings.get_string_list("vif") or []
        texts = []
        changed = False
        for item in items:
            spec = parse_vif(item.text)
            text = item.text
            if spec.type == "vif" or spec.ignored_type:
                text = with_item(text, "type", None)
            if spec.model is None:
                text = with_item(text, "model", self.options.nic_model)
            changed |= text != item.text
            texts.append(text)
        if changed:
            self.set_items("vif", texts, f"emulated {self.options.nic_model} NICs "
                                   "(PV drivers take over); MACs, bridges "
                                   "and rates kept")
        elif items:
            self.report.kept("vif", "NICs already have a model",
                             self.source_text("vif"))

    def vfb(self) -> None:
        vfbs = self.config.vfbs
        if not vfbs:
            return
        first = vfbs[0]
        self.drop("vfb", "a PV framebuffer; the emulated display takes its "
                         "settings (below)")
        for extra in vfbs[1:]:
            self.report.dropped("vfb", str(extra), "HVM has one emulated "
                                                   "display; only the first "
                                                   "vfb is kept")
        for key in ("vnc", "vnclisten", "vncdisplay", "vncunused",
                    "vncpasswd", "sdl", "opengl", "display", "xauthority",
                    "keymap"):
            value = getattr(first, key)
            if value is not None and key not in self.doc.settings:
                self.set(key, int(value) if isinstance(value, bool) else value,
                         "from the PV framebuffer")

    def boot(self) -> None:
        if "boot" in self.doc.settings:
            self.report.kept("boot", "set by the source", self.source_text("boot"))
            return
        has_cdrom = any(d.is_cdrom for d in self.config.disks)
        self.set("boot", "cd" if has_cdrom else "c",
                 "boot from disk" + (", then cdrom" if has_cdrom else ""))

    def platform_pci(self) -> None:
        value = self.doc.settings.get_string("xen_platform_pci")
        if value is None:
            self.set("xen_platform_pci", 1, rule_for(
                "xen_platform_pci", GuestType.HVM).reason)
        elif value == "0":
            self.report.warn("xen_platform_pci", "0 disables the guest's PV "
                                                 "drivers: emulated devices "
                                                 "only")
        else:
            self.report.kept("xen_platform_pci", "as set", value)

    def serial(self) -> None:
        if "serial" in self.doc.settings:
            self.report.kept("serial", "set by the source", self.source_text("serial"))
            return
        self.set("serial", "pty", rule_for("serial", GuestType.HVM).reason)

    def hdtype(self) -> None:
        if self.options.hdtype == "ahci":
            self.set("hdtype", "ahci", "disks on an emulated AHCI controller "
                                       "(the guest names them sdX)")
        elif "hdtype" in self.doc.settings:
            self.report.kept("hdtype", "as set", self.source_text("hdtype"))


def to_hvm(config: DomainConfig, options: HvmOptions = HvmOptions()) -> XenConversion:
    """Convert a PV (or PVH) guest's config to HVM on Xen."""
    if config.guest_type is GuestType.HVM:
        raise ConversionError(f"{config.path}: {config.name} is already an "
                              "HVM guest; there is nothing to convert")
    if options.nic_model not in NIC_MODELS:
        raise ConversionError(f"unknown NIC model {options.nic_model!r}: "
                              f"choose from {', '.join(NIC_MODELS)}")
    if options.hdtype not in ("ide", "ahci"):
        raise ConversionError(f"unknown hdtype {options.hdtype!r}: ide or ahci")
    conversion = _ToHvm(config, options)
    return conversion.run(conversion.handlers())

