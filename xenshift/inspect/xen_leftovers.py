"""What a Xen guest carries that only makes sense on Xen.

Citrix's guest tools, xenlinux kernel packages and their module packages,
modprobe aliases pointing NICs or disk adapters at Xen PV drivers, and
init scripts that load them. On KVM these are dead weight or worse; on Xen
HVM/PVH they are harmless. The planner neutralises them for KVM.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass

from xenshift.inspect.files import GuestFiles, read_text
from xenshift.inspect.kernels import Package

XEN_PACKAGES = ("xe-guest-utilities", "xen-guest-agent", "kernel-xen", "kernel-xen-*",
                "xen-kmp-*", "kmod-xenpv*", "xen-tools-domU", "xenstore-utils",
                "linux-image-*-xen-*")
# Module names of Xen's PV frontends, old (xenlinux, SUSE kmp) and new.
XEN_MODULES = ("xennet", "xenblk", "xen_vbd", "xen_vnif", "xen_blkfront",
               "xen_netfront", "xen_platform_pci")
MODPROBE_FILES = ("/etc/modprobe.conf", "/etc/modprobe.conf.local")
MODPROBE_DIR = "/etc/modprobe.d"
RC_LOCAL = ("/etc/rc.local", "/etc/rc.d/rc.local")


@dataclass(frozen=True)
class ModprobeAlias:
    """``alias NAME MODULE`` where MODULE is a Xen PV driver."""

    file: str
    line: int
    alias: str
    module: str


@dataclass(frozen=True)
class ScriptLine:
    """A line of an init script that loads a Xen PV driver."""

    file: str
    line: int
    text: str


@dataclass(frozen=True)
class XenLeftovers:
    """Xen-only packages, modprobe aliases and init script lines."""

    packages: tuple[Package, ...]
    modprobe_aliases: tuple[ModprobeAlias, ...]
    scripts: tuple[ScriptLine, ...]

    def __bool__(self) -> bool:
        return bool(self.packages or self.modprobe_aliases or self.scripts)


def is_xen_module(name: str) -> bool:
    """Whether module ``name`` is a Xen PV frontend (``-``/``_`` alike)."""
    return name.replace("-", "_") in XEN_MODULES


def parse_modprobe_aliases(text: str, file: str) -> list[ModprobeAlias]:
    """The ``alias`` lines of a modprobe config that name a Xen driver."""
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        words = line.split("#", 1)[0].split()
        if len(words) >= 3 and words[0] == "alias" and is_xen_module(words[2]):
            found.append(ModprobeAlias(file, number, words[1], words[2]))
    return found


def parse_script_loads(text: str, file: str) -> list[ScriptLine]:
    """Lines of a shell script that ``modprobe``/``insmod`` a Xen driver."""
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        code = line.split("#", 1)[0]
        words = re.split(r"[\s;]+", code)
        if any(w.endswith(("modprobe", "insmod")) for w in words) and \
                any(is_xen_module(w.removesuffix(".ko")) for w in words):
            found.append(ScriptLine(file, number, line.strip()))
    return found


def xen_packages(packages: list[Package]) -> list[Package]:
    """The installed packages that only serve a Xen guest."""
    return [p for p in packages if any(fnmatch.fnmatchcase(p.name, pat) for pat in XEN_PACKAGES)]


def gather_xen_leftovers(files: GuestFiles, packages: list[Package]) -> XenLeftovers:
    """Find Xen-only packages, aliases and init script lines."""
    modprobe = [*MODPROBE_FILES, *(f"{MODPROBE_DIR}/{n}" for n in files.listdir(MODPROBE_DIR)
                                   if n.endswith(".conf"))]
    aliases = [a for path in modprobe
               for a in parse_modprobe_aliases(read_text(files, path) or "", path)]
    scripts = [s for path in RC_LOCAL
               for s in parse_script_loads(read_text(files, path) or "", path)]
    return XenLeftovers(tuple(xen_packages(packages)), tuple(aliases), tuple(scripts))
