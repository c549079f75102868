"""The KVM domain being written: typed records, one per libvirt element.

The mappers fill these in from the Xen config; :mod:`.writer` turns them
into libvirt XML in libvirt's own element order. Field names follow the
XML (``target_dev`` is ``target/@dev``) so each record reads like the
schema (``/usr/share/libvirt/schemas/domaincommon.rng``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Union


@dataclass
class Disk:
    """``devices/disk``: ``source_type`` is file, block or network (rbd)."""

    device: Literal["disk", "cdrom"]
    source_type: Literal["file", "block", "network"]
    source: str | None           # path, device node or rbd pool/image
    driver_type: str             # raw, qcow2, qcow, vpc, qed
    target_dev: str
    bus: Literal["virtio", "sata"]
    readonly: bool = False
    discard: Literal["unmap", "ignore"] | None = None
    boot_order: int | None = None
    hosts: tuple["NetworkHost", ...] = ()   # a network disk's servers


@dataclass(frozen=True)
class NetworkHost:
    """``disk/source/host``: one server of a network disk (a Ceph monitor)."""

    name: str
    port: str | None = None


@dataclass(frozen=True)
class Bandwidth:
    """``interface/bandwidth/outbound``: KB/s (1000 bytes) and KiB."""

    average: int
    burst: int


@dataclass
class Interface:
    """``devices/interface`` of type bridge or network."""

    type: Literal["bridge", "network"]
    source: str
    mac: str | None = None
    target_dev: str | None = None
    model: str = "virtio"
    bandwidth: Bandwidth | None = None
    mtu: int | None = None
    boot_order: int | None = None


@dataclass
class CharSource:
    """The ``source`` (and ``protocol``) of a character device."""

    path: str | None = None
    mode: Literal["bind", "connect"] | None = None
    host: str | None = None
    service: str | None = None
    protocol: Literal["raw", "telnet"] | None = None


@dataclass
class CharDevice:
    """``devices/serial``, ``console`` or ``channel``."""

    element: Literal["serial", "console", "channel"]
    type: str                    # pty, file, dev, tcp, unix, pipe, ...
    source: CharSource | None = None
    target_type: str | None = None   # console: serial; channel: virtio, ...
    target_port: int | None = None
    target_name: str | None = None


@dataclass
class Input:
    """``devices/input``."""

    type: Literal["tablet", "mouse", "keyboard"]
    bus: Literal["usb", "ps2", "virtio"] = "usb"


@dataclass
class Graphics:
    """``devices/graphics`` of type vnc, sdl or spice.

    ``port`` None means autoport; ``listen`` is the address to listen on.
    The spice-only fields are None elsewhere.
    """

    type: Literal["vnc", "sdl", "spice"]
    port: int | None = None
    tls_port: int | None = None
    listen: str | None = None
    passwd: str | None = None
    keymap: str | None = None
    display: str | None = None
    xauth: str | None = None
    gl: bool | None = None
    image_compression: str | None = None
    streaming: str | None = None
    clipboard: bool | None = None
    mouse_mode: Literal["client", "server"] | None = None


@dataclass
class Video:
    """``devices/video/model``; ``vram`` in KiB."""

    model: str
    vram: int | None = None


@dataclass
class Sound:
    """``devices/sound``."""

    model: str


@dataclass
class Filesystem:
    """``devices/filesystem`` of type mount: a host directory over 9p."""

    source_dir: str
    target_dir: str
    accessmode: str = "passthrough"


@dataclass
class PciHostdev:
    """``devices/hostdev`` type pci, by host address."""

    domain: int
    bus: int
    slot: int
    function: int


@dataclass
class UsbHostdev:
    """``devices/hostdev`` type usb, by host bus and device number."""

    bus: int
    device: int


@dataclass
class Controller:
    """``devices/controller`` (only the USB ones need saying)."""

    type: Literal["usb"]
    model: str
    ports: int | None = None


@dataclass
class Redirdev:
    """``devices/redirdev``: a SPICE USB redirection channel."""

    bus: Literal["usb"] = "usb"
    type: Literal["spicevmc"] = "spicevmc"


@dataclass
class Memballoon:
    """``devices/memballoon``."""

    model: str = "virtio"


@dataclass
class Rng:
    """``devices/rng`` with a random backend."""

    model: str = "virtio"
    backend: str = "/dev/urandom"


Device = Union[Disk, Controller, Filesystem, Interface, CharDevice, Input,
               Graphics, Sound, Video, PciHostdev, UsbHostdev, Redirdev,
               Memballoon, Rng]


@dataclass
class Os:
    """``os``: machine, firmware and direct kernel boot."""

    machine: str
    firmware: Literal["efi"] | None = None
    kernel: str | None = None
    initrd: str | None = None
    cmdline: str | None = None


@dataclass(frozen=True)
class VcpuPin:
    """``cputune/vcpupin``."""

    vcpu: int
    cpuset: str


@dataclass
class Cputune:
    """``cputune``: scheduler weight, a cap as quota, and pinning."""

    shares: int | None = None
    global_period: int | None = None
    global_quota: int | None = None
    vcpupins: list[VcpuPin] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.shares or self.global_quota or self.vcpupins)


@dataclass(frozen=True)
class NumaCell:
    """``cpu/numa/cell``: memory in KiB, distances to every cell by id."""

    id: int
    cpus: str
    memory: int
    distances: tuple[int, ...] = ()


@dataclass
class Cpu:
    """``cpu``: a mode (host-passthrough for nesting) and NUMA cells."""

    mode: str | None = None
    cells: list[NumaCell] = field(default_factory=list)


@dataclass(frozen=True)
class Timer:
    """``clock/timer``."""

    name: str
    present: bool


@dataclass
class Clock:
    """``clock``: utc, localtime, or variable with an adjustment."""

    offset: Literal["utc", "localtime", "variable"] = "utc"
    adjustment: int | None = None
    basis: Literal["utc", "localtime"] | None = None
    timers: list[Timer] = field(default_factory=list)


@dataclass
class Features:
    """``features``: the plain flags in order, and Hyper-V enlightenments."""

    flags: list[str] = field(default_factory=lambda: ["acpi", "apic", "pae"])
    hyperv: list[str] = field(default_factory=list)


@dataclass
class Pm:
    """``pm``: which ACPI sleep states the guest may use (None: default)."""

    suspend_to_mem: bool | None = None
    suspend_to_disk: bool | None = None


@dataclass
class KvmDomain:
    """A whole libvirt domain for the QEMU driver; memory in KiB."""

    type: Literal["kvm", "qemu"]
    name: str
    os: Os
    memory: int
    current_memory: int
    vcpus: int
    current_vcpus: int
    uuid: str | None = None
    genid: bool = False
    cputune: Cputune = field(default_factory=Cputune)
    numa_memnodes: dict[int, int] = field(default_factory=dict)  # cell → host node
    features: Features = field(default_factory=Features)
    cpu: Cpu = field(default_factory=Cpu)
    clock: Clock = field(default_factory=Clock)
    on_poweroff: str = "destroy"
    on_reboot: str = "restart"
    on_crash: str = "destroy"
    pm: Pm = field(default_factory=Pm)
    devices: list[Device] = field(default_factory=list)
