"""``serial=`` → serial ports, the Xen PV console → a serial console, ``channel=``.

A PV or PVH guest talked on Xen's PV console (hvc0); on KVM that is the
first serial port (ttyS0), with libvirt's console on top of it.
"""

from __future__ import annotations

from xenshift.config.devices import ChannelSpec, SerialSpec, format_serial
from xenshift.config.model import GuestType
from xenshift.convert.libvirt.context import KvmRule, MapContext
from xenshift.convert.libvirt.kvm_domain import CharDevice, CharSource

RULES = (
    KvmRule("serial", "devices/serial",
            "pty, null, vc, file:, pipe:, tcp:, telnet:, unix: and /dev/ nodes "
            "map to serial types; the first also becomes the console"),
    KvmRule("channel", "devices/channel",
            "connection=pty → type pty, socket → unix (bind, path); target "
            "virtio with the channel name"),
)

# QEMU -serial kinds libvirt has a serial type for, and what it is called.
_SIMPLE_TYPES = {"pty": "pty", "null": "null", "vc": "vc"}
_PATH_TYPES = {"file": "file", "pipe": "pipe", "device": "dev"}
_SOCKET_SERVER = ("server", "server=on", "server=yes")


def apply(ctx: MapContext) -> None:
    """Serial ports, the console and channels."""
    ports = _serials(ctx)
    if not ports and ctx.config.guest_type is not GuestType.HVM:
        ports = [CharDevice("serial", "pty", target_port=0)]
        ctx.added("console", "serial pty, console on ttyS0", "the Xen PV console "
                  "(hvc0) becomes the first serial port: the guest's getty and "
                  "console= must move to ttyS0")
    ctx.domain.devices.extend(ports)
    if ports:
        first = ports[0]
        ctx.domain.devices.append(CharDevice("console", first.type, first.source,
                                             target_type="serial", target_port=0))
    for index, channel in enumerate(ctx.config.channels):
        ctx.domain.devices.append(_channel(ctx, channel, channel.name or f"#{index}"))


def _serials(ctx: MapContext) -> list[CharDevice]:
    ports: list[CharDevice] = []
    for index, spec in enumerate(ctx.config.serials):
        item = f"#{index}"
        if spec.kind == "none":
            ctx.kept("serial", "no serial port", item=item, value="none")
            continue
        char = _serial(spec)
        if char is None:
            ctx.dropped("serial", f"QEMU's {spec.kind} serial backend has no "
                        "libvirt serial type", item=item, value=format_serial(spec))
            continue
        char.target_port = len(ports)
        ports.append(char)
        ctx.kept("serial", f"serial type {char.type} on port {char.target_port}",
                 item=item, value=format_serial(spec))
    return ports


def _serial(spec: SerialSpec) -> CharDevice | None:
    if spec.kind in _SIMPLE_TYPES:
        return CharDevice("serial", _SIMPLE_TYPES[spec.kind])
    if spec.kind in _PATH_TYPES:
        return CharDevice("serial", _PATH_TYPES[spec.kind], CharSource(path=spec.target))
    server = any(option in _SOCKET_SERVER for option in spec.options)
    mode = "bind" if server else "connect"
    if spec.kind in ("tcp", "telnet"):
        return CharDevice("serial", "tcp", CharSource(
            mode=mode, host=spec.host or "0.0.0.0", service=str(spec.port),
            protocol="telnet" if spec.kind == "telnet" else "raw"))
    if spec.kind == "unix":
        return CharDevice("serial", "unix", CharSource(mode=mode, path=spec.target))
    return None


def _channel(ctx: MapContext, spec: ChannelSpec, item: str) -> CharDevice:
    if spec.connection == "socket":
        char = CharDevice("channel", "unix", CharSource(mode="bind", path=spec.path))
    else:
        char = CharDevice("channel", "pty")
    char.target_type, char.target_name = "virtio", spec.name
    ctx.changed("channel", f"virtio channel type {char.type}", "a virtio-serial "
                "port replaces the Xen PV channel (the guest reads it as "
                f"/dev/virtio-ports/{spec.name or '...'})", item=item,
                before=f"connection={spec.connection}")
    if spec.backend:
        ctx.dropped("channel", "a Xen backend domain served it", item=item,
                    value=f"backend={spec.backend}")
    for unknown in spec.unknown:
        ctx.dropped("channel", "xl ignores this item too", item=item, value=unknown)
    return char
