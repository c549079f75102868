"""Serial port devices (``serial=``), in QEMU's ``-serial`` syntax.

xl takes ``serial`` as one string or a list of them and hands each to the
device model as ``-serial DEVICE``, so the syntax is QEMU's: a word
(``pty``, ``none``, ``null``, ``stdio``, ``vc``, ``msmouse``, ``braille``),
``KIND:TARGET`` (``file: pipe: udp: tcp: telnet: websocket: unix: chardev:
mon: vc:``), or a host device node (``/dev/ttyS0``, Windows ``COM1``).
Socket kinds take ``,option`` suffixes (``,server=on,wait=off``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, cast

from xenshift.config.devices.spec_context import SpecContext
from xenshift.errors import Location

SerialKind = Literal["none", "null", "pty", "stdio", "vc", "msmouse", "braille",
                     "file", "pipe", "udp", "tcp", "telnet", "websocket", "unix",
                     "chardev", "mon", "device"]

_WORDS = ("none", "null", "pty", "stdio", "vc", "msmouse", "braille")
_PREFIXED = ("vc", "file", "pipe", "udp", "tcp", "telnet", "websocket", "unix",
             "chardev", "mon")
# Kinds whose target is [host]:port, and kinds that take ,options after it.
_NETWORK = ("tcp", "telnet", "websocket")
_WITH_OPTIONS = (*_NETWORK, "unix")
_HOST_PORT = re.compile(r"(?P<host>[^,]*):(?P<port>[0-9]+)")
_DEVICE = re.compile(r"/dev/.+|COM[0-9]+")


@dataclass(frozen=True)
class SerialSpec:
    """One serial device: its kind, target and socket options.

    ``target`` is the file or socket path, device node, ``[host]:port``,
    chardev id, ``vc`` size or (for ``mon``) the wrapped device.
    """

    kind: SerialKind
    target: str | None = None
    options: tuple[str, ...] = ()

    @property
    def host(self) -> str | None:
        """The host of a tcp, telnet or websocket device ("" for any)."""
        address = self._address()
        return address["host"] if address else None

    @property
    def port(self) -> int | None:
        """The TCP port of a tcp, telnet or websocket device."""
        address = self._address()
        return int(address["port"]) if address else None

    @property
    def inner(self) -> SerialSpec | None:
        """The device a ``mon:`` multiplexes with the QEMU monitor."""
        return parse_serial(self.target or "") if self.kind == "mon" else None

    def _address(self) -> re.Match[str] | None:
        return _HOST_PORT.fullmatch(self.target or "") if self.kind in _NETWORK else None


def parse_serial(text: str, location: Location | None = None) -> SerialSpec:
    """Parse one serial device string; SpecError for one QEMU rejects."""
    return _read(SpecContext("serial", text, location), text)


def _read(ctx: SpecContext, text: str) -> SerialSpec:
    """Parse ``text``, the whole of ``ctx.text`` or the device inside mon:."""
    if text in _WORDS:
        return SerialSpec(cast(SerialKind, text))
    if _DEVICE.fullmatch(text):
        return SerialSpec("device", text)
    kind, colon, rest = text.partition(":")
    if not colon or kind not in _PREFIXED:
        raise ctx.error("unknown serial device", text)
    target, *options = rest.split(",") if kind in _WITH_OPTIONS else [rest]
    if not target:
        raise ctx.error(f"{kind}: needs a target in", text)
    if kind in _NETWORK and not _HOST_PORT.fullmatch(target):
        raise ctx.error(f"{kind}: needs [host]:port, not", target)
    if kind == "mon":
        _read(ctx, target)
    return SerialSpec(cast(SerialKind, kind), target, tuple(options))


def format_serial(spec: SerialSpec) -> str:
    """The device string QEMU (and parse_serial) reads back as ``spec``."""
    if spec.kind == "device":
        return spec.target or ""
    if spec.target is None:
        return spec.kind
    return ",".join((f"{spec.kind}:{spec.target}", *spec.options))
