"""The guest's bootloader: which kind, its entries, defaults and tools.

A PV guest's bootloader config is read by pygrub on the host; nothing in
the guest ever ran it. We record the config (grub2 ``grub.cfg``, grub-legacy
``menu.lst``, extlinux), every kernel command line it or its settings files
carry (``/etc/default/grub``, SUSE's ``/etc/sysconfig/bootloader``),
``device.map``, and which GRUB tools and platform modules the guest has, so
the planner knows whether it can install GRUB to the MBR and regenerate the
config with the guest's own files.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from typing import Literal

from xenshift.inspect.digits import small_int
from xenshift.inspect.cmdline import KernelCmdline, split_cmdline
from xenshift.inspect.files import GuestFiles, find_program, read_text
from xenshift.inspect.shellvars import parse_shell_vars, shell_values

BootloaderKind = Literal["grub2", "grub-legacy", "extlinux"]

# Where each kind keeps its config, in the order we prefer them.
CONFIG_PATHS: tuple[tuple[BootloaderKind, str], ...] = (
    ("grub2", "/boot/grub/grub.cfg"),
    ("grub2", "/boot/grub2/grub.cfg"),
    ("grub-legacy", "/boot/grub/menu.lst"),
    ("grub-legacy", "/boot/grub/grub.conf"),
    ("extlinux", "/boot/extlinux/extlinux.conf"),
    ("extlinux", "/boot/extlinux.conf"),
    ("extlinux", "/extlinux.conf"),
)
DEVICE_MAPS = ("/boot/grub/device.map", "/boot/grub2/device.map")
TOOLS = ("grub-install", "grub2-install", "grub-mkconfig", "grub2-mkconfig",
         "update-grub", "grubby", "update-bootloader", "extlinux")
GRUB_LIB_DIRS = ("/usr/lib/grub", "/usr/lib/grub2")
DEFAULT_GRUB = "/etc/default/grub"
SYSCONFIG_BOOTLOADER = "/etc/sysconfig/bootloader"
SYSCONFIG_GRUB = "/etc/sysconfig/grub"


@dataclass(frozen=True)
class BootEntry:
    """One boot entry; ``kernel``/``initrd`` are paths in the guest's ``/``.

    ``menu_path`` is how grub2 names the entry as a default (``1>0``: the
    first entry of the second top-level item), None for other loaders.
    """

    title: str
    kernel: str | None
    initrd: str | None
    cmdline: KernelCmdline
    menu_path: str | None = None


@dataclass(frozen=True)
class DeviceMapEntry:
    """A ``device.map`` line mapping a GRUB disk to a Linux device."""

    file: str
    line: int
    grub_device: str
    os_device: str


@dataclass(frozen=True)
class BootloaderFacts:
    """What boots the guest, and what is there to reinstall it with.

    ``default_entry`` indexes ``entries`` (None when it cannot be told);
    ``cmdlines`` holds the entries' command lines and those of settings
    variables; ``tools`` maps each GRUB tool present to its path;
    ``platforms`` lists GRUB module directories (``i386-pc`` is what a BIOS
    install needs).
    """

    kind: BootloaderKind | None
    config: str | None
    configs: tuple[str, ...]
    entries: tuple[BootEntry, ...]
    default: str | None
    default_entry: int | None
    defaults: dict[str, str]
    sysconfig: dict[str, str]
    device_map: tuple[DeviceMapEntry, ...]
    cmdlines: tuple[KernelCmdline, ...]
    tools: dict[str, str]
    platforms: tuple[str, ...]


@dataclass(frozen=True)
class ParsedConfig:
    """A bootloader config as written: entries with paths relative to its fs."""

    entries: tuple[BootEntry, ...]
    default: str | None
    default_entry: int | None


_GRUB_DEVICE = re.compile(r"^\([^)]*\)")


def _path(word: str) -> str:
    # "(hd0,1)/boot/vmlinuz" names the file system first; keep the path.
    return _GRUB_DEVICE.sub("", word) or "/"


def _words(line: str) -> list[str]:
    try:
        return shlex.split(line, comments=True)
    except ValueError:
        return line.split()


def parse_grub2_cfg(text: str, file: str = "grub.cfg",
                    saved_entry: str | None = None) -> ParsedConfig:
    """Entries of a grub2 ``grub.cfg``, submenus flattened, and its default.

    Numeric defaults count top-level items (a submenu is one), ``A>B``
    descends into submenus, anything else matches an entry's title or id;
    ``saved_entry`` (from ``grubenv``) stands in for ``${saved_entry}``.
    """
    entries: list[BootEntry] = []
    keys: list[tuple[str, str, str]] = []  # (index path, title, id) per entry
    stack: list[str] = []  # open blocks: "menuentry", "submenu", "other"
    path: list[int] = [-1]
    current: dict | None = None
    default = None
    for number, line in enumerate(text.splitlines(), start=1):
        words = _words(line)
        if not words:
            continue
        head = words[0]
        if head in ("menuentry", "submenu") and line.rstrip().endswith("{"):
            path[-1] += 1
            stack.append(head)
            if head == "submenu":
                path.append(-1)
                continue
            title = words[1] if len(words) > 1 else ""
            ident = ""
            if "$menuentry_id_option" in words[:-1]:
                ident = words[words.index("$menuentry_id_option") + 1]
            keys.append((">".join(map(str, path)), title, ident))
            current = {"title": title, "kernel": None, "initrd": None, "path": keys[-1][0],
                       "cmdline": KernelCmdline(file, number, f"menuentry '{title}'", ())}
        elif line.rstrip().endswith("{"):
            stack.append("other")
        elif head == "}":
            kind = stack.pop() if stack else "other"
            if kind == "submenu":
                path.pop()
            elif kind == "menuentry" and current is not None:
                entries.append(BootEntry(current["title"], current["kernel"],
                                         current["initrd"], current["cmdline"],
                                         current["path"]))
                current = None
        elif current is not None and head in ("linux", "linux16", "linuxefi", "kernel"):
            current["kernel"] = _path(words[1]) if len(words) > 1 else None
            args = line.split(None, 2)[2] if len(words) > 2 else ""
            current["cmdline"] = KernelCmdline(file, number, current["cmdline"].origin,
                                               split_cmdline(args))
        elif current is not None and head in ("initrd", "initrd16", "initrdefi"):
            # With early microcode first, the distribution's initrd comes last.
            current["initrd"] = _path(words[-1]) if len(words) > 1 else None
        elif not stack and head == "set" and len(words) > 1 and words[1].startswith("default="):
            default = words[1].split("=", 1)[1]
    chosen = saved_entry if default in ("saved", "${saved_entry}") else default
    return ParsedConfig(tuple(entries), chosen, _grub2_default(chosen, keys))


def _grub2_default(default: str | None, keys: list[tuple[str, str, str]]) -> int | None:
    if default is None:
        return 0 if keys else None
    for index, (path, title, ident) in enumerate(keys):
        if default in (path, title, ident):
            return index
    if default.isdigit():  # a submenu's number boots its first entry
        for index, (path, _, _) in enumerate(keys):
            if path.split(">")[0] == default:
                return index
    return None


_MENU_LST_LINE = re.compile(r"^(\w+)(?:\s*=\s*|\s+)(.*)$")


def parse_menu_lst(text: str, file: str = "menu.lst") -> ParsedConfig:
    """Entries of a grub-legacy ``menu.lst``/``grub.conf`` and its default."""
    entries: list[BootEntry] = []
    default = None
    title = None
    kernel = initrd = None
    cmdline = None

    def flush() -> None:
        if title is not None:
            entries.append(BootEntry(title, kernel, initrd, cmdline or
                                     KernelCmdline(file, 0, f"title {title}", ())))

    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.split("#", 1)[0].strip()
        if not stripped:
            continue
        match = _MENU_LST_LINE.match(stripped)
        if not match:
            continue
        key, rest = match.group(1), match.group(2).strip()
        if key == "title":
            flush()
            title, kernel, initrd, cmdline = rest, None, None, None
        elif key == "default" and title is None:
            default = rest
        elif key == "kernel" and title is not None:
            words = rest.split(None, 1)
            kernel = _path(words[0]) if words else None
            cmdline = KernelCmdline(file, number, f"title {title}",
                                    split_cmdline(words[1]) if len(words) > 1 else ())
        elif key == "initrd" and title is not None:
            initrd = _path(rest.split()[0]) if rest else None
    flush()
    index = small_int(default or "") or 0
    return ParsedConfig(tuple(entries), default,
                        index if index < len(entries) else None)


def parse_extlinux(text: str, file: str = "extlinux.conf") -> ParsedConfig:
    """Entries of an extlinux/syslinux config and its default label."""
    entries: list[BootEntry] = []
    default = None
    label = None
    fields: dict[str, object] = {}

    def flush() -> None:
        if label is not None:
            entries.append(BootEntry(label, fields.get("kernel"), fields.get("initrd"),  # type: ignore[arg-type]
                                     fields.get("cmdline") or KernelCmdline(file, 0, f"label {label}", ())))  # type: ignore[arg-type]

    for number, line in enumerate(text.splitlines(), start=1):
        words = line.split(None, 1)
        if not words or words[0].startswith("#"):
            continue
        key, rest = words[0].lower(), (words[1].strip() if len(words) > 1 else "")
        if key == "label":
            flush()
            label, fields = rest, {}
        elif key == "default" and label is None:
            default = rest
        elif key in ("kernel", "linux") and label is not None:
            fields["kernel"] = rest
        elif key == "initrd" and label is not None:
            fields["initrd"] = rest.split(",")[-1]
        elif key == "append" and label is not None:
            args = split_cmdline(rest)
            fields["cmdline"] = KernelCmdline(file, number, f"label {label}",
                                              tuple(a for a in args if not a.startswith("initrd=")))
            for a in args:
                if a.startswith("initrd="):
                    fields["initrd"] = a.split("=", 1)[1].split(",")[-1]
    flush()
    index = next((i for i, e in enumerate(entries) if e.title == default), 0 if entries else None)
    return ParsedConfig(tuple(entries), default, index)


def parse_device_map(text: str, file: str = "device.map") -> list[DeviceMapEntry]:
    """The ``(hdN) /dev/X`` lines of a GRUB ``device.map``."""
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        words = line.split("#", 1)[0].split()
        if len(words) >= 2 and words[0].startswith("("):
            found.append(DeviceMapEntry(file, number, words[0], words[1]))
    return found


_PARSERS = {"grub-legacy": parse_menu_lst, "extlinux": parse_extlinux}


def _variable_cmdlines(file: str, text: str, wanted) -> list[KernelCmdline]:
    return [KernelCmdline(file, v.line, v.name, split_cmdline(v.value))
            for v in parse_shell_vars(text) if wanted(v.name)]


def _in_root(files: GuestFiles, path: str | None) -> str | None:
    """A config path as seen from ``/``: relative to /boot if /boot is
    separate; on btrfs, below the subvolume GRUB reads it through (GRUB
    starts at the file system's top, so the root subvolume ``@``'s
    ``/boot/vmlinuz`` is ``/@/boot/vmlinuz`` to it)."""
    if path is None or files.is_file(path):
        return path
    if files.is_file("/boot" + path):
        return "/boot" + path
    parts = path.strip("/").split("/")
    for start in range(1, len(parts) - 1):
        below = "/" + "/".join(parts[start:])
        if files.is_file(below):
            return below
    return path


def gather_bootloader(files: GuestFiles) -> BootloaderFacts:
    """Find and parse the bootloader config and its settings files."""
    found = [(kind, path) for kind, path in CONFIG_PATHS if files.is_file(path)]
    kind, config = found[0] if found else (None, None)
    parsed = ParsedConfig((), None, None)
    if kind == "grub2":
        grubenv = shell_values(read_text(files, config.rsplit("/", 1)[0] + "/grubenv") or "")
        parsed = parse_grub2_cfg(read_text(files, config) or "", config,
                                 grubenv.get("saved_entry"))
    elif config is not None:
        parsed = _PARSERS[kind](read_text(files, config) or "", config)
    entries = tuple(BootEntry(e.title, _in_root(files, e.kernel), _in_root(files, e.initrd),
                              e.cmdline, e.menu_path) for e in parsed.entries)
    default_grub = read_text(files, DEFAULT_GRUB) or ""
    sysconfig = read_text(files, SYSCONFIG_BOOTLOADER) or ""
    cmdlines = [e.cmdline for e in entries]
    cmdlines += _variable_cmdlines(DEFAULT_GRUB, default_grub,
                                   lambda n: n.startswith("GRUB_CMDLINE_"))
    cmdlines += _variable_cmdlines(SYSCONFIG_BOOTLOADER, sysconfig,
                                   lambda n: n.endswith("_APPEND"))
    device_map = [e for p in DEVICE_MAPS
                  for e in parse_device_map(read_text(files, p) or "", p)]
    tools = {t: p for t in TOOLS if (p := find_program(files, t))}
    platforms = tuple(f"{d}/{n}" for d in GRUB_LIB_DIRS for n in files.listdir(d)
                      if files.is_dir(f"{d}/{n}") and "-" in n)
    return BootloaderFacts(kind, config, tuple(p for _, p in found), entries,
                           parsed.default, parsed.default_entry, shell_values(default_grub),
                           shell_values(sysconfig), tuple(device_map),
                           tuple(cmdlines), tools, platforms)
