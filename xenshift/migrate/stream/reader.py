"""Strict, bounded reading of an xl, libxl or libxc stream.

The reader walks the layers in order and enforces what Xen's own verifier
leaves out: record order (STATIC_DATA_END before memory, the vCPU/platform
tail after it, END last), one copy of each tail record, the HVM context's
shape, PV records refused in an HVM stream and HVM ones in a PV stream, a
PV stream's X86_PV_INFO before its static data ends and its p2m frames
before its pages.  Bodies are read only after
their length is checked against a per-type cap, so no input can make it
allocate more than one PAGE_DATA batch.  Page data is not kept: the
:class:`PageSink` reads it straight into guest memory (or compares it).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from xenshift.migrate.errors import StreamFormatError
from xenshift.migrate.stream import hvm_context, libxc, libxc_pv, libxl, xl
from xenshift.migrate.stream.framing import (
    OPTIONAL_BIT, ExactReader, read_body, read_record_header, skip_body)
from xenshift.migrate.stream.writer import CpuPolicy, PvTail, StreamTail, Tail
from xenshift.native import PAGE_SIZE, ffi, lib

# Cap for records other than PAGE_DATA and the emulator's: the largest is
# HVM_CONTEXT, a few KiB per vCPU.
RECORD_CAP = 16 << 20


class Format(enum.Enum):
    XL = "xl"
    LIBXL = "libxl"
    LIBXC = "libxc"


class PageSink(Protocol):
    """Where restored memory goes."""

    def begin(self, config: dict[str, Any], domain: libxc.DomainHeader,
              policy: CpuPolicy) -> int:
        """Create the (paused) domain; return its number of pages.  Called
        once the static data (headers, CPU policy) is in, before memory."""

    def page_data(self, head: libxc.PageDataHead, reader: ExactReader,
                  verify: bool) -> None:
        """Consume exactly ``head.data_pages`` pages from ``reader``.

        With ``verify`` the pages are the VERIFY pass: compare, do not load.
        """

    def p2m_frames(self, p2m: libxc_pv.P2mFrames) -> None:
        """A PV stream's X86_PV_P2M_FRAMES, after ``begin``, before any page."""


@dataclass
class StreamContents:
    """Everything in a stream except the memory."""

    config: dict[str, Any] = field(default_factory=dict)
    domain: libxc.DomainHeader | None = None
    policy: CpuPolicy = CpuPolicy()
    tail: Tail | None = None
    page_records: int = 0
    pages: int = 0


class _Phase(enum.IntEnum):
    STATIC = 0
    MEMORY = 1
    TAIL = 2


_PV_RECORDS = {libxc.REC_X86_PV_INFO, libxc.REC_X86_PV_P2M_FRAMES,
               libxc.REC_X86_PV_VCPU_BASIC, libxc.REC_X86_PV_VCPU_EXTENDED,
               libxc.REC_X86_PV_VCPU_XSAVE, libxc.REC_SHARED_INFO,
               libxc.REC_X86_PV_VCPU_MSRS}
_HVM_RECORDS = {libxc.REC_HVM_CONTEXT, libxc.REC_HVM_PARAMS}
_UNSUPPORTED = {libxc.REC_TOOLSTACK: "the deprecated TOOLSTACK record",
                libxc.REC_CHECKPOINT: "checkpointed (Remus/COLO) streams",
                libxc.REC_CHECKPOINT_DIRTY_PFN_LIST: "checkpointed (COLO) streams"}


class _LibxcReader:
    def __init__(self, reader: ExactReader, sink: PageSink, contents: StreamContents):
        self.r = reader
        self.sink = sink
        self.c = contents
        self.max_pfn = 0
        self.phase = _Phase.STATIC
        self.verify = False
        self.tail: dict[int, Any] = {}
        self.pv = False
        self.pv_info = False
        self.p2m: libxc_pv.P2mFrames | None = None
        self.vcpus: dict[int, dict[int, bytes]] = {}  # vcpu id -> record type -> blob
        self.pfn_buf = bytearray(libxc.MAX_BATCH_SIZE * 8)

    def run(self) -> None:
        r = self.r
        image = libxc.decode_image_header(r)
        domain = libxc.decode_domain_header(r)
        self.pv = domain.guest_type == libxc.DHDR_TYPE_X86_PV
        self.c.domain = domain
        self.version = image.version
        while True:
            rtype, length, at = read_record_header(r, "libxc")
            if rtype == libxc.REC_END:
                read_body(r, length, 0, "END", at)
                self._finish(at)
                return
            self._record(rtype, length, at)

    def _record(self, rtype: int, length: int, at: int) -> None:
        r = self.r
        name = libxc.REC_NAMES.get(rtype)
        if name is None:
            if rtype & OPTIONAL_BIT:
                skip_body(r, length, RECORD_CAP, f"optional record {rtype:#x}", at)
                return
            raise r.error(f"unknown mandatory libxc record type {rtype:#x}", at)
        if rtype in _PV_RECORDS and not self.pv:
            raise r.error(f"{name} record in an HVM stream", at)
        if rtype in _HVM_RECORDS and self.pv:
            raise r.error(f"{name} record in a PV stream", at)
        if rtype in _UNSUPPORTED:
            raise r.error(f"{name}: {_UNSUPPORTED[rtype]} are not supported", at)
        if rtype == libxc.REC_PAGE_DATA:
            self._page_data(length, at)
            return
        body = read_body(r, length, RECORD_CAP, name, at)
        try:
            self._small_record(rtype, name, body, at)
        except ValueError as err:
            raise r.error(str(err), at) from None

    def _small_record(self, rtype: int, name: str, body: bytes, at: int) -> None:
        r = self.r
        if rtype in (libxc.REC_X86_CPUID_POLICY, libxc.REC_X86_MSR_POLICY):
            if self.phase != _Phase.STATIC:
                raise r.error(f"{name} after STATIC_DATA_END", at)
            cpuid = rtype == libxc.REC_X86_CPUID_POLICY
            old = self.c.policy.cpuid if cpuid else self.c.policy.msr
            if old:
                raise r.error(f"second {name} record", at)
            size = libxc.CPUID_ENTRY_SIZE if cpuid else libxc.MSR_ENTRY_SIZE
            blob = libxc.decode_policy(body, size, name)
            self.c.policy = CpuPolicy(blob, self.c.policy.msr) if cpuid else \
                CpuPolicy(self.c.policy.cpuid, blob)
        elif rtype == libxc.REC_STATIC_DATA_END:
            libxc.decode_empty(body, name)
            if self.phase != _Phase.STATIC:
                raise r.error("second STATIC_DATA_END", at)
            if self.pv and not self.pv_info:
                raise r.error("STATIC_DATA_END of a PV stream before X86_PV_INFO", at)
            self._enter_memory()
        elif rtype == libxc.REC_X86_PV_INFO:
            if self.phase != _Phase.STATIC or self.pv_info:
                raise r.error(f"{name} after the static data or repeated", at)
            libxc_pv.decode_pv_info(body)
            self.pv_info = True
        elif rtype == libxc.REC_X86_PV_P2M_FRAMES:
            self._p2m_frames(name, body, at)
        elif rtype == libxc.REC_VERIFY:
            libxc.decode_empty(body, name)
            if self.phase != _Phase.MEMORY or self.verify:
                raise r.error("VERIFY outside the memory phase or repeated", at)
            self.verify = True
        else:
            self._tail_record(rtype, name, body, at)

    def _p2m_frames(self, name: str, body: bytes, at: int) -> None:
        r = self.r
        if not self.pv_info or self.p2m is not None or self.phase == _Phase.TAIL:
            raise r.error(f"{name} before X86_PV_INFO, repeated or after the memory", at)
        if self.phase == _Phase.STATIC:
            if self.version >= 3:
                raise r.error(f"{name} before STATIC_DATA_END", at)
            self._enter_memory()  # version 2 streams have no STATIC_DATA_END
        self.p2m = libxc_pv.decode_p2m_frames(body)
        # The p2m, not the config, bounds a PV guest's pfns.
        self.max_pfn = self.p2m.end_pfn + 1
        self.sink.p2m_frames(self.p2m)

    def _enter_memory(self) -> None:
        """The static data is complete: the sink creates the domain."""
        self.phase = _Phase.MEMORY
        self.max_pfn = self.sink.begin(self.c.config, self.c.domain, self.c.policy)

    def _tail_record(self, rtype: int, name: str, body: bytes, at: int) -> None:
        if self.phase == _Phase.STATIC:
            raise self.r.error(f"{name} before any memory (no STATIC_DATA_END)", at)
        if rtype in libxc_pv.VCPU_RECORDS:
            vcpu_id, blob = libxc_pv.decode_vcpu(rtype, body, name)
            records = self.vcpus.setdefault(vcpu_id, {})
            if rtype in records:
                raise self.r.error(f"second {name} record for vCPU {vcpu_id}", at)
            records[rtype] = blob
            self.phase = _Phase.TAIL
            return
        if rtype in self.tail:
            raise self.r.error(f"second {name} record", at)
        self.phase = _Phase.TAIL
        if rtype == libxc.REC_X86_TSC_INFO:
            self.tail[rtype] = libxc.decode_tsc_info(body)
        elif rtype == libxc.REC_HVM_CONTEXT:
            blob = libxc.decode_hvm_context(body)
            hvm_context.walk(blob)
            self.tail[rtype] = blob
        elif rtype == libxc.REC_HVM_PARAMS:
            self.tail[rtype] = libxc.decode_hvm_params(body)
        elif rtype == libxc.REC_SHARED_INFO:
            self.tail[rtype] = libxc_pv.decode_shared_info(body)

    def _page_data(self, length: int, at: int) -> None:
        r = self.r
        if self.phase == _Phase.TAIL:
            raise r.error("PAGE_DATA after the vCPU/platform records", at)
        if self.phase == _Phase.STATIC:
            if self.version >= 3:
                raise r.error("PAGE_DATA before STATIC_DATA_END", at)
            self._enter_memory()  # version 2 streams have no STATIC_DATA_END
        if self.pv and self.p2m is None:
            raise r.error("PAGE_DATA of a PV stream before X86_PV_P2M_FRAMES", at)
        if not libxc.PAGE_DATA_HDR.size < length <= libxc.PAGE_DATA_MAX:
            raise r.error(f"PAGE_DATA record of {length} bytes is out of bounds", at)
        count, res = r.unpack(libxc.PAGE_DATA_HDR, "PAGE_DATA header")
        if not 0 < count <= libxc.MAX_BATCH_SIZE or res:
            raise r.error(f"PAGE_DATA count {count} (reserved {res}) is invalid", at)
        if length < libxc.PAGE_DATA_HDR.size + 8 * count:
            raise r.error("PAGE_DATA too short for its pfn list", at)
        words = memoryview(self.pfn_buf)[:8 * count]
        r.read_into(words, "PAGE_DATA pfns")
        bad = ffi.new("size_t *")
        data_pages = lib.xs_pfns_check(ffi.from_buffer("uint64_t[]", words), count,
                                        self.max_pfn, bad)
        if data_pages < 0:
            raise r.error(f"PAGE_DATA pfn word {bad[0]} has a bad type or a pfn "
                          f"beyond the domain's {self.max_pfn} pages", at)
        if length != libxc.PAGE_DATA_HDR.size + 8 * count + PAGE_SIZE * data_pages:
            raise r.error(f"PAGE_DATA length {length} does not match {count} pfns "
                          f"with {data_pages} pages of data", at)
        head = libxc.PageDataHead(count, bytes(words), data_pages)
        start = r.offset
        self.sink.page_data(head, r, self.verify)
        if r.offset != start + PAGE_SIZE * data_pages:
            raise StreamFormatError("page sink consumed the wrong amount of data", at, r.name)
        self.c.page_records += 1
        self.c.pages += data_pages

    def _finish(self, at: int) -> None:
        needed = (libxc.REC_X86_TSC_INFO, libxc.REC_SHARED_INFO) if self.pv else \
            (libxc.REC_X86_TSC_INFO, libxc.REC_HVM_CONTEXT)
        missing = [libxc.REC_NAMES[t] for t in needed if t not in self.tail]
        if missing:
            raise self.r.error(f"END before {', '.join(missing)}", at)
        if self.pv:
            self.c.tail = self._pv_tail(at)
            return
        params = self.tail.get(libxc.REC_HVM_PARAMS, libxc.HvmParams(()))
        self.c.tail = StreamTail(self.tail[libxc.REC_X86_TSC_INFO],
                                 self.tail[libxc.REC_HVM_CONTEXT], params)


    def _pv_tail(self, at: int) -> PvTail:
        if 0 not in self.vcpus:
            raise self.r.error("END of a PV stream without vCPU 0's records", at)
        vcpus = []
        for vcpu_id, records in sorted(self.vcpus.items()):
            if libxc.REC_X86_PV_VCPU_BASIC not in records:
                raise self.r.error(f"vCPU {vcpu_id} has no X86_PV_VCPU_BASIC record", at)
            blobs = [records.get(t, b"") for t in libxc_pv.VCPU_RECORDS]
            vcpus.append(libxc_pv.PvVcpu(vcpu_id, *blobs))
        return PvTail(self.tail[libxc.REC_X86_TSC_INFO], self.tail[libxc.REC_SHARED_INFO],
                      tuple(vcpus))


class _Emulator:
    """The EMULATOR_* records of one device model, as they arrive."""

    def __init__(self):
        self.id_index: tuple[int, int] | None = None
        self.xenstore: tuple[tuple[str, str], ...] | None = None
        self.context: bytes | None = None

    def add(self, rtype: int, emulator: int, index: int, payload: bytes) -> None:
        if self.id_index not in (None, (emulator, index)):
            raise ValueError("EMULATOR records of more than one device model")
        self.id_index = (emulator, index)
        if rtype == libxl.REC_EMULATOR_CONTEXT:
            if self.context is not None:
                raise ValueError("second EMULATOR_CONTEXT record")
            self.context = payload
        else:
            if self.xenstore is not None:
                raise ValueError("second EMULATOR_XENSTORE_DATA record")
            self.xenstore = libxl.decode_xenstore_pairs(payload)

    def state(self) -> libxl.DeviceModelState:
        return libxl.DeviceModelState(self.context, self.xenstore or (), *self.id_index)


def _read_libxl(reader: ExactReader, sink: PageSink, contents: StreamContents) -> None:
    libxl.decode_header(reader)
    seen_libxc = False
    emulator = _Emulator()
    while True:
        rtype, length, at = read_record_header(reader, "libxl")
        name = libxl.REC_NAMES.get(rtype)
        if rtype == libxl.REC_END:
            read_body(reader, length, 0, "libxl END", at)
            if not seen_libxc:
                raise reader.error("libxl END without a libxc stream", at)
            if emulator.context is not None:
                if isinstance(contents.tail, PvTail):
                    raise reader.error("EMULATOR_CONTEXT in a PV guest's stream", at)
                contents.tail = replace(contents.tail, device_model=emulator.state())
            elif emulator.xenstore:
                raise reader.error("EMULATOR_XENSTORE_DATA without EMULATOR_CONTEXT", at)
            return
        if rtype == libxl.REC_LIBXC_CONTEXT:
            read_body(reader, length, 0, "LIBXC_CONTEXT", at)
            if seen_libxc:
                raise reader.error("second LIBXC_CONTEXT record", at)
            seen_libxc = True
            _LibxcReader(reader, sink, contents).run()
        elif rtype in (libxl.REC_EMULATOR_XENSTORE_DATA, libxl.REC_EMULATOR_CONTEXT):
            if not seen_libxc:
                raise reader.error(f"{name} before LIBXC_CONTEXT", at)
            body = read_body(reader, length, libxl.EMULATOR_RECORD_MAX, name, at)
            try:
                emulator.add(rtype, *libxl.decode_emulator(body, name))
            except ValueError as err:
                raise reader.error(str(err), at) from None
        elif name is not None:
            raise reader.error(f"libxl {name} records (checkpoints) are not supported", at)
        elif rtype & OPTIONAL_BIT:
            skip_body(reader, length, RECORD_CAP, f"optional libxl record {rtype:#x}", at)
        else:
            raise reader.error(f"unknown mandatory libxl record type {rtype:#x}", at)


def read_stream(reader: ExactReader, sink: PageSink, fmt: Format = Format.XL,
                xl_magic: bytes | None = None) -> StreamContents:
    """Read one stream of format ``fmt`` up to its last END.

    ``xl_magic`` is the xl magic when the caller has already read it (to
    tell an xl stream from something else on the same connection).
    """
    contents = StreamContents()
    if fmt is Format.XL:
        contents.config = xl.decode_header(reader, xl_magic)
    if fmt is Format.LIBXC:
        _LibxcReader(reader, sink, contents).run()
    else:
        _read_libxl(reader, sink, contents)
    return contents
