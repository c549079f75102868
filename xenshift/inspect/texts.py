"""The guest files a conversion may edit, read once with the facts.

Planning is pure: it works on this snapshot (text by path, symlink target
by path) rather than on the guest. The paths are every file the facts name
(fstab, bootloader configs and settings, console and initrd settings,
modprobe files, init scripts) and the getty unit links, so a planner never
needs a file it was not given.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from xenshift.inspect.bootloader import (DEFAULT_GRUB, DEVICE_MAPS, SYSCONFIG_BOOTLOADER,
                                         SYSCONFIG_GRUB)
from xenshift.inspect.facts import GuestFacts
from xenshift.inspect.files import GuestFiles, read_text
from xenshift.inspect.initrd import INITRAMFS_MODULES, SYSCONFIG_KERNEL

# Files planners edit or create whether or not the facts mention them.
FIXED_PATHS = ("/etc/fstab", "/etc/crypttab", DEFAULT_GRUB, SYSCONFIG_BOOTLOADER,
               SYSCONFIG_GRUB, SYSCONFIG_KERNEL, INITRAMFS_MODULES, "/etc/inittab", "/etc/securetty",
               *DEVICE_MAPS)


@dataclass(frozen=True)
class GuestTexts:
    """Guest text files (``texts``) and symlinks (``links``) by guest path."""

    texts: dict[str, str] = field(default_factory=dict)
    links: dict[str, str] = field(default_factory=dict)

    def text(self, path: str) -> str | None:
        """The content of ``path``, None when the guest has no such file."""
        return self.texts.get(path)


def editable_paths(facts: GuestFacts) -> list[str]:
    """Every text file the planners may read or edit, sorted."""
    paths = set(FIXED_PATHS) | set(facts.bootloader.configs)
    paths |= {c.file for c in facts.bootloader.cmdlines}
    paths |= {r.file for r in facts.storage.refs}
    paths |= {s.file for s in facts.initrd.settings}
    paths |= {a.file for a in facts.xen.modprobe_aliases}
    paths |= {s.file for s in facts.xen.scripts}
    return sorted(paths)


def read_texts(files: GuestFiles, facts: GuestFacts) -> GuestTexts:
    """Snapshot the files and getty links the planners work on."""
    texts = {}
    for path in editable_paths(facts):
        text = read_text(files, path)
        if text is not None:
            texts[path] = text
    links = {}
    for unit in facts.console.getty_units:
        target = files.readlink(unit.path)
        if target is not None:
            links[unit.path] = target
    return GuestTexts(texts, links)
