"""PV → PVH on Xen: the same PV devices, no device model, a PVH-aware boot.

A PVH guest keeps its PV disks and NICs but has no emulated hardware, so
every device-model key goes. It boots like a PV guest, through pygrub or a
``kernel=`` (xl.cfg(5)), provided the kernel supports PVH
(``XEN_ELFNOTE_PHYS32_ENTRY``); the guest-conversion step checks that on
the disk. pv-grub is itself a PV kernel and cannot start a PVH guest: GRUB
2's Xen image gives way to its PVH image from the same package, which reads
the guest's own GRUB as before (pygrub reads no btrfs, for one); legacy
pv-grub, which has no PVH build, to pygrub, which reads the same menu.
"""

from __future__ import annotations

from xenshift.config.devices import parse_vif
from xenshift.config.devices.keyvalue import with_item
from xenshift.config.model import DomainConfig, GuestType
from xenshift.convert.retarget import ConversionError, Retarget, XenConversion

_PVGRUB_REASON = ("pv-grub is a PV kernel and cannot start a PVH guest; "
                  "pygrub reads the same grub configuration")
# GRUB 2's PV images and, beside them in the same package, its PVH image:
# Debian's grub-xen-host, SUSE's grub2-x86_64-xen and grub2-i386-xen_pvh.
_DEBIAN_PVH_GRUB = "grub-i386-xen_pvh.bin"
_SUSE_PV_GRUB_DIR, _SUSE_PVH_GRUB_DIR = "x86_64-xen", "i386-xen_pvh"


def pvh_grub_image(kernel: str) -> str | None:
    """The PVH image of GRUB 2 beside its Xen PV image ``kernel`` (None for
    legacy pv-grub, which has none)."""
    head, _, base = kernel.rpartition("/")
    if base.startswith("grub-") and base.endswith("-xen.bin"):
        return f"{head}/{_DEBIAN_PVH_GRUB}"
    if base == "grub.xen" and head.endswith("/" + _SUSE_PV_GRUB_DIR):
        return f"{head[:-len(_SUSE_PV_GRUB_DIR)]}{_SUSE_PVH_GRUB_DIR}/grub.xen"
    return None


class _ToPvh(Retarget):
    def __init__(self, config: DomainConfig):
        super().__init__(config, GuestType.PVH)

    def handlers(self):
        return {"type": self.type, "kernel": self.kernel,
                "firmware": self.firmware, "vif": self.vif}

    def type(self) -> None:
        self.drop("builder", "deprecated; replaced by type")
        self.set("type", "pvh", "PVH: PV devices, hardware-assisted paging, "
                                "no device model", after="name")
        self.report.warn("kernel", "the guest kernel must support PVH "
                                   "(Linux 4.11+ with CONFIG_PVH); the guest "
                                   "conversion checks the kernel on the disk")

    def _use_pygrub(self) -> None:
        if "bootloader" not in self.doc.settings:
            self.set("bootloader", "pygrub", _PVGRUB_REASON)

    def kernel(self) -> None:
        boot = self.config.boot
        if boot.kernel is None:
            return
        pvh_grub = pvh_grub_image(boot.kernel) if boot.uses_pvgrub else None
        if pvh_grub is not None and boot.firmware is None:
            self.set("kernel", pvh_grub,
                     "GRUB's Xen PV image cannot start a PVH guest; its PVH image, "
                     "from the same package in dom0, reads the guest's own GRUB "
                     "config as before")
        elif boot.uses_pvgrub and boot.firmware is None:
            self.drop("kernel", _PVGRUB_REASON)
            # pv-grub's extra= names its menu file, which means nothing to
            # pygrub or to a kernel.
            self.drop("extra", "pv-grub's menu path, not a kernel command "
                               "line")
            self._use_pygrub()
        else:
            self.report.kept("kernel", "direct kernel boot; the kernel must "
                                       "support PVH", self.source_text("kernel"))

    def firmware(self) -> None:
        firmware = self.config.boot.firmware
        if firmware is None:
            return
        if firmware.startswith("pvgrub"):
            self.drop("firmware", _PVGRUB_REASON)
            self._use_pygrub()
        else:
            raise ConversionError(f"{self.config.path}: firmware="
                                  f"{firmware!r} cannot boot a PVH guest")

    def vif(self) -> None:
        items = self.doc.settings.get_string_list("vif") or []
        texts = []
        for item in items:
            spec = parse_vif(item.text)
            text = with_item(item.text, "model", None)
            if spec.type == "ioemu" or spec.ignored_type:
                text = with_item(text, "type", None)
            texts.append(text)
        if [i.text for i in items] != texts:
            self.set_items("vif", texts, "model= and type=ioemu describe "
                                         "emulated NICs, which PVH does not "
                                         "have; a type= xl ignores goes too")
        elif items:
            self.report.kept("vif", "PV NICs, as before",
                             self.source_text("vif"))


def to_pvh(config: DomainConfig) -> XenConversion:
    """Convert a PV guest's config to PVH on Xen."""
    if config.guest_type is GuestType.PVH:
        raise ConversionError(f"{config.path}: {config.name} is already a "
                              "PVH guest; there is nothing to convert")
    if config.guest_type is GuestType.HVM:
        raise ConversionError(f"{config.path}: {config.name} is an HVM "
                              "guest; xenshift converts PV guests to PVH")
    conversion = _ToPvh(config)
    return conversion.run(conversion.handlers())
