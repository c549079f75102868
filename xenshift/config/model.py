"""The typed domain model: what a domain config means, as xl reads it.

Built from a :class:`~xenshift.config.document.Document` by
:func:`xenshift.config.domain.build_domain`; converters read it and plan
edits against the document, so the file's own text stays the source of
truth for everything the model does not interpret.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING

from xenshift.errors import ConfigError

if TYPE_CHECKING:
    from xenshift.config.devices import (ChannelSpec, DiskSpec, PciSpec,
                                         SerialSpec, UsbCtrlSpec, UsbDevSpec,
                                         VfbSpec, VifSpec, VnumaNode)
    from xenshift.config.document import Document
    from xenshift.config.settings import Setting


class GuestType(Enum):
    """Xen's guest types (``type=`` in xl)."""

    PV = "pv"
    HVM = "hvm"
    PVH = "pvh"


class TypeSource(Enum):
    """Where the guest type came from."""

    TYPE = "type"          # type=
    BUILDER = "builder"    # the deprecated builder=
    DEFAULT = "default"    # neither: PV, xl's default on x86


@dataclass(frozen=True)
class KernelBoot:
    """How a PV/PVH guest finds its kernel, with xl's precedence applied.

    ``cmdline`` is the effective command line: ``cmdline=`` if set, else
    ``root=`` and ``extra=`` joined as xl joins them.
    """

    kernel: str | None = None
    ramdisk: str | None = None
    cmdline: str | None = None
    root: str | None = None
    extra: str | None = None
    bootloader: str | None = None
    bootloader_args: tuple[str, ...] = ()
    firmware: str | None = None

    @property
    def uses_bootloader(self) -> bool:
        """True when a host-side bootloader (pygrub) picks the kernel."""
        return self.bootloader is not None

    @property
    def uses_pvgrub(self) -> bool:
        """True for pv-grub, as ``firmware=pvgrub*`` or a pv-grub kernel:
        legacy pv-grub's, Xen's ``pvgrub*`` names, or GRUB 2's Xen image
        (``grub-x86_64-xen.bin``, as Debian's grub-xen-host installs it;
        ``grub.xen``, as SUSE's grub2-x86_64-xen does)."""
        if self.firmware and self.firmware.startswith("pvgrub"):
            return True
        if not self.kernel:
            return False
        base = self.kernel.rsplit("/", 1)[-1]
        return ("pv-grub" in self.kernel or "pvgrub" in self.kernel
                or (base.startswith("grub-") and base.endswith("-xen.bin"))
                or base == "grub.xen")


@dataclass(frozen=True)
class Lifecycle:
    """``on_*`` actions with xl's defaults filled in."""

    on_poweroff: str = "destroy"
    on_reboot: str = "restart"
    on_crash: str = "destroy"
    on_watchdog: str = "destroy"
    on_soft_reset: str = "soft-reset"


@dataclass
class DomainConfig:
    """One domain's configuration.

    Keys the model interprets are typed fields; every other key is kept in
    ``other`` exactly as set, so nothing is lost. ``warnings`` are the
    remarks xl itself would print when reading the file.
    """

    document: "Document"
    name: str | None
    uuid: str | None
    guest_type: GuestType
    type_source: TypeSource
    memory: int | None
    maxmem: int | None
    vcpus: int | None
    maxvcpus: int | None
    cpus: str | list[str] | None
    boot: KernelBoot
    lifecycle: Lifecycle
    disks: list["DiskSpec"] = field(default_factory=list)
    vifs: list["VifSpec"] = field(default_factory=list)
    pcis: list["PciSpec"] = field(default_factory=list)
    vfbs: list["VfbSpec"] = field(default_factory=list)
    channels: list["ChannelSpec"] = field(default_factory=list)
    usbctrls: list["UsbCtrlSpec"] = field(default_factory=list)
    usbdevs: list["UsbDevSpec"] = field(default_factory=list)
    serials: list["SerialSpec"] = field(default_factory=list)
    vnuma: list["VnumaNode"] = field(default_factory=list)
    other: dict[str, "Setting"] = field(default_factory=dict)
    warnings: list[ConfigError] = field(default_factory=list)

    @property
    def path(self) -> str | None:
        """The file the config was read from."""
        return self.document.path
