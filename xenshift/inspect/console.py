"""Consoles: where the guest sends its kernel messages and runs logins.

A PV guest's console is ``hvc0`` (pvops) or ``xvc0`` (xenlinux); HVM and
KVM guests need ``ttyS0``. The kernel ``console=`` arguments, systemd getty
units, inittab gettys, securetty and GRUB's terminal settings all name it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from xenshift.inspect.bootloader import BootloaderFacts
from xenshift.inspect.files import GuestFiles, read_text

XEN_CONSOLES = ("hvc0", "xvc0")
GETTY_WANTS_DIRS = ("/etc/systemd/system/getty.target.wants",
                    "/etc/systemd/system/multi-user.target.wants")
_GETTY_UNIT = re.compile(r"^(serial-getty|getty)@(.+)\.service$")
_TTY = re.compile(r"^(tty\w*|xvc\d+|hvc\d+|console)$")


@dataclass(frozen=True)
class ConsoleArg:
    """One ``console=`` argument: the device (options after ``,`` dropped)."""

    file: str
    line: int
    origin: str
    device: str
    value: str


@dataclass(frozen=True)
class GettyUnit:
    """An enabled systemd getty unit (the symlink) and its terminal."""

    path: str
    unit: str
    tty: str


@dataclass(frozen=True)
class InittabEntry:
    """An inittab line ``id:runlevels:action:process``; ``tty`` for gettys."""

    line: int
    id: str
    runlevels: str
    action: str
    process: str
    tty: str | None


@dataclass(frozen=True)
class SecurettyEntry:
    """A terminal root may log in on."""

    line: int
    tty: str


@dataclass(frozen=True)
class ConsoleFacts:
    """Every place the guest names its consoles."""

    kernel_consoles: tuple[ConsoleArg, ...]
    getty_units: tuple[GettyUnit, ...]
    inittab: tuple[InittabEntry, ...]
    securetty: tuple[SecurettyEntry, ...]

    @property
    def uses_systemd(self) -> bool:
        """Whether systemd runs the guest: getty units, or no inittab."""
        return bool(self.getty_units) or not self.inittab
    grub_terminal: str | None
    grub_serial_command: str | None

    def xen_console_uses(self) -> list[str]:
        """``FILE:LINE name`` for every use of a Xen console, for messages."""
        uses = [f"{c.file}:{c.line} console={c.value}" for c in self.kernel_consoles
                if c.device in XEN_CONSOLES]
        uses += [f"{g.path}" for g in self.getty_units if g.tty in XEN_CONSOLES]
        uses += [f"/etc/inittab:{e.line} getty on {e.tty}" for e in self.inittab
                 if e.tty in XEN_CONSOLES]
        return uses

    @property
    def serial_console(self) -> bool:
        """Whether some kernel command line already has ``console=ttyS…``."""
        return any(c.device.startswith("ttyS") for c in self.kernel_consoles)


def parse_inittab(text: str) -> list[InittabEntry]:
    """The entries of an inittab; a getty's terminal is picked out of its args."""
    entries = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        fields = line.split(":", 3)
        if len(fields) != 4:
            continue
        process = fields[3].strip()
        tty = None
        if "getty" in process:
            tty = next((w for w in process.split()[1:] if _TTY.match(w)), None)
        entries.append(InittabEntry(number, *fields[:3], process, tty))
    return entries


def parse_securetty(text: str) -> list[SecurettyEntry]:
    """The terminals listed in ``/etc/securetty``."""
    return [SecurettyEntry(n, line.strip()) for n, line in enumerate(text.splitlines(), 1)
            if line.strip() and not line.lstrip().startswith("#")]


def getty_unit_tty(unit: str) -> str | None:
    """The terminal of ``getty@X.service``/``serial-getty@X.service``."""
    match = _GETTY_UNIT.match(unit)
    return match.group(2) if match else None


def gather_console(files: GuestFiles, bootloader: BootloaderFacts) -> ConsoleFacts:
    """Collect console settings from command lines, systemd, inittab, securetty."""
    args = [ConsoleArg(c.file, c.line, c.origin, value.split(",", 1)[0], value)
            for c in bootloader.cmdlines for value in c.values("console")]
    units = [GettyUnit(f"{d}/{n}", n, tty) for d in GETTY_WANTS_DIRS
             for n in files.listdir(d) if (tty := getty_unit_tty(n))]
    return ConsoleFacts(
        tuple(args), tuple(units),
        tuple(parse_inittab(read_text(files, "/etc/inittab") or "")),
        tuple(parse_securetty(read_text(files, "/etc/securetty") or "")),
        bootloader.defaults.get("GRUB_TERMINAL"),
        bootloader.defaults.get("GRUB_SERIAL_COMMAND"))
