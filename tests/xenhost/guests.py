"""Counter guests on the Xen test hosts, and what their consoles say.

xenconsoled in each dom0 logs every domU's console to
``/var/log/xen/console/guest-NAME.log`` (a migrated domain arrives as
``NAME--incoming``, so its log may carry that name): the tests read those
logs over ssh and parse the counter guest's lines (``fixtures.xenhost.domu``).
"""

from __future__ import annotations

import re
import shlex
import time
from dataclasses import dataclass

from fixtures.xenhost.counter import CounterGuest
from fixtures.xenhost.host import HostError, XenHost

# A counter guest's kernel boots in 10-60 s under TCG (HVM: its kernel comes
# through SeaBIOS's option ROM, first tick 150-220 s after xl create with both
# hosts busy); PVH boots sometimes triple-fault under QEMU's emulated SVM,
# and xl restarts them.
START_TIMEOUT = 420.0
_TICK = re.compile(r"xenshift-tick (\d+) (\S+) boot=(\S+)")
_CHECK = re.compile(r"xenshift-check (\d+) ([0-9a-f]{32})")
_GUEST = re.compile(r"xenshift-guest boot=(\S+) pattern=([0-9a-f]{32})")


@dataclass(frozen=True)
class Tick:
    n: int
    clock: float
    boot: str


@dataclass(frozen=True)
class Console:
    """The counter guest's lines in a console log, in order."""

    ticks: list[Tick]
    checks: list[tuple[int, str]]
    guest: tuple[str, str] | None  # boot id and pattern md5 of the latest boot

    @property
    def last(self) -> Tick | None:
        return self.ticks[-1] if self.ticks else None


def _clock(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return float("nan")


def console_text(host: XenHost, name: str) -> str:
    """All ``name``'s console logs on ``host`` hold so far."""
    log = f"/var/log/xen/console/guest-{name}"
    return host.run(f"cat {shlex.quote(log)}.log {shlex.quote(log)}--incoming.log "
                    "2>/dev/null || true").stdout


def console(host: XenHost, name: str) -> Console:
    """Parse what ``name``'s console logs on ``host`` hold so far."""
    text = console_text(host, name)
    ticks = [Tick(int(m[1]), _clock(m[2]), m[3]) for m in _TICK.finditer(text)]
    checks = [(int(m[1]), m[2]) for m in _CHECK.finditer(text)]
    guests = _GUEST.findall(text)
    return Console(ticks, checks, guests[-1] if guests else None)


@dataclass
class RunningGuest:
    """A counter guest started on a host, with what it said when it came up."""

    guest: CounterGuest
    host: XenHost
    boot: str = ""
    pattern: str = ""

    @property
    def name(self) -> str:
        return self.guest.name

    def wait_tick(self, host: XenHost, after: int, timeout: float = 120.0) -> Tick:
        """The first tick past ``after`` of this boot on ``host`` (bounded)."""
        deadline = time.monotonic() + timeout
        while True:
            seen = console(host, self.name)
            later = [t for t in seen.ticks if t.n > after and t.boot == self.boot]
            if later:
                return later[0]
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{self.name} on host {host.name}: no tick after {after} of boot "
                    f"{self.boot} in {timeout:.0f} s; last lines: {seen.ticks[-3:]}")
            time.sleep(2)

    def pattern_checks(self, host: XenHost) -> list[str]:
        """The pattern md5s this boot printed on ``host``."""
        return [md5 for _, md5 in console(host, self.name).checks]


def crashed(host: XenHost, name: str) -> bool:
    """Whether the domain is gone or stopped (crashed, shut down)."""
    out = host.run(f"xl list {shlex.quote(name)} 2>/dev/null | tail -n +2", check=False).stdout
    return not out.strip() or any(flag in out.split()[4] for flag in "sc")


# A guest that dies before its first tick is started again, this often
# (PVH boots triple-faulted now and then under single-threaded TCG).
START_TRIES = 3


def start(host: XenHost, guest: CounterGuest) -> RunningGuest:
    """``xl create`` the guest on ``host`` and wait for its first tick."""
    config = host.rundir / "guests" / f"{guest.name}.cfg"
    config.parent.mkdir(exist_ok=True)
    config.write_text(guest.config())
    for _ in range(START_TRIES):
        host.run(f"xl destroy {guest.name} 2>/dev/null; "
                 f"rm -f /var/log/xen/console/guest-{guest.name}*.log", check=False)
        host.xl("create", str(config), timeout=180)
        running = RunningGuest(guest, host)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline and not crashed(host, guest.name):
            seen = console(host, guest.name)
            if seen.guest and any(t.boot == seen.guest[0] for t in seen.ticks):
                running.boot, running.pattern = seen.guest
                return running
            time.sleep(2)
    raise HostError(f"{guest.name} printed no tick on host {host.name} in {START_TRIES} "
                    f"starts; its console ended:\n{console_text(host, guest.name)[-2000:]}")
