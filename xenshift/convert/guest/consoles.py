"""Consoles: the guest's kernel messages and logins on the target's console.

Under Xen PV the console is ``hvc0`` (pvops) or ``xvc0`` (xenlinux). A
firmware-booted guest (HVM, KVM) talks on the serial port ``ttyS0``; a PVH
guest keeps ``hvc0``. Every Xen console on a kernel command line becomes
the target's (``tty0`` first for HVM/KVM, so the screen keeps its messages
and ``ttyS0`` is ``/dev/console``), getty units and inittab lines follow,
securetty lets root in on it, and GRUB itself is told to use the serial
port too.
"""

from __future__ import annotations

from xenshift.convert.guest.context import PlanContext
from xenshift.convert.guest.draft import replace_word
from xenshift.inspect.bootloader import DEFAULT_GRUB
from xenshift.inspect.cmdline import KernelCmdline

CONCERN = "console"
SERIAL = "ttyS0"
SERIAL_SPEED = 115200
SERIAL_ARGS = ("console=tty0", f"console={SERIAL},{SERIAL_SPEED}")
GETTY_WANTS = "/etc/systemd/system/getty.target.wants"
SERIAL_GETTY_UNIT = "/lib/systemd/system/serial-getty@.service"
INITTAB = "/etc/inittab"
SECURETTY = "/etc/securetty"
GRUB_TERMINAL = "console serial"
GRUB_SERIAL_COMMAND = f"serial --unit=0 --speed={SERIAL_SPEED}"


def _replaced(ctx: PlanContext) -> tuple[str, ...]:
    """The Xen consoles this target replaces."""
    return ("xvc0",) if ctx.target == "pvh" else ("hvc0", "xvc0")


def _console(ctx: PlanContext) -> str:
    return "hvc0" if ctx.target == "pvh" else SERIAL


def _boot_cmdlines(ctx: PlanContext) -> list[KernelCmdline]:
    """Command lines of kernels this guest boots: not the regenerated
    config's, and not those for kernels run under the Xen hypervisor."""
    return [c for c in ctx.facts.bootloader.cmdlines
            if not ctx.is_regenerated(c.file) and "XEN" not in c.origin.upper()]


def _xen_args(ctx: PlanContext, cmdline: KernelCmdline) -> list[str]:
    """The ``console=`` arguments naming a console this target replaces."""
    return [a for a in cmdline.args if a.startswith("console=")
            and a[len("console="):].split(",")[0] in _replaced(ctx)]


def _edit_cmdlines(ctx: PlanContext) -> None:
    for cmdline in _boot_cmdlines(ctx):
        xen = _xen_args(ctx, cmdline)
        if not xen:
            continue
        if ctx.target == "pvh":
            new = ["console=hvc0"]
        else:
            new = [a for a in SERIAL_ARGS if a != "console=tty0" or a not in cmdline.args]
        line = ctx.draft.line(cmdline.file, cmdline.line)
        # The first Xen console becomes the new ones, in its place; any
        # other Xen console goes.
        for index, arg in enumerate(xen):
            line = replace_word(line, arg, " ".join(new) if index == 0 else "")
        ctx.draft.replace_line(CONCERN, cmdline.file, cmdline.line, line,
                               f"{cmdline.origin}: the console is {_console(ctx)} on "
                               f"{ctx.target.upper()}")


def _add_missing_serial(ctx: PlanContext) -> None:
    """Give a guest with no console= at all the serial console."""
    if ctx.facts.console.kernel_consoles or ctx.draft.text(DEFAULT_GRUB) is None:
        return
    current = ctx.facts.bootloader.defaults.get("GRUB_CMDLINE_LINUX", "")
    ctx.draft.set_var(CONCERN, DEFAULT_GRUB, "GRUB_CMDLINE_LINUX",
                      " ".join([current, *SERIAL_ARGS]).strip(),
                      "no console= argument: kernel messages go to the serial port too")


def _gettys(ctx: PlanContext) -> None:
    console = ctx.facts.console
    if not console.uses_systemd:
        return
    unit_target = SERIAL_GETTY_UNIT
    for unit in console.getty_units:
        target = ctx.draft.link(unit.path)
        if unit.tty in _replaced(ctx):
            ctx.draft.set_link(CONCERN, unit.path, None,
                               f"{unit.tty} does not exist on {ctx.target.upper()}")
        elif target and target.endswith("/getty@.service"):
            # The guest's own unit directory (/lib or /usr/lib).
            unit_target = target.rsplit("/", 1)[0] + "/serial-getty@.service"
    if ctx.target == "pvh":
        return
    path = f"{GETTY_WANTS}/serial-getty@{SERIAL}.service"
    if not any(u.tty == SERIAL for u in console.getty_units):
        ctx.draft.set_link(CONCERN, path, unit_target, f"a login prompt on {SERIAL}")


def _inittab(ctx: PlanContext) -> None:
    entries = ctx.facts.console.inittab
    gettys = [e for e in entries if e.tty]
    if not gettys:
        return
    new = _console(ctx)
    replaced = [e for e in gettys if e.tty in _replaced(ctx)]
    for entry in replaced:
        line = replace_word(ctx.draft.line(INITTAB, entry.line), entry.tty, new)
        ctx.draft.replace_line(CONCERN, INITTAB, entry.line, line,
                               f"the getty on {entry.tty} runs on {new}")
    if not replaced and not any(e.tty == new for e in gettys) and new == SERIAL:
        ctx.draft.append_lines(CONCERN, INITTAB,
                               [f"S0:12345:respawn:/sbin/agetty -L {SERIAL_SPEED} {SERIAL} vt102"],
                               f"a login prompt on {SERIAL}")


def _securetty(ctx: PlanContext) -> None:
    entries = ctx.facts.console.securetty
    new = _console(ctx)
    if ctx.draft.text(SECURETTY) is None or any(e.tty == new for e in entries):
        return
    old = next((e for e in entries if e.tty in _replaced(ctx)), None)
    reason = f"root may log in on {new}"
    if old is not None:
        ctx.draft.replace_line(CONCERN, SECURETTY, old.line, new, reason)
    else:
        ctx.draft.append_lines(CONCERN, SECURETTY, [new], reason)


def _grub_terminal(ctx: PlanContext) -> None:
    if ctx.target == "pvh" or ctx.draft.text(DEFAULT_GRUB) is None:
        return
    defaults = ctx.facts.bootloader.defaults
    if defaults.get("GRUB_TERMINAL") not in (None, "console"):
        return  # the admin chose a terminal already
    ctx.draft.set_var(CONCERN, DEFAULT_GRUB, "GRUB_TERMINAL", GRUB_TERMINAL,
                      "GRUB's menu on the screen and the serial port")
    if "GRUB_SERIAL_COMMAND" not in defaults:
        ctx.draft.set_var(CONCERN, DEFAULT_GRUB, "GRUB_SERIAL_COMMAND", GRUB_SERIAL_COMMAND,
                          f"GRUB's serial port: {SERIAL} at {SERIAL_SPEED} baud")


def plan(ctx: PlanContext) -> None:
    """Move every console setting to the target's console."""
    _edit_cmdlines(ctx)
    if ctx.target != "pvh":
        _add_missing_serial(ctx)
    _gettys(ctx)
    _inittab(ctx)
    _securetty(ctx)
    _grub_terminal(ctx)
