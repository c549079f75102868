"""The libxc stream's x86 PV records (docs/specs/libxc-migration-stream).

A PV guest's stream carries, besides memory, what a PV guest keeps in
frames Xen knows by machine number: which pfns hold its p2m table
(X86_PV_P2M_FRAMES), its shared info page (SHARED_INFO) and per vCPU the
guest context with frames normalised to pfns (X86_PV_VCPU_BASIC) and the
optional extended, xsave and MSR state.  Only 64-bit guests (width 8,
four page-table levels) are written or accepted.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from xenshift.migrate.stream.framing import record_bytes
from xenshift.migrate.stream.libxc import (
    PAGE_SIZE, REC_SHARED_INFO, REC_X86_PV_INFO, REC_X86_PV_P2M_FRAMES,
    REC_X86_PV_VCPU_BASIC, REC_X86_PV_VCPU_EXTENDED, REC_X86_PV_VCPU_MSRS,
    REC_X86_PV_VCPU_XSAVE)

X86_PV_INFO = struct.Struct("<BBHI")  # guest width, pt levels, reserved
P2M_FRAMES_HDR = struct.Struct("<II")  # start pfn, end pfn (inclusive)
VCPU_HDR = struct.Struct("<II")  # vcpu id, reserved
GUEST_WIDTH = 8
PT_LEVELS = 4
# p2m entries per frame of a 64-bit guest.
P2M_PER_FRAME = PAGE_SIZE // GUEST_WIDTH
SHARED_INFO_SIZE = PAGE_SIZE
VCPU_BASIC_SIZE = 5168  # sizeof(vcpu_guest_context_x86_64)
# Caps on the optional vCPU blobs: struct xen_domctl_ext_vcpucontext, an
# xsave area (a few KiB even with AMX), an MSR list of 16-byte entries.
VCPU_EXTENDED_MAX = 64
VCPU_XSAVE_MAX = 1 << 20
VCPU_MSRS_MAX = 1 << 16
MSR_ENTRY_SIZE = 16
VCPU_RECORDS = (REC_X86_PV_VCPU_BASIC, REC_X86_PV_VCPU_EXTENDED, REC_X86_PV_VCPU_XSAVE,
                REC_X86_PV_VCPU_MSRS)


@dataclass(frozen=True)
class P2mFrames:
    """The pfns of the frames holding the guest's p2m for pfns
    ``start_pfn..end_pfn``."""

    start_pfn: int
    end_pfn: int
    frames: tuple[int, ...]


@dataclass(frozen=True)
class PvVcpu:
    """One online vCPU's records; an empty blob is a record not sent."""

    vcpu_id: int
    basic: bytes
    extended: bytes = b""
    xsave: bytes = b""
    msrs: bytes = b""

    def blobs(self) -> tuple[tuple[int, bytes], ...]:
        """(record type, blob) in the order Xen writes them."""
        return tuple(zip(VCPU_RECORDS, (self.basic, self.extended, self.xsave, self.msrs)))


def encode_pv_info() -> bytes:
    return record_bytes(REC_X86_PV_INFO, X86_PV_INFO.pack(GUEST_WIDTH, PT_LEVELS, 0, 0))


def decode_pv_info(body: bytes) -> None:
    """Check X86_PV_INFO describes a 64-bit guest."""
    if len(body) != X86_PV_INFO.size:
        raise ValueError(f"X86_PV_INFO is {len(body)} bytes, expected {X86_PV_INFO.size}")
    width, levels, res1, res2 = X86_PV_INFO.unpack(body)
    if res1 or res2:
        raise ValueError("reserved fields set in X86_PV_INFO")
    if (width, levels) != (GUEST_WIDTH, PT_LEVELS):
        raise ValueError(f"X86_PV_INFO says a {width * 8}-bit guest with {levels} "
                         "page-table levels; only 64-bit PV guests are supported")


def p2m_frame_count(start_pfn: int, end_pfn: int) -> int:
    """How many frames hold the p2m entries of ``start_pfn..end_pfn``."""
    return end_pfn // P2M_PER_FRAME + 1 - start_pfn // P2M_PER_FRAME


def encode_p2m_frames(p2m: P2mFrames) -> bytes:
    body = P2M_FRAMES_HDR.pack(p2m.start_pfn, p2m.end_pfn) + struct.pack(
        f"<{len(p2m.frames)}Q", *p2m.frames)
    return record_bytes(REC_X86_PV_P2M_FRAMES, body)


def decode_p2m_frames(body: bytes) -> P2mFrames:
    if len(body) < P2M_FRAMES_HDR.size:
        raise ValueError("X86_PV_P2M_FRAMES shorter than its header")
    start, end = P2M_FRAMES_HDR.unpack_from(body)
    if start > end:
        raise ValueError(f"X86_PV_P2M_FRAMES start pfn {start:#x} is after its end {end:#x}")
    count = p2m_frame_count(start, end)
    if len(body) != P2M_FRAMES_HDR.size + 8 * count:
        raise ValueError(f"X86_PV_P2M_FRAMES of {len(body)} bytes does not hold the "
                         f"{count} frames of pfns {start:#x}-{end:#x}")
    return P2mFrames(start, end, struct.unpack_from(f"<{count}Q", body, P2M_FRAMES_HDR.size))


def encode_shared_info(page: bytes) -> bytes:
    if len(page) != SHARED_INFO_SIZE:
        raise ValueError(f"shared info is {len(page)} bytes, expected {SHARED_INFO_SIZE}")
    return record_bytes(REC_SHARED_INFO, page)


def decode_shared_info(body: bytes) -> bytes:
    if len(body) != SHARED_INFO_SIZE:
        raise ValueError(f"SHARED_INFO is {len(body)} bytes, expected {SHARED_INFO_SIZE}")
    return body


def encode_vcpu(vcpu: PvVcpu) -> bytes:
    """The vCPU's records, leaving out empty ones as Xen's save does."""
    return b"".join(record_bytes(rtype, VCPU_HDR.pack(vcpu.vcpu_id, 0) + blob)
                    for rtype, blob in vcpu.blobs() if blob)


def decode_vcpu(rtype: int, body: bytes, name: str) -> tuple[int, bytes]:
    """(vcpu id, blob) of one X86_PV_VCPU_* record, its size checked."""
    if len(body) <= VCPU_HDR.size:
        raise ValueError(f"{name} record has no content")
    vcpu_id, res = VCPU_HDR.unpack_from(body)
    if res:
        raise ValueError(f"reserved field set in {name}")
    blob = body[VCPU_HDR.size:]
    size = len(blob)
    if rtype == REC_X86_PV_VCPU_BASIC and size != VCPU_BASIC_SIZE:
        raise ValueError(f"{name} holds {size} bytes, expected a 64-bit vCPU context "
                         f"of {VCPU_BASIC_SIZE}")
    cap = {REC_X86_PV_VCPU_EXTENDED: VCPU_EXTENDED_MAX, REC_X86_PV_VCPU_XSAVE: VCPU_XSAVE_MAX,
           REC_X86_PV_VCPU_MSRS: VCPU_MSRS_MAX}.get(rtype, VCPU_BASIC_SIZE)
    if size > cap:
        raise ValueError(f"{name} of {size} bytes is over its cap of {cap}")
    if rtype == REC_X86_PV_VCPU_MSRS and size % MSR_ENTRY_SIZE:
        raise ValueError(f"{name} of {size} bytes is not an array of "
                         f"{MSR_ENTRY_SIZE}-byte entries")
    return vcpu_id, blob
