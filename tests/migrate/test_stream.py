"""The stream format: byte layout, Xen's verifier, and the strict reader."""

from __future__ import annotations

import io
import os
import struct
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from xenshift.migrate.errors import StreamFormatError
from xenshift.migrate.stream import hvm_context, libxc, libxl, xl
from xenshift.migrate.stream.framing import ExactReader, record_bytes
from xenshift.migrate.stream.reader import Format, read_stream
from xenshift.migrate.stream.writer import CpuPolicy, StreamTail, epilogue, page_data_head, prologue

VERIFIER = Path("/usr/lib/xen-4.17/bin/verify-stream-v2")
PAGES = 64
CONFIG = {"c_info": {"type": "hvm", "name": "t"},
          "b_info": {"max_vcpus": 1, "max_memkb": PAGES * 4}}
DOMAIN = libxc.DomainHeader(libxc.DHDR_TYPE_X86_HVM, 4, 17)
TAIL = StreamTail(libxc.TscInfo(0, 2_500_000, 0, 0),
                  hvm_context.build([hvm_context.header_entry(),
                                     hvm_context.Entry(hvm_context.CODE_CPU, 0,
                                                       bytes(hvm_context.CPU_SIZE))]),
                  libxc.HvmParams(((1, PAGES - 1), (17, 0))))


def page(pfn: int) -> bytes:
    return struct.pack("<Q", pfn) * 512


def batch(pfns: list[int], types: dict[int, int] | None = None) -> bytes:
    types = types or {}
    words = b"".join(struct.pack("<Q", p | types.get(p, 0) << 60) for p in pfns)
    data = b"".join(page(p) for p in pfns if types.get(p, 0) < 0xD)
    return page_data_head(words, len(data) // 4096) + words + data


def stream(policy: CpuPolicy = CpuPolicy()) -> bytes:
    return (prologue(CONFIG, DOMAIN, policy) + batch(list(range(PAGES)))
            + batch([3, 5, 7]) + epilogue(TAIL))


class Memory:
    """A page sink over a bytearray."""

    def __init__(self):
        self.mem = bytearray(PAGES * 4096)
        self.verified = 0

    def begin(self, config, domain, policy):
        return PAGES

    def page_data(self, head, reader, verify):
        words = struct.unpack(f"<{head.count}Q", head.pfn_words)
        for w in words:
            if (w >> 60) >= 0xD:
                continue
            p = w & ((1 << 52) - 1)
            data = reader.read(4096, "page")
            if verify:
                assert self.mem[p * 4096:(p + 1) * 4096] == data
                self.verified += 1
            else:
                self.mem[p * 4096:(p + 1) * 4096] = data


def read(data: bytes, fmt: Format = Format.XL, sink=None):
    sink = sink or Memory()
    return read_stream(ExactReader(io.BytesIO(data)), sink, fmt), sink


def test_headers_are_byte_exact():
    assert libxc.encode_image_header() == bytes.fromhex("ffffffffffffffff") + b"XENF" + \
        b"\0\0\0\3" + bytes(8)
    assert libxc.encode_domain_header(DOMAIN) == struct.pack("<IHHII", 2, 12, 0, 4, 17)
    assert libxl.encode_header() == b"LibxlFmt" + b"\0\0\0\2" + bytes(4)
    hdr = xl.encode_header({"a": 1})
    assert hdr.startswith(b"Xen saved domain, xl format\n \0 \r")
    assert struct.unpack_from("<IIII", hdr, 32) == (0x01020304, 3, 0, 4 + 9)
    assert hdr.endswith(b'{"a": 1}\0')
    assert record_bytes(0x10) == struct.pack("<II", 0x10, 0)
    assert record_bytes(9, b"abc") == struct.pack("<II", 9, 3) + b"abc" + bytes(5)


def test_record_order_is_xen_4_17s():
    data = stream(CpuPolicy(bytes(24), bytes(16)))
    order = []
    pos = len(xl.encode_header(CONFIG)) + 16 + 8 + 24 + 16
    while True:
        rtype, length = struct.unpack_from("<II", data, pos)
        order.append(rtype)
        pos += 8 + length + (-length & 7)
        if rtype == libxc.REC_END:
            break
    assert order == [0x11, 0x12, 0x10, 1, 1, 8, 9, 0xA, 0]
    assert data[pos:] == struct.pack("<II", libxl.REC_END, 0)


def test_round_trip_rebuilds_memory_and_state():
    contents, sink = read(stream())
    assert bytes(sink.mem) == b"".join(page(p) for p in range(PAGES))
    assert contents.config == CONFIG
    assert contents.tail.tsc == TAIL.tsc
    assert contents.tail.hvm_context == TAIL.hvm_context
    # All-zero params are left out, as Xen's saver does.
    assert contents.tail.hvm_params.params == ((1, PAGES - 1),)
    assert contents.pages == PAGES + 3


def test_types_without_data_and_verify_pass():
    data = (prologue(CONFIG, DOMAIN) + batch([0, 1, 2], {1: 0xF, 2: 0xE})
            + record_bytes(libxc.REC_VERIFY) + batch([0]) + epilogue(TAIL))
    contents, sink = read(data)
    assert contents.pages == 2 and sink.verified == 1


@pytest.mark.skipif(not VERIFIER.exists(), reason="xen-utils-4.17 is not installed")
@pytest.mark.parametrize("fmt", ["xl", "libxl", "libxc"])
def test_xen_verifier_accepts_our_stream(tmp_path, fmt):
    data = stream(CpuPolicy(bytes(24), bytes(16)))
    xl_len = len(xl.encode_header(CONFIG))
    if fmt == "libxl":
        data = data[xl_len:]
    elif fmt == "libxc":
        data = data[xl_len + 16 + 8:-8]
    path = tmp_path / "s"
    path.write_bytes(data)
    out = run_verifier(path, fmt)
    assert out.returncode == 0, out.stderr


def run_verifier(path: Path, fmt: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": "/usr/lib/xen-4.17/lib/python"}
    return subprocess.run([str(VERIFIER), "-f", fmt, "-i", str(path)], env=env,
                          capture_output=True, text=True, timeout=120)


def replace_record(data: bytes, rtype: int, new: bytes) -> bytes:
    """``data`` with the first libxc record of ``rtype`` replaced by ``new``."""
    pos = len(xl.encode_header(CONFIG)) + 16 + 8 + 24 + 16
    while True:
        t, length = struct.unpack_from("<II", data, pos)
        size = 8 + length + (-length & 7)
        if t == rtype:
            return data[:pos] + new + data[pos + size:]
        pos += size


BAD = {
    "bad marker": lambda d: d.replace(b"\xff" * 8, b"\xfe" + b"\xff" * 7, 1),
    "unknown mandatory": lambda d: replace_record(d, 0x10, record_bytes(0x10) + record_bytes(0x77)),
    "page before static end": lambda d: replace_record(d, 0x10, b""),
    "wrong page length": lambda d: replace_record(
        d, 1, struct.pack("<IIII", 1, 8 + 8 + 4096 + 8, 1, 0) + bytes(8 + 4096 + 8)),
    "pfn beyond memory": lambda d: replace_record(d, 1, batch([PAGES])),
    "invalid pfn type": lambda d: replace_record(d, 1, batch([0], {0: 6})),
    "zero count": lambda d: replace_record(d, 1, struct.pack("<IIII", 1, 8, 0, 0)),
    "over cap": lambda d: replace_record(d, 9, struct.pack("<II", 9, 200 << 20)),
    "junk context": lambda d: replace_record(d, 9, record_bytes(9, b"junk" * 4)),
    "pv record": lambda d: replace_record(d, 0x10, record_bytes(0x10) + record_bytes(2, bytes(8))),
    "second tsc": lambda d: replace_record(d, 9, libxc.encode_tsc_info(TAIL.tsc)
                                           + libxc.encode_hvm_context(TAIL.hvm_context)),
    "end before context": lambda d: replace_record(d, 9, b""),
    "nonzero padding": lambda d: replace_record(
        d, 9, struct.pack("<II", 9, len(TAIL.hvm_context) - 4) + TAIL.hvm_context[:-4] + b"\1\0\0\0"),
    "garbage": lambda d: os.urandom(4096),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_reader_refuses(case):
    with pytest.raises(StreamFormatError):
        read(BAD[case](stream()))


def test_optional_records_are_skipped():
    data = replace_record(stream(), 0x10, record_bytes(0x80000077, b"x" * 13) + record_bytes(0x10))
    contents, _ = read(data)
    assert contents.tail is not None


def test_truncation_anywhere_is_an_error_with_an_offset():
    data = stream()
    for cut in range(0, len(data), 997):
        with pytest.raises(StreamFormatError) as info:
            read(data[:cut])
        assert info.value.offset is not None and info.value.offset <= cut


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_fuzzed_streams_never_crash(data):
    """Random edits of a valid stream: the reader ends cleanly or refuses."""
    blob = bytearray(stream())
    for _ in range(data.draw(st.integers(1, 8))):
        pos = data.draw(st.integers(0, len(blob) - 1))
        kind = data.draw(st.sampled_from(["flip", "cut", "insert"]))
        if kind == "flip":
            blob[pos] ^= data.draw(st.integers(1, 255))
        elif kind == "cut":
            del blob[pos:pos + data.draw(st.integers(1, 64))]
        else:
            blob[pos:pos] = data.draw(st.binary(min_size=1, max_size=64))
    try:
        read(bytes(blob))
    except StreamFormatError:
        pass


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2048))
def test_random_bytes_are_refused(blob):
    with pytest.raises(StreamFormatError):
        read(blob)


def context(emulator: int, payload: bytes) -> bytes:
    return libxl.encode_emulator(libxl.REC_EMULATOR_CONTEXT, emulator, 0, payload)


DEVICE_MODEL = libxl.DeviceModelState(b"QEVM" + bytes(100), (("physmap/f0/size", "800000"),))


def test_device_model_records_round_trip_after_libxcs_end():
    data = prologue(CONFIG, DOMAIN) + batch([0]) + epilogue(replace(TAIL, device_model=DEVICE_MODEL))
    contents, _ = read(data)
    assert contents.tail.device_model == DEVICE_MODEL
    # Only the xenstore record carries a NUL-terminated pair; the context is as QEMU wrote it.
    assert b"physmap/f0/size\0800000\0" in data and data.index(b"QEVM") > data.index(b"physmap")


@pytest.mark.parametrize("records, error", [
    ([context(2, b"a"), context(2, b"b")],
     "second EMULATOR_CONTEXT"),
    ([context(2, b"a"), context(1, b"b")],
     "more than one device model"),
    ([libxl.encode_emulator(libxl.REC_EMULATOR_XENSTORE_DATA, 2, 0, b"k\0v\0")],
     "EMULATOR_XENSTORE_DATA without EMULATOR_CONTEXT"),
])
def test_device_model_records_that_do_not_make_one_device_model_are_refused(records, error):
    tail = epilogue(TAIL)
    end = libxl.encode_end()
    data = prologue(CONFIG, DOMAIN) + batch([0]) + tail[:-len(end)] + b"".join(records) + end
    with pytest.raises(StreamFormatError, match=error):
        read(data)
