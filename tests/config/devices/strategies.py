"""Hypothesis strategies for valid device specs, for round-trip properties.

Each strategy builds spec objects the parsers can produce, with values the
spec syntax can carry (no commas, and so on), so that ``parse(format(x))``
must give ``x`` back.
"""

from __future__ import annotations

from hypothesis import assume, strategies as st

from xenshift.config.devices import (
    ChannelSpec, DiskSpec, PciAddress, PciSpec, SerialSpec, UsbCtrlSpec, UsbDevSpec,
    VfbSpec, VifRate, VifSpec, VnumaNode, parse_vif_rate)
from xenshift.config.devices.vif import COLO_KEYS
from xenshift.errors import SpecError

# Printable text without commas: what a key=value item can hold.
item_text = st.text(st.characters(min_codepoint=32, max_codepoint=0x2FF,
                                  blacklist_characters=","), max_size=10)
word = st.from_regex(r"[a-z0-9_./:-]{1,10}", fullmatch=True)


def optional(strategy: st.SearchStrategy) -> st.SearchStrategy:
    """``strategy`` or None."""
    return st.one_of(st.none(), strategy)


def unknown_items(known: set[str]) -> st.SearchStrategy[tuple[str, ...]]:
    """Items with keys outside ``known``: what xl ignores or warns about."""
    item = st.from_regex(r"[a-z][a-z0-9]{0,6}=[a-z0-9]{0,4}", fullmatch=True)
    return st.lists(item.filter(lambda text: text.split("=")[0] not in known),
                    max_size=2).map(tuple)


@st.composite
def disk_specs(draw: st.DrawFn, newer_words: bool = True) -> DiskSpec:
    """Disk specs as libxlu leaves them (cdroms read-only, and so on).

    Without ``newer_words``, only what Xen 4.17 can express: no
    ``trusted``, ``untrusted`` or ``grant_usage``.
    """
    is_cdrom = draw(st.booleans())
    target_text = st.text(st.characters(min_codepoint=32, max_codepoint=0x2FF), max_size=16)
    target = draw(optional(target_text) if is_cdrom else target_text)
    disk_format = "empty" if is_cdrom and not target else draw(
        st.sampled_from(["raw", "qcow", "qcow2", "vhd", "qed", "empty"]))
    colo_port = draw(optional(st.integers(-(2**31), 2**31 - 1).filter(bool)))
    return DiskSpec(
        vdev=draw(item_text), target=target, format=disk_format,
        readwrite=False if is_cdrom else draw(st.booleans()), is_cdrom=is_cdrom,
        backendtype=draw(optional(st.sampled_from(["phy", "qdisk", "tap", "standalone"]))),
        backend=draw(optional(item_text)),
        specification=draw(optional(st.sampled_from(["xen", "virtio"]))),
        script=draw(optional(item_text)),
        direct_io_safe=draw(st.booleans()),
        discard=draw(optional(st.booleans())),
        trusted=draw(optional(st.booleans())) if newer_words else None,
        grant_usage=draw(optional(st.booleans())) if newer_words else None,
        colo=draw(optional(st.booleans())),
        colo_host=draw(optional(item_text)), colo_port=colo_port,
        colo_export=draw(optional(item_text)),
        active_disk=draw(optional(item_text)), hidden_disk=draw(optional(item_text)),
        legacy_prefixes=tuple(draw(st.lists(st.sampled_from(
            ["phy", "file", "tap", "tap2", "tapdisk", "aio", "ioemu"]), max_size=2))))


@st.composite
def rate_texts(draw: st.DrawFn) -> str:
    """``RATE[@INTERVAL]`` texts of every shape libxlu accepts."""
    rate = (f"{draw(st.integers(1, 2**32 - 1))}{draw(st.sampled_from(['', 'K', 'M', 'G']))}"
            f"{draw(st.sampled_from(['B', 'b']))}/s")
    if draw(st.booleans()):
        unit = draw(st.sampled_from(["", "s", "ms", "us", "m", "u"]))
        rate += f"@{draw(st.integers(1, 5000))}{unit}"
    return rate


@st.composite
def vif_rates(draw: st.DrawFn) -> VifRate:
    """Rates that some ``rate=`` text gives."""
    try:
        return parse_vif_rate(draw(rate_texts()))
    except SpecError:
        assume(False)
        raise


macs = st.lists(st.integers(0, 255), min_size=6, max_size=6).map(
    lambda octets: ":".join(f"{octet:02x}" for octet in octets))
_VIF_KEYS = {"type", "mac", "bridge", "gatewaydev", "netdev", "ip", "script", "backend",
             "vifname", "model", "rate", "devid", "mtu", "vlan", "forwarddev", "accel"}


@st.composite
def vif_specs(draw: st.DrawFn) -> VifSpec:
    """Vif specs, unknown items included."""
    gatewaydev = draw(optional(item_text))
    colo_keys = draw(st.lists(st.sampled_from(sorted(COLO_KEYS)), unique=True, max_size=3))
    return VifSpec(
        type=draw(optional(st.sampled_from(["vif", "ioemu"]))), mac=draw(optional(macs)),
        bridge=draw(optional(item_text)), gatewaydev=gatewaydev,
        netdev_alias=gatewaydev is not None and draw(st.booleans()),
        ip=draw(optional(st.lists(st.from_regex(r"[0-9a-f.:/]{1,12}", fullmatch=True),
                                  max_size=3).map(tuple))),
        script=draw(optional(item_text)), backend=draw(optional(item_text)),
        vifname=draw(optional(item_text)), model=draw(optional(item_text)),
        rate=draw(optional(vif_rates())),
        devid=draw(optional(st.integers(0, 2**31))), mtu=draw(optional(st.integers(0, 65535))),
        vlan=draw(optional(item_text)), forwarddev=draw(optional(item_text)),
        accel=draw(optional(item_text)), trusted=draw(optional(st.booleans())),
        colo=tuple((key, draw(item_text)) for key in colo_keys),
        unknown=draw(unknown_items(_VIF_KEYS | COLO_KEYS)))


@st.composite
def pci_specs(draw: st.DrawFn) -> PciSpec:
    """PCI specs naming a device by address or by name."""
    address = PciAddress(draw(st.integers(0, 0xFFFF)), draw(st.integers(0, 0xFF)),
                         draw(st.integers(0, 0x1F)), draw(optional(st.integers(0, 7))))
    by_name = draw(st.booleans())
    flag = optional(st.booleans())
    return PciSpec(
        address=None if by_name else address,
        name=draw(item_text) if by_name else None,
        vslot=draw(optional(st.integers(0, 0x1F))),
        permissive=draw(flag), msitranslate=draw(flag), seize=draw(flag),
        power_mgmt=draw(flag), rdm_policy=draw(optional(st.sampled_from(["strict", "relaxed"]))))


@st.composite
def vfb_specs(draw: st.DrawFn) -> VfbSpec:
    """Vfb specs; ``unknown`` may end with a flag xl stops at."""
    switch = optional(st.booleans())
    unknown = draw(unknown_items({"vnc", "vnclisten", "vncdisplay", "vncunused", "vncpasswd",
                                  "sdl", "opengl", "display", "xauthority", "keymap"}))
    stop = draw(st.lists(st.from_regex(r"[a-z0-9=]{0,6}", fullmatch=True), max_size=2))
    return VfbSpec(
        vnc=draw(switch), vnclisten=draw(optional(item_text)),
        vncdisplay=draw(optional(st.integers(0, 99))), vncunused=draw(switch),
        vncpasswd=draw(optional(item_text)), sdl=draw(switch), opengl=draw(switch),
        display=draw(optional(item_text)), xauthority=draw(optional(item_text)),
        keymap=draw(optional(item_text)),
        unknown=unknown + (("stopflag", *stop) if draw(st.booleans()) else ()))


channel_value = st.from_regex(r"[a-zA-Z0-9_./-]([a-zA-Z0-9_./ -]{0,10}[a-zA-Z0-9_./-])?",
                              fullmatch=True)


@st.composite
def channel_specs(draw: st.DrawFn) -> ChannelSpec:
    """Channel specs; socket ones always have a path."""
    connection = draw(st.sampled_from(["pty", "socket"]))
    return ChannelSpec(
        connection=connection, name=draw(optional(channel_value)),
        backend=draw(optional(channel_value)),
        path=draw(channel_value if connection == "socket" else optional(channel_value)),
        unknown=draw(unknown_items({"connection", "name", "backend", "path"}).filter(
            lambda items: all(item.split("=")[1] for item in items))))


usbctrl_specs = st.builds(
    UsbCtrlSpec, type=optional(st.sampled_from(["auto", "pv", "devicemodel", "qusb"])),
    version=optional(st.integers(0, 3)), ports=optional(st.integers(0, 31)))
usbdev_specs = st.builds(
    UsbDevSpec, type=optional(st.just("hostdev")), hostbus=optional(st.integers(0, 2**32)),
    hostaddr=optional(st.integers(0, 127)), controller=optional(st.integers(0, 7)),
    port=optional(st.integers(0, 31)))


@st.composite
def serial_specs(draw: st.DrawFn) -> SerialSpec:
    """Serial devices of every kind."""
    kind = draw(st.sampled_from(["none", "null", "pty", "stdio", "vc", "msmouse", "braille",
                                 "file", "pipe", "udp", "tcp", "telnet", "websocket", "unix",
                                 "chardev", "mon", "device"]))
    path = st.from_regex(r"/[a-z0-9_./:-]{1,12}", fullmatch=True)
    address = st.builds(lambda host, port: f"{host}:{port}",
                        st.from_regex(r"[a-z0-9.]{0,8}", fullmatch=True), st.integers(0, 65535))
    options = st.lists(st.sampled_from(["server", "nowait", "server=on", "wait=off",
                                        "nodelay=on", "reconnect=5"]), max_size=3).map(tuple)
    if kind == "device":
        return SerialSpec(kind, draw(st.one_of(path.map(lambda p: "/dev" + p),
                                               st.integers(1, 9).map(lambda n: f"COM{n}"))))
    if kind in ("tcp", "telnet", "websocket"):
        return SerialSpec(kind, draw(address), draw(options))
    if kind == "unix":
        return SerialSpec(kind, draw(path), draw(options))
    if kind == "mon":
        return SerialSpec(kind, draw(st.sampled_from(["stdio", "pty", "tcp::4444,server"])))
    if kind in ("file", "pipe", "udp", "chardev"):
        return SerialSpec(kind, draw(word if kind == "chardev" else path))
    target = draw(optional(st.from_regex(r"[0-9]{2,3}x[0-9]{2,3}", fullmatch=True))) \
        if kind == "vc" else None
    return SerialSpec(kind, target)


vnuma_nodes = st.builds(
    VnumaNode, pnode=optional(st.integers(0, 7)), size_mib=optional(st.integers(0, 2**20)),
    vcpus=optional(st.lists(st.integers(0, 64), min_size=1, max_size=8).map(tuple)),
    vdistances=optional(st.lists(st.integers(0, 255), min_size=1, max_size=4).map(tuple)),
    unknown=unknown_items({"pnode", "size", "vcpus", "vdistances"}).filter(
        lambda items: all(item.split("=")[1] for item in items)))
