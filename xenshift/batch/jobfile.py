"""Batch job files: TOML naming the guests of a fleet and how to convert them.

```toml
[job]
target = "kvm"          # hvm | pvh | kvm
output = "out"
workers = 2
config_only = false
cluster = "tcp://sched:8786"  # optional: run on a Dask cluster

[[guest]]
config = "guests/*.cfg" # a path or a glob, relative to the job file
# any job option may be overridden per guest; placement on a cluster:
hosts = ["xen1-conv"]   # only these workers (see xenshift.batch.placement)

[[guest]]
source = "ssh://root@xen1"  # read from this Xen host (also a job option)
config = "web01"            # then: a domain name or a config path there
```

With guests read from Xen hosts, ``per_host`` (a job option) caps the
conversions that read from one host at a time, and ``ssh_identity``,
``ssh_known_hosts``, ``ssh_host_key_checking`` and ``password_file`` say
how to log in (as the commands' options do).

The whole file is checked before anything runs: TOML syntax, unknown or
mistyped keys, targets, globs that match nothing, guests listed twice.
Every problem is reported at once, as ``FILE:LINE: message``.
"""

from __future__ import annotations

import glob
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xenshift.batch.placement import PLACEMENT_KEYS, Placement, read_placement
from xenshift.errors import ConfigError, ConfigErrors, InputError, Location, excerpt
from xenshift.inputs import read_input
from xenshift.sshhost import HOST_KEY_CHECKING, SshOptions, SshTarget

TARGETS = ("hvm", "pvh", "kvm")
FORMATS = ("qcow2", "raw")

# Options a guest may override, with their type and allowed values.
_OPTIONS: dict[str, tuple[type, tuple | None]] = {
    "target": (str, TARGETS),
    "config_only": (bool, None),
    "format": (str, FORMATS),
    "verify_boot": (bool, None),
    "bridge": (dict, None),
    "network": (dict, None),
    "machine": (str, ("q35", "pc")),
    "accel": (str, ("kvm", "tcg")),
    "disk_bus": (str, ("virtio", "sata")),
    "nic_model": (str, ("e1000", "rtl8139")),
    "hdtype": (str, ("ide", "ahci")),
    "source": (str, None),
    "ssh_identity": (str, None),
    "ssh_known_hosts": (str, None),
    "ssh_host_key_checking": (str, HOST_KEY_CHECKING),
    "password_file": (str, None),
}
_JOB_ONLY: dict[str, type] = {"output": str, "workers": int, "per_host": int}
# Where the job runs, not how its guests convert: checked on its own, with
# the form a value takes in its message.
_RUN_KEYS = frozenset({"cluster"})


@dataclass(frozen=True)
class GuestOptions:
    """How one guest is converted (job options with its overrides)."""

    target: str
    config_only: bool = False
    format: str = "qcow2"
    verify_boot: bool = False
    bridge: tuple[tuple[str, str], ...] = ()
    network: tuple[tuple[str, str], ...] = ()
    machine: str = "q35"
    accel: str = "kvm"
    disk_bus: str = "virtio"
    nic_model: str = "e1000"
    hdtype: str = "ide"
    source: str | None = None    # ssh://[USER@]HOST[:PORT]: read from that Xen host
    ssh_identity: str | None = None
    ssh_known_hosts: str | None = None
    ssh_host_key_checking: str = "yes"
    password_file: str | None = None

    def ssh(self) -> SshOptions:
        """How to log in to the source host."""
        return SshOptions(self.ssh_identity, self.ssh_known_hosts, self.password_file,
                          self.ssh_host_key_checking)


@dataclass(frozen=True)
class GuestJob:
    """One guest of the job: its config file (on its host, with a
    ``source``: a domain name or config path there) and its options."""

    source: Path
    options: GuestOptions
    entry: int                   # which [[guest]] table named it (1-based)
    placement: Placement = Placement()

    @property
    def host(self) -> str | None:
        """The Xen host the guest is read from, None for a local config."""
        return self.options.source

    @property
    def key(self) -> str:
        """The guest's identity in the journal: its absolute config path,
        or HOST GUEST for a guest read from a host."""
        return f"{self.host} {self.source}" if self.host else str(self.source)


@dataclass
class Job:
    """A parsed, checked job file."""

    path: Path
    output: Path
    workers: int
    guests: list[GuestJob] = field(default_factory=list)
    cluster: str | None = None   # a Dask scheduler's address
    per_host: int | None = None  # conversions reading from one host at a time


class _Lines:
    """Finds the line of a key inside the n-th table of a TOML file.

    tomllib gives values without positions; the lines are needed only for
    messages, so a scan of the text for ``key =`` inside the right table is
    enough.
    """

    _HEADER = re.compile(r"\s*(\[\[?)\s*([A-Za-z0-9_.-]+)\s*\]\]?")

    def __init__(self, text: str):
        self.tables: list[tuple[str, int, int]] = []  # (name, nth, line)
        counts: dict[str, int] = {}
        self.lines = text.splitlines()
        for number, line in enumerate(self.lines, 1):
            m = self._HEADER.match(line)
            if m:
                name = m.group(2)
                counts[name] = counts.get(name, 0) + 1
                self.tables.append((name, counts[name], number))

    def of(self, table: str, nth: int = 1, key: str | None = None) -> int:
        starts = [line for name, n, line in self.tables if name == table and n == nth]
        if not starts:
            return 1
        start = starts[0]
        if key is None:
            return start
        pattern = re.compile(rf"\s*{re.escape(key)}\s*=")
        for number in range(start + 1, len(self.lines) + 1):
            line = self.lines[number - 1]
            if self._HEADER.match(line):
                break
            if pattern.match(line):
                return number
        return start


class _Checker:
    def __init__(self, path: Path, text: str):
        self.path = path
        self.lines = _Lines(text)
        self.errors: list[ConfigError] = []

    def error(self, line: int, message: str) -> None:
        self.errors.append(ConfigError(message, Location(str(self.path), line)))

    def option(self, table: str, nth: int, key: str, value: Any) -> Any:
        """A checked option value, or None (with an error) if it is bad."""
        line = self.lines.of(table, nth, key)
        kind, allowed = _OPTIONS[key]
        if not isinstance(value, kind):
            self.error(line, f"{key} must be a {kind.__name__}, not {value!r}")
            return None
        if allowed is not None and value not in allowed:
            self.error(line, f"{key} = {value!r}: choose from {', '.join(allowed)}")
            return None
        if key == "source":
            try:
                SshTarget.parse(value, "source =")
            except InputError as err:
                self.error(line, err.message)
                return None
        if key in ("ssh_identity", "ssh_known_hosts", "password_file"):
            return str(self.path.resolve().parent / value)
        if kind is dict:
            bad = [k for k, v in value.items() if not isinstance(v, str)]
            if bad:
                self.error(line, f"{key}: every value must be a string "
                                 f"(e.g. {{ br0 = \"virbr0\" }})")
                return None
            return tuple(sorted(value.items()))
        return value

    def options(self, table: str, nth: int, values: dict, allowed: set[str]) -> dict:
        """The known options of one table; unknown keys are errors."""
        out = {}
        for key, value in values.items():
            if key not in allowed:
                hint = ", ".join(sorted(allowed))
                self.error(self.lines.of(table, nth, key),
                           f"unknown key {key!r} in [{table}] (known: {hint})")
            elif key in _OPTIONS:
                checked = self.option(table, nth, key, value)
                if checked is not None:
                    out[key] = checked
        return out


def _expand(base: Path, pattern: str) -> list[Path]:
    full = pattern if os.path.isabs(pattern) else str(base / pattern)
    if glob.has_magic(full):
        return sorted(Path(p).resolve() for p in glob.glob(full) if Path(p).is_file())
    return [Path(full).resolve()]


def load_job(path: str | os.PathLike) -> Job:
    """Read and check a job file; ConfigErrors lists every problem."""
    p = Path(path)
    return parse_job(read_input(p, "job file"), p)


def parse_job(raw: bytes, p: Path) -> Job:
    """Check the bytes of job file ``p``; ConfigErrors lists every problem.

    Guest configs are looked for relative to ``p``'s directory.
    """
    try:
        text = raw.decode()
    except UnicodeDecodeError as err:
        line = raw.count(b"\n", 0, err.start) + 1
        column = err.start - (raw.rfind(b"\n", 0, err.start) + 1) + 1
        raise InputError(f"not UTF-8 text: {err.reason} (byte "
                         f"{raw[err.start]:#04x})", Location(str(p), line, column)) from None
    try:
        data = tomllib.loads(text)
    except RecursionError:
        # tomllib parses nested arrays and tables recursively.
        raise ConfigErrors([ConfigError(
            "not valid TOML here: nested deeper than Python's TOML parser "
            "reads (limit: nesting depth)", Location(str(p)))]) from None
    except tomllib.TOMLDecodeError as err:
        m = re.search(r"\(at line (\d+), column (\d+)\)", str(err))
        where = Location(str(p), int(m.group(1)), int(m.group(2))) if m else Location(str(p))
        raise ConfigErrors([ConfigError(f"not valid TOML: {str(err).split(' (at')[0]}",
                                        where)]) from None
    check = _Checker(p, text)
    for key in data:
        if key not in ("job", "guest"):
            check.error(check.lines.of(key), f"unknown table [{key}] (a job has "
                                             "[job] and [[guest]] tables)")
    job_table = data.get("job")
    if not isinstance(job_table, dict):
        check.error(1, "missing the [job] table")
        raise ConfigErrors(check.errors)
    job_options = check.options("job", 1, {k: v for k, v in job_table.items()
                                            if k not in _RUN_KEYS},
                                set(_OPTIONS) | set(_JOB_ONLY))
    if "target" not in job_table:
        check.error(check.lines.of("job"), "[job] needs a target "
                                           "(\"hvm\", \"pvh\" or \"kvm\")")
    workers = job_table.get("workers", 2)
    if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
        check.error(check.lines.of("job", 1, "workers"),
                    f"workers must be a whole number of at least 1, not {workers!r}")
        workers = 1
    per_host = job_table.get("per_host")
    if per_host is not None and (not isinstance(per_host, int) or isinstance(per_host, bool)
                                 or per_host < 1):
        check.error(check.lines.of("job", 1, "per_host"),
                    f"per_host must be a whole number of at least 1, not {per_host!r}")
        per_host = None
    output = job_table.get("output", "out")
    if not isinstance(output, str) or not output:
        check.error(check.lines.of("job", 1, "output"), "output must be a directory name")
        output = "out"
    cluster = job_table.get("cluster")
    if cluster is not None and (not isinstance(cluster, str) or "://" not in cluster):
        check.error(check.lines.of("job", 1, "cluster"),
                    f"cluster must be a scheduler address such as "
                    f"\"tcp://sched:8786\", not {cluster!r}")
        cluster = None
    guests_tables = data.get("guest", [])
    if not isinstance(guests_tables, list) or not guests_tables:
        check.error(check.lines.of("job"), "the job lists no guests "
                                           "(add [[guest]] tables with config = ...)")
        guests_tables = []
    base = p.resolve().parent
    guests: list[GuestJob] = []
    seen: dict[str, int] = {}
    for nth, table in enumerate(guests_tables, 1):
        overrides = check.options("guest", nth, table,
                                  set(_OPTIONS) | {"config"} | PLACEMENT_KEYS)
        pattern = table.get("config")
        line = check.lines.of("guest", nth, "config")
        if not isinstance(pattern, str) or not pattern:
            check.error(check.lines.of("guest", nth), "[[guest]] needs config = "
                                                      "\"PATH or GLOB\"")
            continue
        merged = {**job_options, **overrides}
        placement = read_placement(table, lambda key, message, nth=nth: check.error(
            check.lines.of("guest", nth, key), message))
        if "source" in table or "source" in job_table:
            # A guest of a Xen host: its config is read there when it runs
            # (none if the source is wrong, which is reported already).
            sources = [Path(pattern)] if merged.get("source") else []
        else:
            sources = _local_sources(check, base, pattern, line)
        merged.pop("output", None)
        merged.pop("workers", None)
        if "target" not in merged or not sources:
            continue  # already reported
        options = GuestOptions(**merged)
        for source in sources:
            job = GuestJob(source, options, nth, placement)
            if job.key in seen:
                check.error(line, f"{job.key} is already listed by [[guest]] "
                                  f"number {seen[job.key]}")
                continue
            seen[job.key] = nth
            guests.append(job)
    if check.errors:
        raise ConfigErrors(sorted(check.errors, key=lambda e: e.location.line or 0))
    out_path = Path(output) if os.path.isabs(output) else base / output
    return Job(p, out_path, workers, guests, cluster, per_host)


def _local_sources(check: _Checker, base: Path, pattern: str, line: int) -> list[Path]:
    """The config files ``pattern`` names; none (with an error) if it names none."""
    try:
        sources = _expand(base, pattern)
        found = bool(sources) and (glob.has_magic(pattern) or sources[0].exists())
    except OSError as err:
        check.error(line, f"config = '{excerpt(pattern)}': {err.strerror}")
        return []
    if not found:
        check.error(line, f"config = '{excerpt(pattern)}' matches no file")
        return []
    return sources
