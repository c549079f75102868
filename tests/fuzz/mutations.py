"""Hypothesis strategies that mutate real inputs into hostile ones.

Each input starts from a seed (a fixture) and gets a few edits: splices of
other seeds, truncation, duplicated or deleted spans, deep nesting, huge
tokens, odd bytes, NULs, invalid UTF-8 and the characters that matter to
the syntax. Structure survives most edits, so the parsers get past their
first line; the draws are few and cheap, so thousands of examples run in
seconds.
"""

from __future__ import annotations

from hypothesis import strategies as st

from tests.fuzz.entry_points import EntryPoint

# Sizes stay small enough for thousands of examples a minute; the limits
# themselves (nesting depth, token length) are tested on their own.
MAX_NESTING = 6000
MAX_TOKEN = 20_000
INVALID_UTF8 = (b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf0\x28\x8c\x28", b"\x80",
                b"\xe2\x82")
ODD = (b"\0", b"\r", b"\r\n", b"\t", b"\x1b[2J", b"\x7f", b"\xc2\xa0", b"\xe2\x80\xae",
       b"\xef\xbb\xbf", b"\\", b"\\x41", b"\\777", b"0x", b"99999999999999999999999")
EDITS = ("splice", "truncate", "duplicate", "delete", "nest", "unclosed", "token",
         "odd", "utf8", "special", "flip", "random")


@st.composite
def mutant(draw, entry: EntryPoint) -> bytes:
    """One seed of ``entry`` with up to four edits."""
    seeds = entry.seeds()
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(0, 4))):
        edit = draw(st.sampled_from(EDITS))
        at = draw(st.integers(0, len(data)))
        if edit == "splice":
            other = draw(st.sampled_from(seeds))
            start = draw(st.integers(0, len(other)))
            data[at:at] = other[start:start + draw(st.integers(1, 400))]
        elif edit == "truncate":
            del data[at:]
        elif edit in ("duplicate", "delete"):
            span = bytes(data[at:at + draw(st.integers(1, 200))])
            if edit == "delete":
                del data[at:at + len(span)]
            else:
                data[at:at] = span * draw(st.integers(1, 50))
        elif edit in ("nest", "unclosed"):
            opener, closer = entry.nesting
            depth = draw(st.integers(1, MAX_NESTING))
            inner = b"" if edit == "unclosed" else closer * depth
            data[at:at] = opener * depth + inner
        elif edit == "token":
            data[at:at] = draw(st.sampled_from((b"a", b"9", b"\"", b"x,", b"\0"))) \
                * draw(st.integers(1, MAX_TOKEN))
        elif edit == "odd":
            data[at:at] = draw(st.sampled_from(ODD))
        elif edit == "utf8":
            data[at:at] = draw(st.sampled_from(INVALID_UTF8))
        elif edit == "special":
            data[at:at] = bytes([draw(st.sampled_from(entry.specials))])
        elif edit == "flip" and at < len(data):
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif edit == "random":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
    return bytes(data)
