"""The checksum of a domain's memory and context, the same for every backend.

Memory is hashed in chunks of MAX_BATCH_SIZE pages, each chunk's hash
seeding the next, so a backend that can only map a batch at a time (Xen)
gets the value a backend with all memory mapped (the simulator) gets.
"""

from __future__ import annotations

from typing import Callable

from xenshift.migrate.stream import hvm_context
from xenshift.migrate.stream.libxc import MAX_BATCH_SIZE
from xenshift.migrate.stream.writer import PvTail, Tail
from xenshift.native import hash_buffer


def memory_hash(pages: int, chunk: Callable[[int, int], memoryview]) -> int:
    """Hash ``pages`` pages; ``chunk(first_pfn, count)`` yields their bytes."""
    h = 0
    for first in range(0, pages, MAX_BATCH_SIZE):
        h = hash_buffer(chunk(first, min(MAX_BATCH_SIZE, pages - first)), h)
    return h


def context_hash(tail: Tail) -> int:
    """Hash of the vCPU/platform state as the stream carries it.

    A PV guest's shared info page is left out: the destination's restore
    rebuilds parts of it (event channel state, its own p2m frame list), so
    it differs between the hosts by design.  Of an HVM guest's, what
    depends on the time it is read is left out (time moves on between the
    source's reading and the destination's): the TSC record, each vCPU's
    saved TSC, and the records of the timers and the local APIC.
    """
    if isinstance(tail, PvTail):
        return hash_buffer(b"".join(v.basic + v.extended + v.xsave + v.msrs for v in tail.vcpus)
                           + repr(tail.tsc).encode())
    return hash_buffer(_timeless(tail.hvm_context) + repr(tail.hvm_params).encode())


def _timeless(blob: bytes) -> bytes:
    out = []
    for entry in hvm_context.walk(blob):
        if entry.typecode not in hvm_context.TIMELESS:
            continue
        data = entry.data
        if entry.typecode == hvm_context.CODE_CPU and len(data) == hvm_context.CPU_SIZE:
            at = hvm_context.CPU_TSC_OFFSET
            data = data[:at] + bytes(8) + data[at + 8:]
        out.append(hvm_context.DESCRIPTOR.pack(entry.typecode, entry.instance, len(data)) + data)
    return b"".join(out)


def format_checksum(memory: int, context: int) -> str:
    """The printed form, shared by ``sim checksum`` and ``--verify``."""
    return f"mem:{memory:016x} ctx:{context:016x}"
