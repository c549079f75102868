"""A guest's config read from its Xen host, and the check that it is not running.

GUEST is a domain name or an absolute config path on the host. A name
xl knows (a domain that exists there) gives libxl's record of it,
``xl list -l NAME``; otherwise its config file is ``/etc/xen/NAME.cfg``
or ``/etc/xen/NAME``, as xl looks for it. Both are read by the same engine
as local files, and their errors name ``[USER@]HOST:PATH:LINE:COL``.

A domain that runs (or is paused, or blocked) on the host is refused: its
disks change under a copy. One shut down but kept (``on_poweroff =
"preserve"``) or crashed is not running and converts.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import PurePosixPath

from xenshift.convert.source import Guest, guest_from_bytes, guest_from_libxl_json
from xenshift.errors import InputError
from xenshift.limits import MAX_INPUT_BYTES
from xenshift.sshhost import RemoteError, SshHost

XEN_CONFIG_DIR = "/etc/xen"
_NOT_FOUND = 3
_RUNNING_STATES = set("rbp")
_MISSING_COMMAND = 127
# What xl says of a name it knows no domain by.
_UNKNOWN_DOMAIN = "is an invalid domain identifier"


class GuestRunningError(RemoteError):
    """The guest runs on its host: its disks would change under the copy."""


@dataclass
class RemoteGuest:
    """A guest read from a host: the parsed guest and where its config came from."""

    guest: Guest
    source: str          # HOST:PATH, or HOST:xl list -l NAME


def _state(host: SshHost, name: str) -> str | None:
    """The xl state flags of domain ``name`` (``-b----``), None if xl knows none."""
    proc = host.run("xl", "list", name)
    if proc.returncode == _MISSING_COMMAND:
        raise RemoteError(f"{host.target.login}: no xl there (is it a Xen host?): cannot tell "
                          f"whether {name} runs")
    if proc.returncode != 0:
        detail = proc.stderr.decode(errors="replace").strip()
        if _UNKNOWN_DOMAIN in detail:
            return None
        # Not knowing whether it runs is not knowing that it does not.
        raise RemoteError(f"{host.target.login}: cannot tell whether {name} runs: xl list "
                          f"failed: {detail.splitlines()[-1] if detail else proc.returncode}")
    for line in proc.stdout.decode(errors="replace").splitlines()[1:]:
        fields = line.split()
        if len(fields) >= 5 and fields[0] == name:
            return fields[4]
    raise RemoteError(f"{host.target.login}: xl list {name} printed no line for it")


def refuse_running(host: SshHost, name: str, state: str | None) -> None:
    """GuestRunningError if the xl state says the domain runs."""
    if state is not None and _RUNNING_STATES & set(state):
        raise GuestRunningError(
            f"{host.target.login}: the guest {name} is running there (xl state {state}): "
            f"its disks change while they are read. Shut it down first (xl shutdown {name}); "
            "a live guest is moved with xen-migrate")


def _read(host: SshHost, path: str) -> bytes:
    proc = host.run("cat", "--", path, limit=MAX_INPUT_BYTES)
    if proc.returncode != 0:
        detail = proc.stderr.decode(errors="replace").strip().splitlines()
        raise InputError(f"{host.target.login}:{path}: cannot read the config: "
                         f"{detail[-1] if detail else 'cat failed'}")
    return proc.stdout


def _config_path(host: SshHost, name: str) -> str:
    candidates = [f"{XEN_CONFIG_DIR}/{name}.cfg", f"{XEN_CONFIG_DIR}/{name}"]
    test = "; ".join(f"test -f {shlex.quote(c)} && {{ echo {shlex.quote(c)}; exit 0; }}"
                     for c in candidates)
    proc = host.run("sh", "-c", f"{test}; exit {_NOT_FOUND}")
    if proc.returncode != 0:
        raise InputError(f"{host.target.login}: no domain {name} known to xl and no config "
                         f"file {' or '.join(candidates)}")
    return proc.stdout.decode().strip()


def fetch_guest(host: SshHost, guest: str) -> RemoteGuest:
    """Read ``guest`` (a domain name or an absolute config path) from ``host``;
    refuse it if it runs there."""
    login = host.target.login
    if guest.startswith("/"):
        path = guest
    elif "/" in guest or not guest:
        raise InputError(f"{guest!r}: GUEST is a domain name on {login} or an absolute "
                         "config path there")
    else:
        state = _state(host, guest)
        refuse_running(host, guest, state)
        if state is not None:
            source = f"{login}:xl list -l {guest}"
            proc = host.run("xl", "list", "-l", guest, limit=MAX_INPUT_BYTES)
            if proc.returncode != 0:
                raise RemoteError(f"{source}: failed: "
                                  f"{proc.stderr.decode(errors='replace').strip()}")
            return RemoteGuest(guest_from_libxl_json(proc.stdout, source), source)
        path = _config_path(host, guest)
    source = f"{login}:{path}"
    parsed = guest_from_bytes(_read(host, path), PurePosixPath(source))
    name = parsed.config.name
    if name:
        refuse_running(host, name, _state(host, name))
    return RemoteGuest(parsed, source)
