"""The libxc migration stream, version 3 (docs/specs/libxc-migration-stream).

Constants and structures in the spec's order, then one encoder and one
decoder per record type.  PAGE_DATA bodies are not decoded here: their
header and pfn words are (``decode_page_data_head``), and the page data is
handed to whoever owns guest memory, so the reader never holds more than
one batch.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from xenshift.migrate.stream.framing import ExactReader, record_bytes

# Image header (big-endian).
IHDR = struct.Struct(">QIIHHI")
IHDR_MARKER = 0xFFFFFFFFFFFFFFFF
IHDR_ID = 0x58454E46  # "XENF"
IHDR_VERSION = 3
IHDR_OPT_BIG_ENDIAN = 1

# Domain header.
DHDR = struct.Struct("<IHHII")
DHDR_TYPE_X86_PV = 1
DHDR_TYPE_X86_HVM = 2
PAGE_SHIFT = 12

# Record types.
REC_END = 0x00
REC_PAGE_DATA = 0x01
REC_X86_PV_INFO = 0x02
REC_X86_PV_P2M_FRAMES = 0x03
REC_X86_PV_VCPU_BASIC = 0x04
REC_X86_PV_VCPU_EXTENDED = 0x05
REC_X86_PV_VCPU_XSAVE = 0x06
REC_SHARED_INFO = 0x07
REC_X86_TSC_INFO = 0x08
REC_HVM_CONTEXT = 0x09
REC_HVM_PARAMS = 0x0A
REC_TOOLSTACK = 0x0B
REC_X86_PV_VCPU_MSRS = 0x0C
REC_VERIFY = 0x0D
REC_CHECKPOINT = 0x0E
REC_CHECKPOINT_DIRTY_PFN_LIST = 0x0F
REC_STATIC_DATA_END = 0x10
REC_X86_CPUID_POLICY = 0x11
REC_X86_MSR_POLICY = 0x12

REC_NAMES = {
    REC_END: "END", REC_PAGE_DATA: "PAGE_DATA", REC_X86_PV_INFO: "X86_PV_INFO",
    REC_X86_PV_P2M_FRAMES: "X86_PV_P2M_FRAMES",
    REC_X86_PV_VCPU_BASIC: "X86_PV_VCPU_BASIC",
    REC_X86_PV_VCPU_EXTENDED: "X86_PV_VCPU_EXTENDED",
    REC_X86_PV_VCPU_XSAVE: "X86_PV_VCPU_XSAVE", REC_SHARED_INFO: "SHARED_INFO",
    REC_X86_TSC_INFO: "X86_TSC_INFO", REC_HVM_CONTEXT: "HVM_CONTEXT",
    REC_HVM_PARAMS: "HVM_PARAMS", REC_TOOLSTACK: "TOOLSTACK",
    REC_X86_PV_VCPU_MSRS: "X86_PV_VCPU_MSRS", REC_VERIFY: "VERIFY",
    REC_CHECKPOINT: "CHECKPOINT",
    REC_CHECKPOINT_DIRTY_PFN_LIST: "CHECKPOINT_DIRTY_PFN_LIST",
    REC_STATIC_DATA_END: "STATIC_DATA_END",
    REC_X86_CPUID_POLICY: "X86_CPUID_POLICY", REC_X86_MSR_POLICY: "X86_MSR_POLICY",
}

# PAGE_DATA.
PAGE_DATA_HDR = struct.Struct("<II")
MAX_BATCH_SIZE = 1024  # pfns per PAGE_DATA record, as xg_save_restore.h
PAGE_SIZE = 1 << PAGE_SHIFT
PAGE_DATA_MAX = PAGE_DATA_HDR.size + MAX_BATCH_SIZE * (8 + PAGE_SIZE)

X86_TSC_INFO = struct.Struct("<IIQII")
HVM_PARAMS_HDR = struct.Struct("<II")
HVM_PARAMS_ENTRY = struct.Struct("<QQ")
CPUID_ENTRY_SIZE = 24
MSR_ENTRY_SIZE = 16

# HVM params the saver looks at (xg_sr_save_x86_hvm.c); only non-zero ones
# are written.
HVM_PARAM_STORE_PFN = 1
HVM_PARAM_IOREQ_PFN = 5
HVM_PARAM_BUFIOREQ_PFN = 6
HVM_PARAM_CONSOLE_PFN = 17


@dataclass(frozen=True)
class ImageHeader:
    version: int = IHDR_VERSION
    options: int = 0


@dataclass(frozen=True)
class DomainHeader:
    guest_type: int
    xen_major: int
    xen_minor: int
    page_shift: int = PAGE_SHIFT


@dataclass(frozen=True)
class TscInfo:
    mode: int
    khz: int
    nsec: int
    incarnation: int


@dataclass(frozen=True)
class HvmParams:
    """(index, value) pairs, in stream order."""

    params: tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class PageDataHead:
    """A PAGE_DATA record's pfn words and how many pages of data follow."""

    count: int
    pfn_words: bytes
    data_pages: int


# ------------------------------------------------------------------ headers

def encode_image_header(hdr: ImageHeader = ImageHeader()) -> bytes:
    return IHDR.pack(IHDR_MARKER, IHDR_ID, hdr.version, hdr.options, 0, 0)


def decode_image_header(reader: ExactReader) -> ImageHeader:
    """Read and check the image header; v2 and v3 are accepted, like restore."""
    at = reader.offset
    marker, ident, version, options, res1, res2 = reader.unpack(IHDR, "libxc image header")
    if marker != IHDR_MARKER:
        raise reader.error(f"bad image marker {marker:#x}", at)
    if ident != IHDR_ID:
        raise reader.error(f"bad image id {ident:#x}, expected 'XENF'", at)
    if not 2 <= version <= 3:
        raise reader.error(f"unsupported libxc stream version {version}", at)
    if options & ~IHDR_OPT_BIG_ENDIAN or res1 or res2:
        raise reader.error("reserved bits set in libxc image header", at)
    if options & IHDR_OPT_BIG_ENDIAN:
        raise reader.error("big-endian libxc streams are not supported", at)
    return ImageHeader(version, options)


def encode_domain_header(hdr: DomainHeader) -> bytes:
    return DHDR.pack(hdr.guest_type, hdr.page_shift, 0, hdr.xen_major, hdr.xen_minor)


def decode_domain_header(reader: ExactReader) -> DomainHeader:
    at = reader.offset
    gtype, shift, res, major, minor = reader.unpack(DHDR, "libxc domain header")
    if gtype not in (DHDR_TYPE_X86_PV, DHDR_TYPE_X86_HVM):
        raise reader.error(f"unknown domain type {gtype:#x}", at)
    if shift != PAGE_SHIFT:
        raise reader.error(f"page shift {shift}, expected {PAGE_SHIFT}", at)
    if res:
        raise reader.error("reserved bits set in libxc domain header", at)
    return DomainHeader(gtype, major, minor, shift)


# ------------------------------------------------------------------ records

def encode_empty(rtype: int) -> bytes:
    """END, VERIFY, STATIC_DATA_END, CHECKPOINT: records without a body."""
    return record_bytes(rtype)


def decode_empty(body: bytes, name: str) -> None:
    if body:
        raise ValueError(f"{name} record must be empty, has {len(body)} bytes")


def encode_page_data_head(pfn_words: bytes, data_pages: int) -> bytes:
    """Record header and PAGE_DATA header for ``pfn_words`` (8 bytes each).

    The page data (``data_pages`` pages) must follow, then no padding is
    needed since every part is a multiple of 8 bytes.
    """
    count = len(pfn_words) // 8
    if not 0 < count <= MAX_BATCH_SIZE:
        raise ValueError(f"PAGE_DATA needs 1..{MAX_BATCH_SIZE} pfns, got {count}")
    length = PAGE_DATA_HDR.size + len(pfn_words) + data_pages * PAGE_SIZE
    return struct.pack("<IIII", REC_PAGE_DATA, length, count, 0)


def encode_tsc_info(tsc: TscInfo) -> bytes:
    return record_bytes(REC_X86_TSC_INFO, X86_TSC_INFO.pack(
        tsc.mode, tsc.khz, tsc.nsec, tsc.incarnation, 0))


def decode_tsc_info(body: bytes) -> TscInfo:
    if len(body) != X86_TSC_INFO.size:
        raise ValueError(f"X86_TSC_INFO is {len(body)} bytes, expected {X86_TSC_INFO.size}")
    mode, khz, nsec, incarnation, res = X86_TSC_INFO.unpack(body)
    if res:
        raise ValueError("reserved field set in X86_TSC_INFO")
    return TscInfo(mode, khz, nsec, incarnation)


def encode_hvm_context(blob: bytes) -> bytes:
    return record_bytes(REC_HVM_CONTEXT, blob)


def decode_hvm_context(body: bytes) -> bytes:
    if not body:
        raise ValueError("HVM_CONTEXT record is empty")
    return body


def encode_hvm_params(params: HvmParams) -> bytes:
    body = HVM_PARAMS_HDR.pack(len(params.params), 0) + b"".join(
        HVM_PARAMS_ENTRY.pack(i, v) for i, v in params.params)
    return record_bytes(REC_HVM_PARAMS, body)


def decode_hvm_params(body: bytes) -> HvmParams:
    if len(body) < HVM_PARAMS_HDR.size:
        raise ValueError("HVM_PARAMS record shorter than its header")
    count, res = HVM_PARAMS_HDR.unpack_from(body)
    if res:
        raise ValueError("reserved field set in HVM_PARAMS")
    if len(body) != HVM_PARAMS_HDR.size + count * HVM_PARAMS_ENTRY.size:
        raise ValueError(f"HVM_PARAMS of {len(body)} bytes does not hold {count} entries")
    return HvmParams(tuple(HVM_PARAMS_ENTRY.iter_unpack(body[HVM_PARAMS_HDR.size:])))


def encode_policy(rtype: int, blob: bytes) -> bytes:
    """X86_CPUID_POLICY or X86_MSR_POLICY from the serialised policy."""
    return record_bytes(rtype, blob)


def decode_policy(body: bytes, entry_size: int, name: str) -> bytes:
    if not body or len(body) % entry_size:
        raise ValueError(f"{name} of {len(body)} bytes is not a non-empty array "
                         f"of {entry_size}-byte entries")
    return body
