"""An HVM guest's device model (QEMU upstream), saved the way libxl saves it.

After the guest is suspended, libxl stops its QEMU and has it write its
device state to a file (QMP ``stop``, ``xen-save-devices-state``), reads
the emulator's physmap keys from xenstore, and sends both after the libxc
stream as EMULATOR_XENSTORE_DATA and EMULATOR_CONTEXT.  Without them the
destination would start a fresh QEMU under a running guest: emulated
devices reset, PCI configuration lost.  If the migration is abandoned the
stopped QEMU is continued (QMP ``cont``), as libxl does on resume.

A guest without a device model (PVH) has no QMP socket and nothing to save.
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from typing import Any, Protocol

from xenshift.migrate.errors import BackendError
from xenshift.migrate.stream.libxl import DeviceModelState

# libxl's run and save directories; the tests point them elsewhere.
RUN_DIR = Path("/var/run/xen")
SAVE_DIR = Path("/var/lib/xen")
QMP_TIMEOUT = 60.0
QMP_MAX_LINE = 1 << 20
QMP_MAX_MESSAGES = 1000  # events QEMU may send before an answer
PHYSMAP_KEYS = ("start_addr", "size", "name")
# QEMU accepts "live" in xen-save-devices-state from 2.11 on.
LIVE_SINCE = (2, 11)


class Xenstore(Protocol):
    def xenstore_list(self, path: str) -> list[str]: ...

    def xenstore_read(self, path: str) -> str | None: ...


class Qmp:
    """One QMP session on a unix socket: commands and their answers."""

    def __init__(self, path: Path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(QMP_TIMEOUT)
        try:
            self.sock.connect(str(path))
            self.file = self.sock.makefile("rb")
            if "QMP" not in self._message():
                raise BackendError(f"{path}: no QMP greeting")
            self.execute("qmp_capabilities")
        except OSError as err:
            self.sock.close()
            raise BackendError(f"{path}: {err.strerror or err}") from None
        except BaseException:
            self.sock.close()
            raise

    def __enter__(self) -> "Qmp":
        return self

    def __exit__(self, *exc) -> None:
        self.file.close()
        self.sock.close()

    def execute(self, command: str, arguments: dict[str, Any] | None = None) -> Any:
        """Run ``command``; its ``return`` value, or BackendError."""
        request = {"execute": command}
        if arguments:
            request["arguments"] = arguments
        try:
            self.sock.sendall(json.dumps(request).encode() + b"\r\n")
            for _ in range(QMP_MAX_MESSAGES):
                message = self._message()
                if "error" in message:
                    desc = message["error"].get("desc", message["error"])
                    raise BackendError(f"the device model refused {command}: {desc}")
                if "return" in message:
                    return message["return"]
        except OSError as err:
            raise BackendError(f"{self.path}: {command}: {err.strerror or err}") from None
        raise BackendError(f"{self.path}: no answer to {command}")

    def _message(self) -> dict[str, Any]:
        line = self.file.readline(QMP_MAX_LINE)
        if not line.endswith(b"\n"):
            raise BackendError(f"{self.path}: the device model closed its QMP socket"
                               if not line else f"{self.path}: QMP message too long")
        try:
            message = json.loads(line)
        except ValueError:
            raise BackendError(f"{self.path}: QMP sent something that is not JSON") from None
        if not isinstance(message, dict):
            raise BackendError(f"{self.path}: QMP sent {line[:60]!r}")
        return message


class DeviceModel:
    """The QEMU that serves domain ``domid`` (in dom0), through libxl's
    QMP socket and the device-model path in xenstore."""

    def __init__(self, domid: int, xenstore: Xenstore):
        self.domid = domid
        self.xenstore = xenstore
        self.stopped = False

    @property
    def socket(self) -> Path:
        return RUN_DIR / f"qmp-libxl-{self.domid}"

    def save(self) -> DeviceModelState | None:
        """Stop QEMU and take its state; None when the guest has no QEMU."""
        if not self.socket.exists():
            return None
        path = SAVE_DIR / f"xenshift-dm-{self.domid}-{os.getpid()}"
        try:
            with Qmp(self.socket) as qmp:
                version = qmp.execute("query-version").get("qemu", {})
                qmp.execute("stop")
                self.stopped = True
                args: dict[str, Any] = {"filename": str(path)}
                if (version.get("major", 0), version.get("minor", 0)) >= LIVE_SINCE:
                    args["live"] = True
                qmp.execute("xen-save-devices-state", args)
            try:
                context = path.read_bytes()
            except OSError as err:
                raise BackendError(f"reading the device model's state {path}: "
                                   f"{err.strerror}") from None
        finally:
            path.unlink(missing_ok=True)
        return DeviceModelState(context, self.physmap())

    def physmap(self) -> tuple[tuple[str, str], ...]:
        """The physmap keys, relative to the device-model path, as libxl
        sends them in EMULATOR_XENSTORE_DATA."""
        root = f"/local/domain/0/device-model/{self.domid}"
        pairs = []
        for entry in self.xenstore.xenstore_list(f"{root}/physmap"):
            for key in PHYSMAP_KEYS:
                rel = f"physmap/{entry}/{key}"
                value = self.xenstore.xenstore_read(f"{root}/{rel}")
                if value is not None:
                    pairs.append((rel, value))
        return tuple(pairs)

    def resume(self) -> None:
        """Continue QEMU if ``save`` stopped it."""
        if self.stopped:
            with Qmp(self.socket) as qmp:
                qmp.execute("cont")
            self.stopped = False
