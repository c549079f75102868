"""xenshift's xl parser against Xen's own (Debian's libxlutil.so).

For every bundled config and 1,500 generated ones (a quarter carrying a
typical mistake): both accept or both reject; a rejected text gets its first
error on the line libxlu names; an accepted text gives, for every key
either side sees, the same effective value, and ``config show --json``'s
integers are exactly what xl's ``strtol`` reads.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.config.generated import generated_configs
from tests.oracles.libxlu_cfg import c_strtol, candidate_keys, xlu_parse
from xenshift.config.document import decode, parse_xl
from xenshift.config.syntax import ListValue, Op, Scalar

CORPUS = Path(__file__).resolve().parents[2] / "fixtures" / "configs"


def _same_item(ours, theirs) -> bool:
    if isinstance(ours, ListValue):
        return isinstance(theirs, list) and len(theirs) == len(ours.items) \
            and all(_same_item(a, b) for a, b in zip(ours.items, theirs))
    return isinstance(theirs, str) and ours.text == theirs


def _json_int_ok(scalar: Scalar, op: Op, json_value) -> bool:
    expected = c_strtol(scalar.text) if scalar.is_number and op is Op.ASSIGN \
        else None
    if expected is None:
        return json_value == scalar.text
    return json_value == expected


def _json_items_ok(value, json_value) -> bool:
    if isinstance(value, ListValue):
        return isinstance(json_value, list) and all(
            _json_items_ok(v, j) for v, j in zip(value.items, json_value))
    return _json_int_ok(value, Op.ASSIGN, json_value)


def disagreement(text: str) -> str | None:
    """Why xenshift and libxlu disagree on ``text``, or None."""
    data = text.encode("utf-8", "surrogateescape")
    doc = parse_xl(text, "t.cfg")
    keys = candidate_keys(data) | set(doc.settings.keys())
    xlu = xlu_parse(data, keys)
    if (xlu.rc == 0) != doc.ok:
        return (f"libxlu rc={xlu.rc} report={xlu.report!r}; "
                f"xenshift errors={[str(e) for e in doc.errors]}")
    if not doc.ok:
        # libxlu prints errors in the order it notices them, which for a
        # '+=' mismatch is the end of the value, not the key xenshift points
        # at; so compare with the earliest line libxlu would name.
        first = min(doc.errors, key=lambda e: e.xl_line)
        if xlu.first_error_line != first.xl_line:
            return (f"first error: libxlu line {xlu.first_error_line} "
                    f"({xlu.report!r}), xenshift {first} "
                    f"(libxlu line {first.xl_line})")
        return None
    ours_json = doc.settings.to_json()
    if set(ours_json) != set(xlu.values):
        return f"keys differ: xenshift {sorted(ours_json)}, libxlu {sorted(xlu.values)}"
    for setting in doc.settings:
        their_value, their_long = xlu.values[setting.key]
        if not _same_item(setting.value, their_value):
            return f"{setting.key}: xenshift {setting.value!r}, libxlu {their_value!r}"
        json_value = ours_json[setting.key]
        if isinstance(setting.value, Scalar):
            if isinstance(json_value, int) and json_value != their_long:
                return f"{setting.key}: json {json_value}, xl reads {their_long}"
            if not _json_int_ok(setting.value, setting.op, json_value):
                return f"{setting.key}: json {json_value!r} is not what xl reads"
        elif not _json_items_ok(setting.value, json_value):
            return f"{setting.key}: json {json_value!r} is not what xl reads"
    return None


def corpus_files() -> list[Path]:
    return sorted(p for p in CORPUS.rglob("*") if p.is_file())


@pytest.mark.parametrize("path", corpus_files(), ids=lambda p: str(p.relative_to(CORPUS)))
def test_corpus_agrees_with_libxlu(path: Path) -> None:
    assert disagreement(decode(path.read_bytes())) is None


def test_generated_configs_agree_with_libxlu() -> None:
    texts = generated_configs(1500)
    failures = [(t, why) for t in texts if (why := disagreement(t)) is not None]
    accepted = sum(1 for t in texts if parse_xl(t).ok)
    # The generator must exercise both sides of the parser.
    assert 300 < accepted < 1400
    assert not failures, "\n\n".join(f"{t!r}\n  -> {why}" for t, why in failures[:10])


@pytest.mark.parametrize("text", [
    "a=1\n", "a=010\nb=0x400\n", "a='x'\na+=\"y\"\n", "a=[1,[2,3],]\n",
    "a=1\na=2\n", "a=1\na+=2\n", "a=[1]\na+=[2]\na+=[3]\n", "a.b_c=1\n",
    "a = [\n 1 ,\n\n 2,\n]\n", "a=1;b=2", "a=\"\\101B\"\n", "a=\"\\1 2\"\n",
    "a=[[]]\n", "a=09\n", "a=0x\n", "a=\"é\"\n", "a=1 # c\n",
    "a=[1 # c\n,2]\n", ";\n", "a=1 ;; b=2\n",
    # rejected
    "A=1\n", "a=hvm\n", "a=-5\nb=1\n", "a=1.5\n", "a=\"\\x41\"\n",
    "a=1\r\n", "a=1 # c", "a=1\nx\nb=2\n", "a=[1]\na+=\"x\"\n",
    "a=\n1\n", "a=(1,2)\n", "c=\"x\n", "a=[,]\n", "a=1\nb=True\n",
    "x_y-z=1\n", "a=1ag\n", "a=[1,\nb=2\n", "a=[1,\n", "a=", "_a=1\n",
    "a=1\n\n\nb=2 3\n", "a=\"\\0\"\n", "a=1\n#c", "a=\t1\v\n",
])
def test_known_cases_agree_with_libxlu(text: str) -> None:
    assert disagreement(text) is None


def test_random_token_soup_agrees_with_libxlu() -> None:
    """Texts glued from grammar fragments hit the corners a config never does."""
    import random
    rng = random.Random(5)
    fragments = ["a", "b", "x", "=", "+=", " ", "\"", "'", "[", "]", ",", ";",
                 "#", "\n", "\n", "\n", "1", "0", "0x", "-", ".", "\\", "\\n",
                 "\\1", "\t", "A", "\r", "é", "_"]
    failures = []
    for _ in range(3000):
        text = "".join(rng.choice(fragments) for _ in range(rng.randint(0, 25)))
        why = disagreement(text)
        if why is not None:
            failures.append(f"{text!r} -> {why}")
    assert not failures, "\n".join(failures[:10])
