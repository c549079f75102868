"""Boot a converted guest under QEMU and wait for userspace on its serial port.

The guest boots from its output images the way its target presents them:
virtio disks and NIC for KVM; for Xen HVM, IDE disks and an e1000 NIC,
which is what a Xen HVM guest sees before its PV drivers take over.
Disks are opened with ``-snapshot`` so the check never changes an output.
The check passes when the serial console shows a login prompt or systemd
reaching its multi-user target; it fails on a timeout, a QEMU exit, or a
kernel panic. QEMU is always killed when the check ends.

Acceleration: ``tcg`` (software, works everywhere, slow) or ``kvm``;
``XENSHIFT_BOOT_ACCEL`` sets the default (``tcg``: guests hang under the
KVM of the machines this suite runs on).
"""

from __future__ import annotations

import os
import re
import select
import subprocess
import time
from dataclasses import dataclass
from typing import Literal, Protocol

from xenshift.errors import XenshiftError
from xenshift.processes import stop_process

Accel = Literal["tcg", "kvm"]
ACCEL_ENV = "XENSHIFT_BOOT_ACCEL"
DEFAULT_TIMEOUT_S = 600
MEMORY_MIB = 512
IDE_SLOTS = 4
# What userspace prints once it is up, and what says it never will be.
USERSPACE = re.compile(r"login: |Reached target .{0,40}Multi-User")
FAILURE = re.compile(r"Kernel panic|end Kernel panic|Give root password for maintenance"
                     r"|You are in emergency mode|ALERT! .* does not exist")
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
# Serial output kept in a failure message.
_TAIL_LINES = 25
_KILL_WAIT_S = 5


class BootCheckError(XenshiftError):
    """A converted guest that did not reach userspace under QEMU."""


class BootDisk(Protocol):
    """A disk to boot from: its image file and format (any object with them,
    such as :class:`~xenshift.inspect.sources.DiskImage`)."""

    path: str
    format: str


@dataclass(frozen=True)
class BootResult:
    """What a boot check saw: ``evidence`` is the line proving userspace."""

    booted: bool
    seconds: float
    evidence: str | None
    log: str

    def tail(self, lines: int = _TAIL_LINES) -> str:
        """The last lines of the serial console."""
        return "\n".join(self.log.splitlines()[-lines:])


@dataclass(frozen=True)
class BootOptions:
    """How to check a boot: give up after ``timeout`` seconds; ``accel``
    None means :func:`default_accel`.  ``boot_on`` (``ssh://HOST``) boots
    a Xen result on that Xen host instead of under QEMU (``xenboot``),
    reached with ``ssh_command``."""

    timeout: float = DEFAULT_TIMEOUT_S
    accel: Accel | None = None
    boot_on: str | None = None
    ssh_command: str = "ssh"


def default_accel() -> Accel:
    """The acceleration to use: ``$XENSHIFT_BOOT_ACCEL`` or ``tcg``."""
    value = os.environ.get(ACCEL_ENV, "tcg")
    if value not in ("tcg", "kvm"):
        raise BootCheckError(f"{ACCEL_ENV} must be tcg or kvm, not {value!r}")
    return value  # type: ignore[return-value]


def _disk_args(disks: list[BootDisk], target: str, bus: str) -> list[str]:
    if target == "hvm":
        # Xen emulates four IDE disks; the rest an HVM guest sees only
        # through its PV drivers, which QEMU does not offer.
        disks = disks[:IDE_SLOTS]
    if target == "hvm" or bus != "sata":
        interface = "virtio" if target == "kvm" else "ide"
        return [a for d in disks for a in
                ("-drive", f"file={d.path},format={d.format},if={interface},cache=unsafe")]
    # q35's own AHCI controller has one port per bus ide.0 … ide.5.
    args = []
    for index, d in enumerate(disks):
        args += ["-drive", f"file={d.path},format={d.format},if=none,id=disk{index},"
                 "cache=unsafe", "-device", f"ide-hd,drive=disk{index},bus=ide.{index}"]
    return args


def qemu_argv(disks: list[BootDisk], target: str, macs: list[str | None], accel: Accel,
              machine: str = "q35", bus: str = "virtio",
              memory_mib: int = MEMORY_MIB) -> list[str]:
    """The QEMU command line booting ``disks`` as ``target`` presents them.

    KVM: ``machine`` (q35 or pc) with ``bus`` (virtio or sata) disks and
    virtio NICs; HVM: an i440FX PC with IDE disks and e1000 NICs.
    """
    if target not in ("kvm", "hvm"):
        raise BootCheckError(f"a {target} guest boots under Xen only: --verify-boot "
                             "checks hvm and kvm conversions")
    argv = ["qemu-system-x86_64", "-machine",
            f"{machine if target == 'kvm' else 'pc'},accel={accel}", "-m", str(memory_mib),
            "-smp", "1", "-nodefaults", "-display", "none", "-serial", "stdio",
            "-monitor", "none", "-no-reboot", "-snapshot"]
    if accel == "kvm":
        argv += ["-cpu", "host"]
    argv += _disk_args(disks, target, bus)
    nic = "virtio-net-pci" if target == "kvm" else "e1000"
    for index, mac in enumerate(macs):
        argv += ["-netdev", f"user,id=net{index}",
                 "-device", f"{nic},netdev=net{index}" + (f",mac={mac}" if mac else "")]
    return argv


def _text(raw: bytes) -> str:
    return _ANSI.sub("", raw.decode(errors="replace").replace("\r", ""))


def run_boot(argv: list[str], timeout: float) -> BootResult:
    """Run QEMU ``argv`` until userspace shows on its serial port (stdout)."""
    start = time.monotonic()
    raw = b""
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    try:
        while (left := timeout - (time.monotonic() - start)) > 0:
            ready, _, _ = select.select([proc.stdout], [], [], min(left, 1.0))
            if not ready:
                continue
            chunk = os.read(proc.stdout.fileno(), 65536)
            if not chunk:
                break  # QEMU exited (a panic with -no-reboot, or an error)
            raw += chunk
            # Cleaned whole each time: an escape sequence may span two reads.
            log = _text(raw)
            found = USERSPACE.search(log)
            if found:
                line = log[:found.end()].rsplit("\n", 1)[-1]
                return BootResult(True, time.monotonic() - start, line.strip(), log)
            if FAILURE.search(log):
                break
    finally:
        stop_process(proc, _KILL_WAIT_S)
    return BootResult(False, time.monotonic() - start, None, _text(raw))


def boot_check(disks: list[BootDisk], target: str, macs: list[str | None] = (),
               options: BootOptions = BootOptions(), machine: str = "q35",
               bus: str = "virtio") -> BootResult:
    """Boot the images as ``target`` and wait for userspace."""
    argv = qemu_argv(disks, target, list(macs), options.accel or default_accel(),
                     machine, bus)
    return run_boot(argv, options.timeout)
