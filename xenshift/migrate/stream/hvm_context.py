"""The HVM context blob (public/hvm/save.h): typed descriptors walked and built.

``xc_domain_hvm_getcontext`` returns ``{u16 typecode, u16 instance, u32
length} + data`` entries starting with HEADER and ending with END.  The
migration stream carries it opaquely; this module checks its shape so a
receiver can refuse junk before handing it to a hypervisor.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

DESCRIPTOR = struct.Struct("<HHI")
CODE_END = 0
CODE_HEADER = 1
CODE_CPU = 2
HEADER = struct.Struct("<IIQII")  # magic, version, changeset, cpuid, gtsc_khz
HEADER_MAGIC = 0x54381286
HEADER_VERSION = 1
CPU_SIZE = 1032  # sizeof(struct hvm_hw_cpu) in Xen 4.17
CPU_GPRS_OFFSET = 512  # rax..r15 follow the 512-byte FXSAVE area
CPU_TSC_OFFSET = 1008  # hvm_hw_cpu.tsc: the guest's TSC when it was read
# Records whose content does not move with time (public/arch-x86/hvm/save.h):
# CPU, PIC, IOAPIC, PCI_IRQ, ISA_IRQ, PCI_LINK, MTRR, CPU_XSAVE.  The others
# hold timer counts (PIT, RTC, HPET, PMTIMER, the LAPIC's), or are per-host.
TIMELESS = frozenset({CODE_CPU, 3, 4, 7, 8, 9, 14, 16})


@dataclass(frozen=True)
class Entry:
    typecode: int
    instance: int
    data: bytes


def build(entries: list[Entry]) -> bytes:
    """A blob from entries; HEADER must come first, END is appended."""
    out = [DESCRIPTOR.pack(e.typecode, e.instance, len(e.data)) + e.data for e in entries]
    return b"".join(out) + DESCRIPTOR.pack(CODE_END, 0, 0)


def header_entry(cpuid: int = 0, gtsc_khz: int = 0) -> Entry:
    return Entry(CODE_HEADER, 0, HEADER.pack(HEADER_MAGIC, HEADER_VERSION, 0, cpuid, gtsc_khz))


def walk(blob: bytes) -> list[Entry]:
    """The entries of a blob, END excluded; ValueError if malformed."""
    entries = []
    pos = 0
    while True:
        if pos + DESCRIPTOR.size > len(blob):
            raise ValueError(f"HVM context ends inside a descriptor at {pos}")
        code, instance, length = DESCRIPTOR.unpack_from(blob, pos)
        pos += DESCRIPTOR.size
        if length > len(blob) - pos:
            raise ValueError(f"HVM context entry type {code} at {pos} overruns the blob")
        if code == CODE_END:
            if length or pos != len(blob):
                raise ValueError("HVM context has data after its END entry")
            break
        entries.append(Entry(code, instance, blob[pos:pos + length]))
        pos += length
    if not entries or entries[0].typecode != CODE_HEADER:
        raise ValueError("HVM context does not start with a HEADER entry")
    magic, version, *_ = HEADER.unpack_from(entries[0].data.ljust(HEADER.size, b"\0"))
    if len(entries[0].data) != HEADER.size or magic != HEADER_MAGIC or version != HEADER_VERSION:
        raise ValueError("HVM context HEADER entry is malformed")
    return entries


def first_cpu_rax(blob: bytes) -> int | None:
    """Offset of vCPU 0's rax in a blob whose second entry is a CPU record."""
    entries = walk(blob)
    if len(entries) < 2 or entries[1].typecode != CODE_CPU or len(entries[1].data) < CPU_SIZE:
        return None
    return 2 * DESCRIPTOR.size + len(entries[0].data) + CPU_GPRS_OFFSET
