"""The header xl writes before a libxl stream (tools/xl/xl.h, xl_saverestore.c).

32-byte magic, four host-order u32 (byte order mark, mandatory flags,
optional flags, optional data length), then the optional data: a u32 length
and the domain's JSON configuration with its NUL.
"""

from __future__ import annotations

import json
import struct
from typing import Any

from xenshift.migrate.stream.framing import ExactReader

MAGIC = b"Xen saved domain, xl format\n \0 \r"
HDR = struct.Struct("<IIII")  # host order; x86 is little-endian
BYTEORDER_MARKER = 0x01020304
MANDATORY_FLAG_JSON = 1 << 0
MANDATORY_FLAG_STREAMV2 = 1 << 1
KNOWN_MANDATORY = MANDATORY_FLAG_JSON | MANDATORY_FLAG_STREAMV2
# A domain's JSON config is a few KiB; refuse anything absurd up front.
CONFIG_MAX = 1 << 20


def encode_header(config: dict[str, Any]) -> bytes:
    """The xl header carrying ``config`` as JSON (STREAMv2 + JSON flags)."""
    text = json.dumps(config, sort_keys=True).encode() + b"\0"
    optional = struct.pack("<I", len(text)) + text
    return MAGIC + HDR.pack(BYTEORDER_MARKER, KNOWN_MANDATORY, 0, len(optional)) + optional


def decode_header(reader: ExactReader, magic: bytes | None = None) -> dict[str, Any]:
    """Read the xl header (its magic already read if ``magic`` is given)."""
    at = reader.offset
    if magic is None:
        magic = reader.read(len(MAGIC), "xl header magic")
    if magic != MAGIC:
        raise reader.error("not an xl saved-domain stream (bad magic)", at)
    marker, mandatory, _optional, optlen = reader.unpack(HDR, "xl header")
    if marker != BYTEORDER_MARKER:
        raise reader.error("xl header byte order differs from this host's", at)
    if mandatory & ~KNOWN_MANDATORY:
        raise reader.error(f"unknown mandatory xl flags {mandatory:#x}", at)
    if not mandatory & MANDATORY_FLAG_STREAMV2:
        raise reader.error("legacy (pre-v2) xl streams are not supported", at)
    if not mandatory & MANDATORY_FLAG_JSON:
        raise reader.error("xl stream without a JSON config is not supported", at)
    if not 4 <= optlen <= CONFIG_MAX + 4:
        raise reader.error(f"xl optional data of {optlen} bytes is out of bounds", at)
    optional = reader.read(optlen, "xl optional data")
    (length,) = struct.unpack_from("<I", optional)
    text = optional[4:4 + length]
    if length != optlen - 4 or not text.endswith(b"\0"):
        raise reader.error("xl config length does not match its optional data", at)
    try:
        config = json.loads(text[:-1].decode())
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise reader.error(f"xl config is not valid JSON: {err}", at) from None
    if not isinstance(config, dict):
        raise reader.error("xl config is not a JSON object", at)
    return config
