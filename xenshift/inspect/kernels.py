"""Installed kernels: version, files, package, Xen flavour and drivers.

A kernel can run on the target if it has the target's disk driver (from
its modules, ``modules.builtin`` or ``/boot/config-*``) and is not a
PV-only xenlinux kernel (``CONFIG_X86_XEN``/``CONFIG_X86_64_XEN``, SUSE's
and RHEL 5's ``kernel-xen``). PVH needs ``CONFIG_XEN_PVH=y``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from xenshift.inspect.bootloader import BootloaderFacts
from xenshift.inspect.files import GuestFiles, read_text

Support = Literal["builtin", "module", "absent", "unknown"]
XenFlavour = Literal["pvops", "xenlinux"]

# Drivers a converted guest needs (module names with "_"), with the config
# symbol that builds each and the older names xenlinux kernels use.
DRIVERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "virtio_blk": ("VIRTIO_BLK", ()),
    "virtio_scsi": ("SCSI_VIRTIO", ()),
    "virtio_pci": ("VIRTIO_PCI", ()),
    "virtio_net": ("VIRTIO_NET", ()),
    "ata_piix": ("ATA_PIIX", ()),
    "ahci": ("SATA_AHCI", ()),
    # The disk drivers behind the emulated controllers, easy to forget.
    "sd_mod": ("BLK_DEV_SD", ()),
    "ata_generic": ("ATA_GENERIC", ()),
    "xen_blkfront": ("XEN_BLKDEV_FRONTEND", ("xenblk", "xen_vbd")),
    "xen_netfront": ("XEN_NETDEV_FRONTEND", ("xennet", "xen_vnif")),
}
_KERNEL_PREFIXES = ("vmlinuz-", "vmlinux-")
# The package a distribution family installs for a regular (non-Xen) kernel.
REGULAR_KERNEL_PACKAGES = {
    "debian": "linux-image-amd64", "ubuntu": "linux-image-generic",
    "sles": "kernel-default", "opensuse": "kernel-default", "suse": "kernel-default",
    "rhel": "kernel", "centos": "kernel", "fedora": "kernel",
    "oraclelinux": "kernel", "rocky": "kernel", "almalinux": "kernel",
}


@dataclass(frozen=True)
class Package:
    """An installed package (``version`` includes the release when known)."""

    name: str
    version: str


@dataclass(frozen=True)
class Kernel:
    """One kernel in ``/boot`` and what it can drive.

    ``drivers`` maps each name in :data:`DRIVERS` to how the kernel
    supports it; ``pvh`` is None when no config tells; ``boot_entries``
    are the indexes of the bootloader entries that boot it.
    """

    version: str
    vmlinuz: str
    initrd: str | None
    modules_dir: str | None
    config: str | None
    package: str | None
    flavour: XenFlavour
    pvh: bool | None
    drivers: dict[str, Support]
    boot_entries: tuple[int, ...]

    @property
    def pv_only(self) -> bool:
        """A xenlinux kernel boots only as a Xen PV guest."""
        return self.flavour == "xenlinux"

    def supports(self, driver: str) -> bool:
        """Whether ``driver`` is built in or available as a module."""
        return self.drivers.get(driver) in ("builtin", "module")


def parse_kernel_config(text: str) -> dict[str, str]:
    """``CONFIG_X=value`` lines of a kernel config, keyed without ``CONFIG_``."""
    values = {}
    for line in text.splitlines():
        if line.startswith("CONFIG_") and "=" in line:
            key, value = line[len("CONFIG_"):].split("=", 1)
            values[key] = value.strip().strip('"')
    return values


def module_name(path: str) -> str:
    """The module name of a ``.ko`` path (``-`` and ``_`` are the same)."""
    base = path.rsplit("/", 1)[-1]
    base = re.sub(r"\.ko(\.(xz|gz|zst))?$|\.o$", "", base)
    return base.replace("-", "_")


def parse_modules_dep(text: str) -> set[str]:
    """Names of the modules listed in ``modules.dep``."""
    return {module_name(line.split(":", 1)[0]) for line in text.splitlines()
            if ":" in line}


def parse_modules_builtin(text: str) -> set[str]:
    """Names of the built-in modules listed in ``modules.builtin``."""
    return {module_name(line.strip()) for line in text.splitlines() if line.strip()}


def driver_support(driver: str, modules: set[str] | None,
                   builtin: set[str] | None, config: dict[str, str] | None) -> Support:
    """How a kernel supports ``driver``, from its module lists and config."""
    symbol, old_names = DRIVERS[driver]
    names = {driver, *old_names}
    if (builtin and names & builtin) or (config and config.get(symbol) == "y"):
        return "builtin"
    if modules is not None:
        return "module" if names & modules else "absent"
    if config is not None:
        return "module" if config.get(symbol) == "m" else "absent"
    return "unknown"


def xen_flavour(version: str, config: dict[str, str] | None) -> XenFlavour:
    """xenlinux (PV-only) or pvops, from the config or else the version's name."""
    if config is not None:
        xenlinux = config.get("X86_XEN") == "y" or config.get("X86_64_XEN") == "y"
    else:
        # SUSE's "-xen" and RHEL 5's "el5xen" flavours are the xenlinux ones.
        xenlinux = version.endswith("xen")
    return "xenlinux" if xenlinux else "pvops"


def kernel_package(version: str, packages: list[Package]) -> str | None:
    """The package that installed kernel ``version``, if it can be told.

    Debian names it ``linux-image-VERSION``; RPM distributions ``kernel``
    or ``kernel-FLAVOUR`` where the version ends in ``-FLAVOUR``
    (``3.0.101-63-xen`` is ``kernel-xen``, ``2.6.18-419.el5xen`` too).
    """
    names = {p.name for p in packages}
    candidates = [f"linux-image-{version}"]
    flavour = re.search(r"(?:-|\.el\d+)([a-z]+)$", version)
    if flavour:
        candidates.append(f"kernel-{flavour.group(1)}")
    candidates.append("kernel")
    for name in candidates:
        if name in names:
            return name
    # No package database (a file tree): the flavour's naming is all we have.
    return candidates[1] if not packages and flavour else None


def regular_kernel_package(distro: str | None) -> str:
    """The package to install for a non-Xen kernel on ``distro``."""
    return REGULAR_KERNEL_PACKAGES.get(distro or "", "a regular (non-Xen) kernel package")


def _initrd_for(files: GuestFiles, version: str) -> str | None:
    for name in (f"initrd.img-{version}", f"initrd-{version}",
                 f"initramfs-{version}.img", f"initrd-{version}.img"):
        if files.is_file(f"/boot/{name}"):
            return f"/boot/{name}"
    return None


def _modules_dir(files: GuestFiles, version: str) -> str | None:
    for base in ("/lib/modules", "/usr/lib/modules"):
        if files.is_dir(f"{base}/{version}"):
            return f"{base}/{version}"
    return None


def gather_kernels(files: GuestFiles, bootloader: BootloaderFacts,
                   packages: list[Package]) -> list[Kernel]:
    """Every kernel image in /boot (symlinks to them are not kernels)."""
    kernels = []
    for name in files.listdir("/boot"):
        path = f"/boot/{name}"
        if (not name.startswith(_KERNEL_PREFIXES) or files.readlink(path) is not None
                or not files.is_file(path)):
            continue
        version = name.split("-", 1)[1]
        config_path = f"/boot/config-{version}"
        config_text = read_text(files, config_path)
        config = parse_kernel_config(config_text) if config_text is not None else None
        modules_dir = _modules_dir(files, version)
        modules = builtin = None
        if modules_dir:
            dep = read_text(files, f"{modules_dir}/modules.dep")
            modules = parse_modules_dep(dep) if dep is not None else None
            builtin_text = read_text(files, f"{modules_dir}/modules.builtin")
            builtin = parse_modules_builtin(builtin_text) if builtin_text is not None else None
        pvh = None if config is None else config.get("XEN_PVH") == "y"
        entries = tuple(i for i, e in enumerate(bootloader.entries) if e.kernel == path)
        kernels.append(Kernel(
            version, path, _initrd_for(files, version), modules_dir,
            config_path if config is not None else None,
            kernel_package(version, packages), xen_flavour(version, config), pvh,
            {d: driver_support(d, modules, builtin, config) for d in DRIVERS},
            entries))
    return kernels
