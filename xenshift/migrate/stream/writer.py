"""Laying out a whole migration stream the way Xen 4.17 writes it.

HVM: xl header (JSON config) → libxl header → LIBXC_CONTEXT → libxc image
and domain headers → X86_CPUID_POLICY → X86_MSR_POLICY → STATIC_DATA_END →
PAGE_DATA × n (→ VERIFY → PAGE_DATA × n with --debug) → X86_TSC_INFO →
HVM_CONTEXT → HVM_PARAMS → END → (EMULATOR_XENSTORE_DATA → EMULATOR_CONTEXT
for a guest with a device model) → libxl END.

PV: the same frame, with X86_PV_INFO before the CPU policy,
X86_PV_P2M_FRAMES right after STATIC_DATA_END, and X86_TSC_INFO →
SHARED_INFO → per vCPU X86_PV_VCPU_BASIC, EXTENDED, XSAVE, MSRS as the
tail (xg_sr_save_x86_pv.c's static_data, start_of_stream and
end_of_checkpoint).

The functions return the bytes of each part; PAGE_DATA is returned as its
head only, so page data can go from guest memory to the wire without a copy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from xenshift.migrate.stream import libxc, libxc_pv, libxl, xl
from xenshift.native import ffi


@dataclass(frozen=True)
class CpuPolicy:
    """Serialised CPUID and MSR policy arrays; empty when unknown."""

    cpuid: bytes = b""
    msr: bytes = b""


@dataclass(frozen=True)
class StreamTail:
    """What follows an HVM guest's memory: the records of the vCPU and
    platform state."""

    tsc: libxc.TscInfo
    hvm_context: bytes
    hvm_params: libxc.HvmParams
    device_model: libxl.DeviceModelState | None = None  # None: the guest has none (PVH)


@dataclass(frozen=True)
class PvTail:
    """What follows a PV guest's memory."""

    tsc: libxc.TscInfo
    shared_info: bytes
    vcpus: tuple[libxc_pv.PvVcpu, ...]


Tail = StreamTail | PvTail


def prologue(config: dict[str, Any] | None, domain: libxc.DomainHeader,
             policy: CpuPolicy = CpuPolicy(), p2m: libxc_pv.P2mFrames | None = None) -> bytes:
    """Everything before the first PAGE_DATA; no xl header if config is None.

    A PV guest's p2m frames go last; without ``p2m`` the caller sends them
    later (``p2m_frames``), before any page."""
    parts = [] if config is None else [xl.encode_header(config)]
    parts += [libxl.encode_header(), libxl.encode_libxc_context(),
              libxc.encode_image_header(), libxc.encode_domain_header(domain)]
    if domain.guest_type == libxc.DHDR_TYPE_X86_PV:
        parts.append(libxc_pv.encode_pv_info())
    if policy.cpuid:
        parts.append(libxc.encode_policy(libxc.REC_X86_CPUID_POLICY, policy.cpuid))
    if policy.msr:
        parts.append(libxc.encode_policy(libxc.REC_X86_MSR_POLICY, policy.msr))
    parts.append(libxc.encode_empty(libxc.REC_STATIC_DATA_END))
    if p2m is not None:
        parts.append(p2m_frames(p2m))
    return b"".join(parts)


def p2m_frames(p2m: libxc_pv.P2mFrames) -> bytes:
    """X86_PV_P2M_FRAMES: where a PV guest's p2m lives, before its pages."""
    return libxc_pv.encode_p2m_frames(p2m)


def pfn_bytes(pfns, count: int) -> memoryview:
    """The first ``count`` pfns of a cffi array as PAGE_DATA pfn words
    (type 0, NOTAB: pages with data), without a copy."""
    return memoryview(ffi.buffer(pfns, 8 * count))


def page_data_head(pfn_words: bytes | memoryview, data_pages: int) -> bytes:
    """The 16 bytes that open a PAGE_DATA record; pfn words and data follow."""
    return libxc.encode_page_data_head(bytes(pfn_words), data_pages)


def verify_marker() -> bytes:
    """VERIFY: the pages after it are a second copy to compare, not to load."""
    return libxc.encode_empty(libxc.REC_VERIFY)


def epilogue(tail: Tail) -> bytes:
    """Everything after the memory, up to and including libxl's END."""
    if isinstance(tail, PvTail):
        parts = [libxc.encode_tsc_info(tail.tsc), libxc_pv.encode_shared_info(tail.shared_info)]
        parts += [libxc_pv.encode_vcpu(v) for v in tail.vcpus]
        parts += [libxc.encode_empty(libxc.REC_END), libxl.encode_end()]
        return b"".join(parts)
    parts = [libxc.encode_tsc_info(tail.tsc), libxc.encode_hvm_context(tail.hvm_context)]
    # The saver leaves HVM_PARAMS out when every parameter is zero.
    nonzero = tuple((i, v) for i, v in tail.hvm_params.params if v)
    if nonzero:
        parts.append(libxc.encode_hvm_params(libxc.HvmParams(nonzero)))
    parts.append(libxc.encode_empty(libxc.REC_END))
    if tail.device_model is not None:
        parts.append(libxl.encode_device_model(tail.device_model))
    parts.append(libxl.encode_end())
    return b"".join(parts)
