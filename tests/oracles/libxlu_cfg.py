"""Xen's own config parser (Debian's libxlutil.so) as a test oracle.

Only libxlutil's public API is used (``xlu_cfg_readdata`` and the getters),
through ctypes. The API cannot list the keys a file sets, so callers ask
for candidate keys; :func:`candidate_keys` over-approximates them from the
text so that a key libxlu sees and xenshift misses is still caught.
"""

from __future__ import annotations

import ctypes
import errno
import re
from dataclasses import dataclass

_LIB_NAME = "libxlutil.so.4.17"

_libc = ctypes.CDLL(None, use_errno=True)
_libc.strtol.restype = ctypes.c_long
_libc.strtol.argtypes = [ctypes.c_char_p, ctypes.POINTER(ctypes.c_char_p),
                         ctypes.c_int]
_libc.open_memstream.restype = ctypes.c_void_p
_libc.open_memstream.argtypes = [ctypes.POINTER(ctypes.c_char_p),
                                 ctypes.POINTER(ctypes.c_size_t)]
_libc.fclose.argtypes = [ctypes.c_void_p]
_libc.free.argtypes = [ctypes.c_void_p]

_xlu = ctypes.CDLL(_LIB_NAME)
_xlu.xlu_cfg_init.restype = ctypes.c_void_p
_xlu.xlu_cfg_init.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
_xlu.xlu_cfg_readdata.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
_xlu.xlu_cfg_destroy.argtypes = [ctypes.c_void_p]
_xlu.xlu_cfg_get_string.argtypes = [ctypes.c_void_p, ctypes.c_char_p,
                                    ctypes.POINTER(ctypes.c_char_p), ctypes.c_int]
_xlu.xlu_cfg_get_long.argtypes = [ctypes.c_void_p, ctypes.c_char_p,
                                  ctypes.POINTER(ctypes.c_long), ctypes.c_int]
_xlu.xlu_cfg_get_list.argtypes = [ctypes.c_void_p, ctypes.c_char_p,
                                  ctypes.POINTER(ctypes.c_void_p),
                                  ctypes.POINTER(ctypes.c_int), ctypes.c_int]
_xlu.xlu_cfg_get_listitem2.restype = ctypes.c_void_p
_xlu.xlu_cfg_get_listitem2.argtypes = [ctypes.c_void_p, ctypes.c_int]
_xlu.xlu_cfg_value_type.argtypes = [ctypes.c_void_p]
_xlu.xlu_cfg_value_get_string.argtypes = [ctypes.c_void_p, ctypes.c_void_p,
                                          ctypes.POINTER(ctypes.c_char_p),
                                          ctypes.c_int]
_xlu.xlu_cfg_value_get_list.argtypes = [ctypes.c_void_p, ctypes.c_void_p,
                                        ctypes.POINTER(ctypes.c_void_p),
                                        ctypes.c_int]

XLU_STRING = 0
_ERROR_LINE = re.compile(r"^[^:\n]*:(\d+): config parsing error", re.M)
_KEY = re.compile(rb"([a-z][._0-9a-z]*)[ \t]*\+?=")


@dataclass
class XluResult:
    """What libxlu made of a text."""

    rc: int
    report: str
    values: dict[str, object]   # key -> str | int | nested list, as queried

    @property
    def first_error_line(self) -> int | None:
        """The line of the first error libxlu printed, if any."""
        m = _ERROR_LINE.search(self.report)
        return int(m.group(1)) if m else None


def _decode(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


def _list_items(cfg: int, lst: int, count: int) -> list:
    items = []
    for i in range(count):
        item = _xlu.xlu_cfg_get_listitem2(lst, i)
        if _xlu.xlu_cfg_value_type(item) == XLU_STRING:
            out = ctypes.c_char_p()
            _xlu.xlu_cfg_value_get_string(cfg, item, ctypes.byref(out), 1)
            items.append(_decode(out.value))
        else:
            sub = ctypes.c_void_p()
            _xlu.xlu_cfg_value_get_list(cfg, item, ctypes.byref(sub), 1)
            # XLU_ConfigList starts with {int avalues; int nvalues; ...}.
            nvalues = ctypes.cast(sub, ctypes.POINTER(ctypes.c_int))[1]
            items.append(_list_items(cfg, sub.value, nvalues))
    return items


def _query(cfg: int, key: bytes) -> tuple[bool, object, int | None]:
    """(present, value, long-or-None) of one key."""
    lst = ctypes.c_void_p()
    count = ctypes.c_int()
    rc = _xlu.xlu_cfg_get_list(cfg, key, ctypes.byref(lst), ctypes.byref(count), 1)
    if rc == errno.ESRCH:
        return False, None, None
    if rc == 0:
        return True, _list_items(cfg, lst.value, count.value), None
    out = ctypes.c_char_p()
    _xlu.xlu_cfg_get_string(cfg, key, ctypes.byref(out), 1)
    number = ctypes.c_long()
    long_rc = _xlu.xlu_cfg_get_long(cfg, key, ctypes.byref(number), 1)
    return True, _decode(out.value), number.value if long_rc == 0 else None


def candidate_keys(data: bytes) -> set[str]:
    """Every word followed by ``=`` or ``+=`` anywhere in the text."""
    return {m.group(1).decode() for m in _KEY.finditer(data)}


def xlu_parse(data: bytes, keys: set[str] | None = None) -> XluResult:
    """Parse ``data`` with libxlu and fetch ``keys`` (default: candidates).

    A number is returned as an int when ``xlu_cfg_get_long`` accepts it,
    else as the string ``xlu_cfg_get_string`` gives.
    """
    buf = ctypes.c_char_p()
    size = ctypes.c_size_t()
    stream = _libc.open_memstream(ctypes.byref(buf), ctypes.byref(size))
    cfg = _xlu.xlu_cfg_init(stream, b"t.cfg")
    values: dict[str, object] = {}
    try:
        rc = _xlu.xlu_cfg_readdata(cfg, data, len(data))
        if rc == 0:
            for key in sorted(keys if keys is not None else candidate_keys(data)):
                present, value, number = _query(cfg, key.encode())
                if present:
                    values[key] = (value, number)
    finally:
        _xlu.xlu_cfg_destroy(cfg)
        _libc.fclose(stream)
        report = ctypes.string_at(buf, size.value).decode("utf-8", "replace")
        _libc.free(buf)
    return XluResult(rc, report, values)


def c_strtol(text: str) -> int | None:
    """C ``strtol(text, &end, 0)`` as xl uses it: None unless all consumed."""
    raw = text.encode("utf-8", "surrogateescape")
    buf = ctypes.create_string_buffer(raw)
    end = ctypes.c_char_p()
    ctypes.set_errno(0)
    value = _libc.strtol(buf, ctypes.byref(end), 0)
    if ctypes.get_errno() != 0:
        return None
    consumed = ctypes.cast(end, ctypes.c_void_p).value - ctypes.addressof(buf)
    if consumed == 0 or consumed != len(raw):
        return None
    return value
