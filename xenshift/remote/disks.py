"""A remote guest's disks, exported read-only to this machine over NBD.

As virt-v2v does for ``-i libvirt -ic xen+ssh://``, each disk is served
on a local unix socket and the conversion reads it through its qcow2
overlay: no copy is staged, the output image is written once, and the
host is only ever read. A file (raw, or qcow2/vhd/qed opened by QEMU's
format driver over the NBD export) is read by nbdkit's ssh plugin through
SFTP; a block device (``phy:`` LVM volumes), which SFTP cannot size, by
:mod:`xenshift.remote.nbd_relay`. Every export is stopped when the
conversion ends, whatever its outcome.
"""

from __future__ import annotations

import json
import select
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from xenshift.config.devices.disk import DiskSpec
from xenshift.inspect.errors import CorruptImageError, MissingDiskError
from xenshift.inspect.sources import DiskImage
from xenshift.processes import stop_process
from xenshift.sshhost import RemoteError, SshHost

START_TIMEOUT_S = 60
_STOP_TIMEOUT_S = 10


def nbd_uri(socket: Path) -> str:
    """The NBD URI QEMU and libguestfs open for an export on ``socket``."""
    return f"nbd+unix:///?socket={socket}"


def _kinds(host: SshHost, paths: list[str]) -> list[tuple[str, int]]:
    """(kind, size) of each path on the host: file, block, missing, unreadable, other."""
    checks = []
    for path in paths:
        p = shlex.quote(path)
        checks.append(f"if [ ! -e {p} ]; then echo missing 0; "
                      f"elif [ ! -r {p} ]; then echo unreadable 0; "
                      f"elif [ -b {p} ]; then echo block $(blockdev --getsize64 {p}); "
                      f"elif [ -f {p} ]; then echo file $(stat -Lc %s {p}); "
                      "else echo other 0; fi")
    proc = host.run("sh", "-c", "; ".join(checks))
    lines = proc.stdout.decode(errors="replace").split("\n")
    kinds = []
    for line in lines[:len(paths)]:
        kind, _, size = line.partition(" ")
        kinds.append((kind, int(size) if size.strip().isdigit() else 0))
    if proc.returncode != 0 or len(kinds) != len(paths):
        raise RemoteError(f"{host.target.login}: cannot look at the guest's disks: "
                          f"{proc.stderr.decode(errors='replace').strip() or 'no answer'}")
    return kinds


class RemoteDisks:
    """The NBD exports of one guest's disks; use as a context manager."""

    def __init__(self, host: SshHost):
        self.host = host
        self._dir: Path | None = None
        self._procs: list[subprocess.Popen] = []

    def __enter__(self) -> "RemoteDisks":
        # Unix socket paths are short: a directory of its own under /tmp.
        self._dir = Path(tempfile.mkdtemp(prefix="xenshift-nbd-"))
        return self

    def __exit__(self, *exc) -> None:
        for proc in self._procs:
            stop_process(proc, _STOP_TIMEOUT_S)
        self._procs.clear()
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def lost(self) -> str | None:
        """Why reading from the host failed, if an export lost its connection."""
        for log in sorted(self._dir.glob("*.log")) if self._dir else ():
            errors = [line for line in log.read_text(errors="replace").splitlines()
                      if "error:" in line]
            if errors:
                return f"{log.stem}: {errors[0].split('error: ', 1)[1]}"
        return None

    def export(self, specs: list[DiskSpec], where: str) -> list[DiskImage]:
        """Export the disks (cdroms and empty drives left out) of ``specs``,
        named in messages as disks of ``where``."""
        specs = [s for s in specs if not s.is_cdrom and s.target]
        if not specs:
            raise MissingDiskError("the config lists no disk to convert", where)
        login = self.host.target.login
        kinds = _kinds(self.host, [s.target for s in specs])
        for spec, (kind, _) in zip(specs, kinds):
            label = f"{login}:{spec.target}"
            if kind == "missing":
                raise MissingDiskError(f"no such disk image (disk {spec.vdev} in {where})",
                                       label)
            if kind != "file" and kind != "block":
                raise CorruptImageError(f"not a readable file or block device (disk "
                                        f"{spec.vdev} in {where}): {kind}", label)
        return [self._open(spec, kind, f"{login}:{spec.target}")
                for spec, (kind, _) in zip(specs, kinds)]

    def _open(self, spec: DiskSpec, kind: str, label: str) -> DiskImage:
        socket = self._dir / f"{spec.vdev}.sock"
        log = self._dir / f"{spec.vdev}.log"
        if kind == "file":
            self._nbdkit(spec.target, socket, log)
        else:
            self._relay(spec.target, socket, log)
        return self._probe(spec, socket, log, label)

    def _nbdkit(self, path: str, socket: Path, log: Path) -> None:
        target, o = self.host.target, self.host.options
        params = [f"host={target.host}", f"path={path}", "timeout=15"]
        params += [f"user={target.user}"] if target.user else []
        params += [f"port={target.port}"] if target.port else []
        params += [f"identity={Path(o.identity).resolve()}"] if o.identity else []
        params += [f"known-hosts={Path(o.known_hosts).resolve()}"] if o.known_hosts else []
        # nbdkit reads the password from the file: it is on no command line.
        params += [f"password=+{Path(o.password_file).resolve()}"] if o.password_file else []
        pidfile = socket.with_suffix(".pid")
        with log.open("wb") as err:
            proc = subprocess.Popen(["nbdkit", "--exit-with-parent", "-r", "-f", "-U",
                                     str(socket), "-P", str(pidfile), "ssh", *params],
                                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                    stderr=err)
        self._procs.append(proc)
        deadline = time.monotonic() + START_TIMEOUT_S
        while not pidfile.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RemoteError(f"nbdkit did not start: {_last_line(log)}")
            time.sleep(0.05)

    def _relay(self, device: str, socket: Path, log: Path) -> None:
        with log.open("wb") as err:
            proc = subprocess.Popen([sys.executable, "-m", "xenshift.remote.nbd_relay",
                                     str(socket), device, "--", *self.host.ssh_argv()],
                                    stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=err, env=self.host.env(), text=True)
        self._procs.append(proc)
        ready, _, _ = select.select([proc.stdout], [], [], START_TIMEOUT_S)
        line = proc.stdout.readline().strip() if ready else ""
        if not line.startswith("ready"):
            proc.wait(_STOP_TIMEOUT_S)
            detail = line.removeprefix("error: ") or _last_line(log) or "no answer"
            raise RemoteError(f"{self.host.target.login}:{device}: cannot read the block "
                              f"device: {detail}")

    def _probe(self, spec: DiskSpec, socket: Path, log: Path, label: str) -> DiskImage:
        uri = nbd_uri(socket)
        proc = subprocess.run(["qemu-img", "info", "--output=json", "-f", spec.format, uri],
                              capture_output=True, text=True, timeout=START_TIMEOUT_S)
        if proc.returncode != 0:
            why = _last_line(log) or (proc.stderr.strip().splitlines() or ["unreadable"])[-1]
            raise CorruptImageError(f"not a readable disk image (disk {spec.vdev}): {why}",
                                    label)
        info = json.loads(proc.stdout)
        if info.get("backing-filename"):
            # QEMU would look for the backing file on this machine.
            raise CorruptImageError(f"a {spec.format} image with a backing file "
                                    f"({info['backing-filename']}): convert its chain on "
                                    "the host first (qemu-img convert)", label)
        if not info.get("virtual-size"):
            raise CorruptImageError(f"empty disk image (disk {spec.vdev})", label)
        return DiskImage(uri, spec.vdev, spec.format, info["virtual-size"], label)


def _last_line(log: Path) -> str:
    try:
        lines = log.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return lines[-1] if lines else ""
