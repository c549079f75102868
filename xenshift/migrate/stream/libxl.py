"""The libxl migration stream, version 2 (docs/specs/libxl-migration-stream).

It wraps the libxc stream: a header, then records, one of which
(LIBXC_CONTEXT, empty) announces the whole libxc stream inline.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from xenshift.migrate.stream.framing import ExactReader, record_bytes

HDR = struct.Struct(">QII")
HDR_IDENT = 0x4C6962786C466D74  # "LibxlFmt"
HDR_VERSION = 2
HDR_OPT_BIG_ENDIAN = 1 << 0
HDR_OPT_LEGACY = 1 << 1

REC_END = 0x00
REC_LIBXC_CONTEXT = 0x01
REC_EMULATOR_XENSTORE_DATA = 0x02
REC_EMULATOR_CONTEXT = 0x03
REC_CHECKPOINT_END = 0x04
REC_CHECKPOINT_STATE = 0x05

REC_NAMES = {
    REC_END: "END", REC_LIBXC_CONTEXT: "LIBXC_CONTEXT",
    REC_EMULATOR_XENSTORE_DATA: "EMULATOR_XENSTORE_DATA",
    REC_EMULATOR_CONTEXT: "EMULATOR_CONTEXT",
    REC_CHECKPOINT_END: "CHECKPOINT_END", REC_CHECKPOINT_STATE: "CHECKPOINT_STATE",
}

EMULATOR_HDR = struct.Struct("<II")
EMULATOR_IDS = {0: "unknown", 1: "qemu-trad", 2: "qemu-upstream"}
EMULATOR_QEMU_UPSTREAM = 2
# Emulator blobs are device state, not memory; a generous cap still keeps
# a hostile length from making the reader allocate without bound.
EMULATOR_RECORD_MAX = 32 << 20


def encode_header(options: int = 0) -> bytes:
    return HDR.pack(HDR_IDENT, HDR_VERSION, options)


def decode_header(reader: ExactReader) -> int:
    """Read and check the libxl header; return its options."""
    at = reader.offset
    ident, version, options = reader.unpack(HDR, "libxl header")
    if ident != HDR_IDENT:
        raise reader.error(f"bad libxl stream ident {ident:#x}, expected 'LibxlFmt'", at)
    if version != HDR_VERSION:
        raise reader.error(f"unsupported libxl stream version {version}", at)
    if options & ~(HDR_OPT_BIG_ENDIAN | HDR_OPT_LEGACY):
        raise reader.error("reserved bits set in libxl header options", at)
    if options & HDR_OPT_BIG_ENDIAN:
        raise reader.error("big-endian libxl streams are not supported", at)
    return options


def encode_libxc_context() -> bytes:
    return record_bytes(REC_LIBXC_CONTEXT)


def encode_end() -> bytes:
    return record_bytes(REC_END)


def encode_emulator(rtype: int, emulator_id: int, index: int, payload: bytes) -> bytes:
    """An EMULATOR_XENSTORE_DATA or EMULATOR_CONTEXT record."""
    return record_bytes(rtype, EMULATOR_HDR.pack(emulator_id, index) + payload)


@dataclass(frozen=True)
class DeviceModelState:
    """What libxl saves of an HVM guest's device model: its device state,
    and the xenstore keys it keeps under its device-model path (the
    physmap), as relative key/value pairs."""

    context: bytes
    xenstore: tuple[tuple[str, str], ...] = ()
    emulator: int = EMULATOR_QEMU_UPSTREAM
    index: int = 0


def encode_device_model(state: DeviceModelState) -> bytes:
    """EMULATOR_XENSTORE_DATA (when there are keys) and EMULATOR_CONTEXT,
    in the order libxl writes them after the libxc stream."""
    who = (state.emulator, state.index)
    parts = []
    if state.xenstore:
        pairs = b"".join(k.encode() + b"\0" + v.encode() + b"\0" for k, v in state.xenstore)
        parts.append(encode_emulator(REC_EMULATOR_XENSTORE_DATA, *who, pairs))
    parts.append(encode_emulator(REC_EMULATOR_CONTEXT, *who, state.context))
    return b"".join(parts)


def decode_emulator(body: bytes, name: str) -> tuple[int, int, bytes]:
    """(emulator id, index, payload) of an EMULATOR_* record."""
    if len(body) < EMULATOR_HDR.size:
        raise ValueError(f"{name} record shorter than its emulator header")
    emu_id, index = EMULATOR_HDR.unpack_from(body)
    if emu_id not in EMULATOR_IDS:
        raise ValueError(f"{name} names unknown emulator {emu_id}")
    return emu_id, index, body[EMULATOR_HDR.size:]


def decode_xenstore_pairs(payload: bytes) -> tuple[tuple[str, str], ...]:
    """EMULATOR_XENSTORE_DATA payload: NUL-terminated key/value strings."""
    if not payload:
        return ()
    if payload[-1:] != b"\0":
        raise ValueError("EMULATOR_XENSTORE_DATA is not NUL terminated")
    parts = payload[:-1].split(b"\0")
    if len(parts) % 2:
        raise ValueError("EMULATOR_XENSTORE_DATA has an odd number of strings")
    text = [p.decode("utf-8", "replace") for p in parts]
    return tuple(zip(text[0::2], text[1::2]))
