"""What the admin chooses for a Xen→KVM conversion (``xen2kvm``'s options)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, NamedTuple

Machine = Literal["q35", "pc"]
Accel = Literal["kvm", "tcg"]
DiskBus = Literal["virtio", "sata"]


class DiskImage(NamedTuple):
    """Where a Xen disk lives after the disk conversion, and its format
    (``raw``, ``qcow2``, ...); a plain ``(path, format)`` tuple will do."""

    path: str
    format: str


@dataclass(frozen=True)
class KvmOptions:
    """Choices for :func:`~xenshift.convert.libvirt.to_kvm`.

    ``bridges`` renames host bridges (``--bridge OLD=NEW``), ``networks``
    attaches a Xen bridge's vifs to a libvirt network instead
    (``--network OLD=NAME``; it wins over ``bridges``). ``disk_images`` maps
    a disk's Xen target to its converted image, for the disk conversion.
    """

    machine: Machine = "q35"
    accel: Accel = "kvm"
    disk_bus: DiskBus = "virtio"
    bridges: dict[str, str] = field(default_factory=dict)
    networks: dict[str, str] = field(default_factory=dict)
    disk_images: dict[str, DiskImage] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name, value, allowed in (("machine", self.machine, ("q35", "pc")),
                                     ("accel", self.accel, ("kvm", "tcg")),
                                     ("disk_bus", self.disk_bus, ("virtio", "sata"))):
            if value not in allowed:
                raise ValueError(f"{name} must be one of {', '.join(allowed)}, "
                                 f"not {value!r}")
