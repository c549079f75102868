"""The config corpus against Xen's own parser (Debian's libxlutil 4.17).

* every ``fixtures/configs/*.cfg`` is accepted by ``xlu_cfg_readdata``;
* every ``fixtures/configs/invalid/*`` is rejected, and the first line
  libxlu reports is the one named by the file's ``# expect-error-line: N``
  first line, or N-1 (see :func:`test_invalid_config_rejected_at_its_line`);
* every ``fixtures/configs/xm/*`` (Python, for xm) is rejected;
* the corpus is large enough to be worth testing against.

libxlutil is loaded with ctypes; the report libxlu prints goes to a
``FILE*`` from ``open_memstream`` so the test can read it.
"""

from __future__ import annotations

import ctypes
import re
from pathlib import Path

import pytest

CONFIGS = Path(__file__).resolve().parents[2] / "fixtures" / "configs"
XL_FILES = sorted(CONFIGS.glob("*.cfg"))
XM_FILES = sorted(p for p in (CONFIGS / "xm").iterdir() if p.is_file())
INVALID_FILES = sorted(p for p in (CONFIGS / "invalid").iterdir() if p.is_file())

_EXPECT = re.compile(rb"\A# expect-error-line: (\d+)\r?\n")
_REPORTED_LINE = re.compile(r"^[^\n]*?:(\d+): config parsing error", re.M)


class _Libxlu:
    """The three libxlutil calls a parse needs, plus libc's memstream."""

    def __init__(self) -> None:
        c_void_p, c_char_p = ctypes.c_void_p, ctypes.c_char_p
        self.libc = ctypes.CDLL(None)
        self.lib = ctypes.CDLL("libxlutil.so.4.17")
        signatures = {
            (self.libc, "open_memstream"): (
                c_void_p, [ctypes.POINTER(c_char_p),
                           ctypes.POINTER(ctypes.c_size_t)]),
            (self.libc, "fclose"): (ctypes.c_int, [c_void_p]),
            (self.libc, "free"): (None, [c_void_p]),
            (self.lib, "xlu_cfg_init"): (c_void_p, [c_void_p, c_char_p]),
            (self.lib, "xlu_cfg_readdata"): (
                ctypes.c_int, [c_void_p, c_char_p, ctypes.c_int]),
            (self.lib, "xlu_cfg_destroy"): (None, [c_void_p]),
        }
        for (lib, name), (restype, argtypes) in signatures.items():
            func = getattr(lib, name)
            func.restype, func.argtypes = restype, argtypes

    def read(self, data: bytes, name: str) -> tuple[int, str]:
        """``xlu_cfg_readdata``'s return code and everything libxlu printed."""
        report, size = ctypes.c_char_p(), ctypes.c_size_t()
        stream = self.libc.open_memstream(ctypes.byref(report), ctypes.byref(size))
        cfg = self.lib.xlu_cfg_init(stream, name.encode())
        try:
            rc = self.lib.xlu_cfg_readdata(cfg, data, len(data))
        finally:
            self.lib.xlu_cfg_destroy(cfg)
            self.libc.fclose(stream)   # flushes, then size/report are final
        text = ctypes.string_at(report, size.value).decode("utf-8", "replace")
        self.libc.free(report)
        return rc, text


@pytest.fixture(scope="module")
def libxlu() -> _Libxlu:
    try:
        return _Libxlu()
    except OSError as exc:  # pragma: no cover - libxen-dev is a declared dependency
        pytest.fail(f"libxlutil.so.4.17 cannot be loaded (install libxen-dev): {exc}")


def _ids(paths: list[Path]) -> list[str]:
    return [p.name for p in paths]


def test_corpus_is_large_enough() -> None:
    assert len(XL_FILES) >= 30, [p.name for p in XL_FILES]
    assert len(XM_FILES) >= 6, [p.name for p in XM_FILES]
    assert len(INVALID_FILES) >= 12, [p.name for p in INVALID_FILES]
    assert (CONFIGS / "suse-vm-install-pv.cfg") in XL_FILES  # used by `make demo`


@pytest.mark.parametrize("path", XL_FILES, ids=_ids(XL_FILES))
def test_xl_config_accepted(libxlu: _Libxlu, path: Path) -> None:
    rc, report = libxlu.read(path.read_bytes(), path.name)
    assert rc == 0, report
    assert "config parsing error" not in report, report


@pytest.mark.parametrize("path", INVALID_FILES, ids=_ids(INVALID_FILES))
def test_invalid_config_rejected_at_its_line(libxlu: _Libxlu, path: Path) -> None:
    """Rejected, and libxlu's first error is on line N or N-1.

    N-1 is libxlu's own off-by-one: when the offending token is a newline
    (``memory =`` with nothing after it), the lexer has already counted that
    newline, so the error handler in libxlu_cfg.c takes one line off any
    token that ends in '\\n' and reports the line before.
    """
    data = path.read_bytes()
    expect = _EXPECT.match(data)
    assert expect, f"{path.name}: first line must be '# expect-error-line: N'"
    expected = int(expect.group(1))
    assert 1 <= expected <= data.count(b"\n") + 1

    rc, report = libxlu.read(data, path.name)
    assert rc != 0, f"{path.name} was accepted"
    reported = _REPORTED_LINE.search(report)
    assert reported, f"no line in libxlu's report: {report!r}"
    assert int(reported.group(1)) in (expected, expected - 1), report


def test_byte_exact_invalid_files() -> None:
    """Mistakes that an editor or git could silently "fix" are still there."""
    crlf = (CONFIGS / "invalid" / "crlf-line-endings.cfg").read_bytes()
    assert crlf.count(b"\r\n") == crlf.count(b"\n") > 0
    no_newline = (CONFIGS / "invalid" / "final-comment-no-newline.cfg").read_bytes()
    assert not no_newline.endswith(b"\n")
    assert no_newline.rsplit(b"\n", 1)[-1].startswith(b"#")
    for path in XL_FILES + XM_FILES:
        assert b"\r" not in path.read_bytes(), path.name


@pytest.mark.parametrize("path", XM_FILES, ids=_ids(XM_FILES))
def test_xm_config_rejected(libxlu: _Libxlu, path: Path) -> None:
    rc, report = libxlu.read(path.read_bytes(), path.name)
    assert rc != 0, f"{path.name} (Python, for xm) was accepted by libxlu"
    assert "config parsing error" in report, report
