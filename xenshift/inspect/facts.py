"""``GuestFacts``: everything the planner needs to know, gathered once.

Facts come from a disk session (:func:`gather_facts`) or a directory tree
(:func:`inspect_tree`); both read the guest through the same per-family
gatherers. Only the layout needs disks, so a tree has ``layout=None``.
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass
from pathlib import Path

from xenshift.inspect.bootloader import BootloaderFacts, gather_bootloader
from xenshift.inspect.console import ConsoleFacts, gather_console
from xenshift.inspect.errors import InspectError, NoOperatingSystemError
from xenshift.inspect.files import GuestFiles, TreeFiles
from xenshift.inspect.fstab import StorageRefs, gather_storage
from xenshift.inspect.initrd import InitrdFacts, gather_initrd
from xenshift.inspect.kernels import Kernel, Package, gather_kernels
from xenshift.inspect.layout import LayoutFacts, gather_layout
from xenshift.inspect.network import NetworkFacts, gather_network
from xenshift.inspect.osinfo import OsFacts, tree_os_facts, tree_packages
from xenshift.inspect.session import GuestSession
from xenshift.inspect.sources import DiskImage
from xenshift.inspect.xen_leftovers import XenLeftovers, gather_xen_leftovers


@dataclass(frozen=True)
class GuestFacts:
    """All facts about one guest. ``sources`` names what was inspected;
    ``notes`` holds what could not be read, so no gap passes silently."""

    sources: tuple[str, ...]
    os: OsFacts
    layout: LayoutFacts | None
    bootloader: BootloaderFacts
    kernels: tuple[Kernel, ...]
    initrd: InitrdFacts
    storage: StorageRefs
    console: ConsoleFacts
    network: NetworkFacts
    xen: XenLeftovers
    packages: tuple[Package, ...]
    notes: tuple[str, ...]

    def boot_kernels(self) -> list[Kernel]:
        """Kernels the bootloader can start (all of them if it lists none)."""
        listed = [k for k in self.kernels if k.boot_entries]
        return listed or list(self.kernels)

    def default_kernel(self) -> Kernel | None:
        """The kernel the bootloader's default entry starts, if known."""
        index = self.bootloader.default_entry
        return next((k for k in self.kernels if index in k.boot_entries), None)

    def to_dict(self) -> dict:
        """Plain JSON-ready data (dataclasses as dicts, tuples as lists)."""
        return to_plain(self)


def to_plain(value):
    """Facts (or any of their parts) as plain JSON-ready data."""
    if dataclasses.is_dataclass(value):
        return {f.name: to_plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {k: to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_plain(v) for v in value]
    if isinstance(value, enum.Enum):
        return value.value
    return value


def _gather(sources: tuple[str, ...], files: GuestFiles, os_facts: OsFacts,
            packages: list[Package], layout: LayoutFacts | None,
            notes: list[str]) -> GuestFacts:
    bootloader = gather_bootloader(files)
    kernels = gather_kernels(files, bootloader, packages)
    initrd = gather_initrd(files, kernels)
    notes = notes + [i.problem for i in initrd.images if i.problem]
    return GuestFacts(
        sources, os_facts, layout, bootloader, tuple(kernels), initrd,
        gather_storage(files, bootloader), gather_console(files, bootloader),
        gather_network(files, bootloader), gather_xen_leftovers(files, packages),
        tuple(packages), tuple(notes))


def gather_facts(session: GuestSession) -> GuestFacts:
    """Every fact about the guest open in ``session``."""
    sources = tuple(f"{d.vdev}={d.shown}" for d in session.disks)
    packages = session.packages()
    notes = [f"not mounted: {m}" for m in session.unmounted] + session.notes
    return _gather(sources, session.files, session.os_facts(), packages,
                   gather_layout(session), notes)


def inspect_disks(disks: list[DiskImage]) -> GuestFacts:
    """Open the guest's disks read-only and gather its facts."""
    with GuestSession(disks) as session:
        return gather_facts(session)


def inspect_tree(root: str | Path) -> GuestFacts:
    """Gather facts from a directory holding a guest's ``/``."""
    files = TreeFiles(root)
    if not files.is_dir("/etc"):
        raise InspectError("not a guest root directory (no /etc)", str(root))
    os_facts = tree_os_facts(files)
    if os_facts.type != "linux":
        raise NoOperatingSystemError("no os-release or SuSE-release: not a Linux root",
                                     str(root))
    return _gather((str(root),), files, os_facts, tree_packages(files), None, [])
