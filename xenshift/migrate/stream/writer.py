"""Laying out a whole HVM migration stream the way Xen 4.17 writes it.

xl header (JSON config) → libxl header → LIBXC_CONTEXT → libxc image and
domain headers → X86_CPUID_POLICY → X86_MSR_POLICY → STATIC_DATA_END →
PAGE_DATA × n (→ VERIFY → PAGE_DATA × n with --debug) → X86_TSC_INFO →
HVM_CONTEXT → HVM_PARAMS → END → (EMULATOR_XENSTORE_DATA → EMULATOR_CONTEXT
for a guest with a device model) → libxl END.  The functions return the bytes
of each part; PAGE_DATA is returned as its head only, so page data can go
from guest memory to the wire without a copy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from xenshift.migrate.stream import libxc, libxl, xl
from xenshift.native import ffi


@dataclass(frozen=True)
class CpuPolicy:
    """Serialised CPUID and MSR policy arrays; empty when unknown."""

    cpuid: bytes = b""
    msr: bytes = b""


@dataclass(frozen=True)
class StreamTail:
    """What follows the memory: the records of the vCPU and platform state."""

    tsc: libxc.TscInfo
    hvm_context: bytes
    hvm_params: libxc.HvmParams
    device_model: libxl.DeviceModelState | None = None  # None: the guest has none (PVH)


def prologue(config: dict[str, Any] | None, domain: libxc.DomainHeader,
             policy: CpuPolicy = CpuPolicy()) -> bytes:
    """Everything before the first PAGE_DATA; no xl header if config is None."""
    parts = [] if config is None else [xl.encode_header(config)]
    parts += [libxl.encode_header(), libxl.encode_libxc_context(),
              libxc.encode_image_header(), libxc.encode_domain_header(domain)]
    if policy.cpuid:
        parts.append(libxc.encode_policy(libxc.REC_X86_CPUID_POLICY, policy.cpuid))
    if policy.msr:
        parts.append(libxc.encode_policy(libxc.REC_X86_MSR_POLICY, policy.msr))
    parts.append(libxc.encode_empty(libxc.REC_STATIC_DATA_END))
    return b"".join(parts)


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


def epilogue(tail: StreamTail) -> bytes:
    """Everything after the memory, up to and including libxl's END."""
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
