"""``disk=``: each Xen disk becomes a libvirt disk on virtio (or sata).

Targets are handed out in the order of the source vdevs (``xvda``,
``xvdb``, ...) without gaps, because that is the order a KVM guest finds
its virtio disks in whatever the letters say. A partition vdev
(``xvda1``) is a disk of its own on KVM. Cdroms always go on sata.
"""

from __future__ import annotations

import re

from xenshift.config.devices import DiskSpec
from xenshift.config.devices.vdev import disk_letters
from xenshift.convert.libvirt.context import KvmRule, MapContext
from xenshift.convert.libvirt.kvm_domain import Disk, NetworkHost
from xenshift.errors import SpecError

RULES = (
    KvmRule("disk", "devices/disk",
            "file or block (phy:, backendtype=phy, /dev/...) source; driver "
            "type raw/qcow/qcow2/qed, vhd → vpc; vdX on virtio or sdX on sata "
            "in vdev order; cdroms on sata, empty ones without source; "
            "access=ro → readonly; rbd: targets → network disks; "
            "script= disks cannot be carried"),
)

_DRIVER_TYPES = {"raw": "raw", "qcow": "qcow", "qcow2": "qcow2", "vhd": "vpc",
                 "qed": "qed", "empty": "raw"}
_PREFIX = {"virtio": "vd", "sata": "sd"}


def apply(ctx: MapContext) -> None:
    """Add one libvirt disk per carried Xen disk, targets in vdev order."""
    carried = [spec for spec in ctx.config.disks if _carried(ctx, spec)]
    counters = {"vd": 0, "sd": 0}
    for spec in sorted(carried, key=_vdev_order):
        bus = "sata" if spec.is_cdrom else ctx.options.disk_bus
        prefix = _PREFIX[bus]
        target = prefix + disk_letters(counters[prefix])
        counters[prefix] += 1
        disk = _disk(ctx, spec, target, bus)
        ctx.domain.devices.append(disk)
        ctx.renames[spec.vdev] = target
        _report(ctx, spec, disk)


def _vdev_order(spec: DiskSpec) -> tuple[int, int]:
    vdev = spec.vdev_info
    return vdev.disk or 0, vdev.partition or 0


def _carried(ctx: MapContext, spec: DiskSpec) -> bool:
    """Whether KVM can open the disk; report it as dropped if not."""
    try:
        vdev = spec.vdev_info
    except SpecError as err:
        ctx.dropped("disk", f"{err.message}; xl refuses it too", item=spec.vdev,
                    value=spec.target)
        return False
    if vdev.disk is None:
        ctx.dropped("disk", "the vdev number names no disk position",
                    item=spec.vdev, value=spec.target)
        return False
    if spec.script:
        ctx.dropped("disk", f"the Xen hotplug script {spec.script} attaches it "
                    f"on the Xen host; attach it on the KVM host and add it as "
                    "a block disk", item=spec.vdev, value=spec.target)
        return False
    return True


def _disk(ctx: MapContext, spec: DiskSpec, target: str, bus: str) -> Disk:
    image = ctx.options.disk_images.get(spec.target or "")
    source = image.path if image else spec.target or None
    driver_type = _DRIVER_TYPES.get(image.format if image else spec.format,
                                    image.format if image else spec.format)
    hosts: tuple[NetworkHost, ...] = ()
    if source and source.startswith("rbd:"):
        source_type = "network"
        source, options = _rbd_fields(source)
        hosts = _rbd_hosts(options.get("mon_host", ""))
    elif image:
        source_type = "block" if source and source.startswith("/dev/") else "file"
    else:
        source_type = "block" if spec.is_block_device else "file"
    discard = None if spec.discard is None else ("unmap" if spec.discard else "ignore")
    return Disk(device="cdrom" if spec.is_cdrom else "disk",
                source_type=source_type, source=source, driver_type=driver_type,
                target_dev=target, bus=bus, readonly=spec.readonly, discard=discard,
                hosts=hosts)


def _split(text: str, sep: str) -> list[str]:
    """``text`` cut at each ``sep`` QEMU's ``\\`` does not escape; escapes kept."""
    parts, start, i = [], 0, 0
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == sep:
            parts.append(text[start:i])
            start = i + 1
        i += 1
    return parts + [text[start:]]


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def _rbd_fields(target: str) -> tuple[str, dict[str, str]]:
    """``pool/image`` and the options of QEMU's ``rbd:pool/image[:opt=value...]``.

    Option values keep their escapes, for each option's own splitting.
    """
    name, *items = _split(target[len("rbd:"):], ":")
    return _unescape(name), dict(item.partition("=")[::2] for item in items)


def _rbd_hosts(mon_host: str) -> tuple[NetworkHost, ...]:
    """Ceph monitors of ``mon_host=a\\:6789\\;[fd00\\:\\:6]\\:6789``."""
    hosts = []
    # QEMU undoes the escapes of an option; librados then cuts at ';'.
    for entry in _unescape(mon_host).split(";") if mon_host else ():
        if entry.startswith("["):
            name, _, rest = entry[1:].partition("]")
            port = rest[1:] if rest.startswith(":") else None
        else:
            name, _, port = entry.partition(":")
        hosts.append(NetworkHost(name, port or None))
    return tuple(hosts)


def _report(ctx: MapContext, spec: DiskSpec, disk: Disk) -> None:
    vdev = spec.vdev
    source = disk.source or "no medium"
    after = f"{disk.target_dev} ({disk.bus}) {disk.source_type} {source}, {disk.driver_type}"
    before = f"{vdev} {spec.target or 'no medium'}, {spec.format}"
    ctx.changed("disk", after, f"{disk.device} on {disk.bus}", item=vdev, before=before)
    if ctx.options.disk_images.get(spec.target or ""):
        ctx.warn(f"disk {vdev}", "the converted image replaces the Xen one")
    if disk.source_type == "network":
        ctx.warn(f"disk {vdev}", "the Ceph monitors are carried, other rbd options "
                 "(id=, conf=, ...) are not: add an <auth> secret for the Ceph cluster")
    if not spec.vdev_info.is_whole_disk:
        ctx.warn(f"disk {vdev}", f"a partition-only Xen disk becomes the whole "
                 f"disk {disk.target_dev}: the firmware cannot boot from it "
                 "(no partition table)")
    for name, why in _dropped_options(spec):
        ctx.dropped("disk", why, item=vdev, value=name)


def _dropped_options(spec: DiskSpec) -> list[tuple[str, str]]:
    out = []
    if spec.backend:
        out.append((f"backend={spec.backend}", "a Xen driver domain served it; "
                    "the KVM host opens the image itself"))
    if spec.backendtype:
        out.append((f"backendtype={spec.backendtype}",
                    "Xen's backend choice; QEMU serves every KVM disk"))
    if spec.specification:
        out.append((f"specification={spec.specification}",
                    "the bus is chosen by the KVM target"))
    if spec.direct_io_safe:
        out.append(("direct-io-safe", "a Xen qdisk hint; libvirt's cache mode "
                    "default applies"))
    if spec.trusted is not None or spec.grant_usage is not None:
        out.append(("trusted/grant_usage", "Xen grant-table settings"))
    if spec.colo or spec.colo_host or spec.active_disk or spec.hidden_disk:
        out.append(("colo", "Xen COLO replication has no KVM equivalent"))
    return out
