"""Virtual block device names (xen-vbd-interface(7)) and their numbers.

libxl decodes a vdev in ``libxl__device_disk_dev_number``: first ``dNpM``
and ``xvdX[N]``, then a plain number (hex, octal or decimal, written to
xenstore as is), then ``hdX[N]`` and ``sdX[N]``. Disk letters count in
bijective base 26 (``a`` = 0, ``z`` = 25, ``aa`` = 26) and a partition
number has no leading zero. The man page also shows ``d0`` without ``pM``,
but libxl rejects it, so we do too.

The encodings (the number the guest sees in xenstore)::

    1 << 28 | disk << 8 | partition      xvd, disk or partition above 15
    202 << 8 | disk << 4 | partition     xvd, disks and partitions 0..15
    8 << 8 | disk << 4 | partition       sd, disks and partitions 0..15
    3 << 8 | disk << 6 | partition       hd, disks 0..1, partitions 0..63
    22 << 8 | (disk-2) << 6 | partition  hd, disks 2..3, partitions 0..63
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from xenshift.config.devices.keyvalue import c_unsigned
from xenshift.config.devices.spec_context import SpecContext
from xenshift.errors import Location

VdevKind = Literal["xvd", "hd", "sd", "d", "number", "vd"]
TargetKind = Literal["xvd", "hd", "sd", "d", "vd"]
Family = Literal["xvd", "hd", "sd"]

# (highest disk index, highest partition) each naming scheme can express.
# "vd" is KVM's virtio naming, not a Xen one: it names whole disks only.
_LIMITS: dict[str, tuple[int, int]] = {
    "xvd": ((1 << 20) - 1, 255),
    "d": ((1 << 20) - 1, 255),
    "hd": (3, 63),
    "sd": (15, 15),
    "vd": ((1 << 20) - 1, 0),
}
_INT_MAX = 2**31 - 1
_MAX_LETTERS = len("zzzzzzz")     # 26**7 disks already overflow an int
_MAX_DIGITS = len(str(_INT_MAX))
_LETTERED = re.compile(r"(xvd|hd|sd)([a-z]+)([1-9][0-9]*)?")
# sscanf's %i reads hex and octal too; c_unsigned decides what is valid.
_NUMBERED = re.compile(r"d([0-9a-fA-FxX]+)p([0-9a-fA-FxX]+)")


@dataclass(frozen=True)
class Vdev:
    """A decoded virtual device name.

    ``disk`` and ``partition`` (0 = the whole disk) are None only for a plain
    number that matches none of the encodings. ``number`` is what xenstore
    holds; it is None only for the KVM-only ``vd`` kind.
    """

    kind: VdevKind
    disk: int | None
    partition: int | None
    number: int | None

    @property
    def name(self) -> str:
        """The canonical spelling, e.g. ``xvdb2``, ``d536p37`` or ``51712``."""
        if self.kind == "number":
            return str(self.number)
        if self.kind == "d":
            return f"d{self.disk}p{self.partition}"
        assert self.disk is not None
        suffix = str(self.partition) if self.partition else ""
        return f"{self.kind}{disk_letters(self.disk)}{suffix}"

    @property
    def is_whole_disk(self) -> bool:
        """True for partition 0; False for a partition or an unknown number."""
        return self.partition == 0

    @property
    def family(self) -> Family | None:
        """Which disk type the guest is told about: xvd, hd or sd.

        For HVM guests, whole-disk hd and sd devices are also emulated
        (IDE resp. SCSI); xvd ones are PV only.
        """
        if self.number is None:
            return None
        decoded = _decode_number(self.number)
        return decoded[0] if decoded else None

    def renamed(self, kind: TargetKind, location: Location | None = None) -> Vdev:
        """The same disk and partition under another naming scheme.

        ``xvda`` becomes ``hda``, ``sda``, ``d0p0`` or (for KVM) ``vda``.
        Raises SpecError when ``kind`` cannot express this disk index or
        partition (hd has four disks, sd sixteen, vd no partitions).
        """
        ctx = SpecContext("vdev", self.name, location)
        if self.disk is None or self.partition is None:
            raise ctx.error(f"cannot rename to {kind}: no known disk in number",
                            self.name)
        _check_fits(ctx, kind, self.disk, self.partition, f"cannot rename to {kind}: ")
        return Vdev(kind, self.disk, self.partition, _encode(kind, self.disk, self.partition))


def parse_vdev(text: str, location: Location | None = None) -> Vdev:
    """Decode a vdev as libxl does; SpecError if libxl would refuse it."""
    ctx = SpecContext("vdev", text, location)
    lettered = _LETTERED.fullmatch(text)
    if lettered:
        kind, letters, partition_text = lettered.groups()
        if len(letters) > _MAX_LETTERS or len(partition_text or "") > _MAX_DIGITS:
            # Beyond any disk or partition number libxl decodes (its int
            # would overflow); Python would make a number of it slowly.
            raise ctx.error("not a virtual device name", text)
        return _make(ctx, kind, _letters_index(letters), int(partition_text or 0))
    numbered = _NUMBERED.fullmatch(text)
    if numbered:
        disk, partition = (c_unsigned(group) for group in numbered.groups())
        if disk is not None and partition is not None:
            return _make(ctx, "d", disk, partition)
    number = c_unsigned(text)
    if number is not None and number <= _INT_MAX:
        decoded = _decode_number(number)
        disk, partition = decoded[1:] if decoded else (None, None)
        return Vdev("number", disk, partition, number)
    raise ctx.error("not a virtual device name", text)


def disk_letters(index: int) -> str:
    """The letters naming disk ``index``: 0 → ``a``, 25 → ``z``, 26 → ``aa``."""
    letters = ""
    index += 1
    while index:
        index, digit = divmod(index - 1, 26)
        letters = chr(ord("a") + digit) + letters
    return letters


def _letters_index(letters: str) -> int:
    index = -1
    for char in letters:
        index = (index + 1) * 26 + ord(char) - ord("a")
    return index


def _make(ctx: SpecContext, kind: TargetKind, disk: int, partition: int) -> Vdev:
    _check_fits(ctx, kind, disk, partition, "")
    return Vdev(kind, disk, partition, _encode(kind, disk, partition))


def _check_fits(ctx: SpecContext, kind: str, disk: int, partition: int,
                doing: str) -> None:
    max_disk, max_partition = _LIMITS[kind]
    if disk > max_disk:
        raise ctx.error(f"{doing}{kind} has disks 0-{max_disk} only, not disk", str(disk))
    if partition > max_partition:
        if max_partition == 0:
            raise ctx.error(f"{doing}{kind} names whole disks only, not partition",
                            str(partition))
        raise ctx.error(f"{doing}{kind} has partitions up to {max_partition} only, "
                        f"not partition", str(partition))


def _encode(kind: str, disk: int, partition: int) -> int | None:
    if kind in ("xvd", "d"):
        if disk <= 15 and partition <= 15:
            return 202 << 8 | disk << 4 | partition
        return 1 << 28 | disk << 8 | partition
    if kind == "hd":
        return (3 if disk < 2 else 22) << 8 | (disk & 1) << 6 | partition
    if kind == "sd":
        return 8 << 8 | disk << 4 | partition
    return None


def _decode_number(number: int) -> tuple[Family, int, int] | None:
    """(family, disk, partition) for a number in one of the encodings."""
    if 1 << 28 <= number < 2 << 28:
        return "xvd", (number >> 8) & 0xFFFFF, number & 0xFF
    major = number >> 8
    if major == 202:
        return "xvd", (number >> 4) & 0xF, number & 0xF
    if major == 8:
        return "sd", (number >> 4) & 0xF, number & 0xF
    if major in (3, 22):
        return "hd", (0 if major == 3 else 2) + ((number >> 6) & 1), number & 0x3F
    return None
