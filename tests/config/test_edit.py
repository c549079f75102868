"""Editing keeps every byte that is not the edited key's."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import example, given, settings, strategies as st

from tests.config.generated import ConfigGenerator
from tests.oracles.libxlu_cfg import xlu_parse
from xenshift.config.document import Document, decode, parse_config, parse_xl
from xenshift.config.edit import append, set_value, unset
from xenshift.errors import ConfigError

CORPUS = Path(__file__).resolve().parents[2] / "fixtures" / "configs"


def _xl_files() -> list[Path]:
    return sorted(CORPUS.glob("*.cfg"))


def _lines_of(doc: Document, key: str) -> set[int]:
    """0-based line numbers the statements of ``key`` occupy."""
    lines = set()
    for stmt in doc.statements_for(key):
        first = doc.text.count("\n", 0, stmt.start)
        last = doc.text.count("\n", 0, stmt.end)
        lines.update(range(first, last + 1))
    return lines


def _others_kept(doc: Document, new_text: str, key: str) -> bool:
    """Every line not holding ``key`` survives, unchanged and in order."""
    touched = _lines_of(doc, key)
    others = [line for i, line in enumerate(doc.text.splitlines(keepends=True))
              if i not in touched]
    remaining = iter(new_text.splitlines(keepends=True))
    return all(any(line == candidate for candidate in remaining) for line in others)


def _comments(text: str) -> list[str]:
    return [line[line.index("#"):].strip() for line in text.splitlines()
            if "#" in line and not line.lstrip().startswith(("'", '"'))]


@pytest.mark.parametrize("path", _xl_files(), ids=lambda p: p.name)
def test_round_trip_is_byte_exact(path: Path) -> None:
    data = path.read_bytes()
    assert parse_config(decode(data), str(path)).to_bytes() == data


@pytest.mark.parametrize("path", _xl_files(), ids=lambda p: p.name)
def test_set_touches_only_the_key_lines(path: Path) -> None:
    doc = parse_config(decode(path.read_bytes()), str(path))
    assert doc.ok
    for key in doc.settings.keys():
        new = set_value(doc, key, "edited value")
        assert new.settings.get_string(key) == "edited value"
        assert _others_kept(doc, new.text, key), key
        # What libxlu reads agrees, and every other key is untouched.
        xlu = xlu_parse(new.to_bytes(), set(doc.settings.keys()))
        assert xlu.rc == 0
        assert xlu.values[key][0] == "edited value"
        for other in doc.settings.keys():
            if other != key:
                assert new.settings.to_json()[other] == doc.settings.to_json()[other]
        for comment in _comments(doc.text):
            assert comment in new.text


@pytest.mark.parametrize("path", _xl_files(), ids=lambda p: p.name)
def test_unset_keeps_comments_and_other_lines(path: Path) -> None:
    doc = parse_config(decode(path.read_bytes()), str(path))
    for key in doc.settings.keys():
        new = unset(doc, key)
        assert key not in new.settings
        assert _others_kept(doc, new.text, key), key
        assert set(new.settings.keys()) == set(doc.settings.keys()) - {key}
        for comment in _comments(doc.text):
            assert comment in new.text


def test_set_rewrites_last_statement_and_drops_overridden_ones() -> None:
    doc = parse_xl("# head\nmemory = 256 # old\nname = 'a'\nmemory = 512\n")
    new = set_value(doc, "memory", 1024)
    assert new.text == "# head\n# old\nname = 'a'\nmemory = 1024\n"


def test_set_replaces_append_statement_with_assignment() -> None:
    doc = parse_xl('extra = "a"\nextra += " b"\n')
    new = set_value(doc, "extra", "c")
    assert new.text == 'extra = "c"\n'


def test_set_new_key_goes_at_the_end_even_without_final_newline() -> None:
    doc = parse_xl("name = 'a'")
    assert set_value(doc, "vcpus", 2).text == "name = 'a'\nvcpus = 2\n"


def test_unset_keeps_inline_comment_and_neighbours_on_line() -> None:
    doc = parse_xl("a = 1; b = 2; c = 3\nd = 4 # keep me\n")
    assert unset(doc, "b").text == "a = 1; c = 3\nd = 4 # keep me\n"
    assert unset(doc, "c").text == "a = 1; b = 2\nd = 4 # keep me\n"
    assert unset(doc, "a").text == "b = 2; c = 3\nd = 4 # keep me\n"
    assert unset(doc, "d").text == "a = 1; b = 2; c = 3\n# keep me\n"


def test_append_follows_list_layout() -> None:
    one_line = parse_xl("disk = [ 'a', 'b' ]\n")
    assert append(one_line, "disk", "c").text == "disk = [ 'a', 'b', \"c\" ]\n"
    multi = parse_xl("disk = [\n    'a',  # first\n    'b',\n]\n")
    assert append(multi, "disk", "c").text == \
        "disk = [\n    'a',  # first\n    'b',\n    \"c\",\n]\n"
    no_trailing = parse_xl("vif = [\n  'x'\n]\n")
    assert append(no_trailing, "vif", "y").text == "vif = [\n  'x',\n  \"y\"\n]\n"
    empty = parse_xl("pci = []\n")
    assert append(empty, "pci", "01:00.0").text == 'pci = [ "01:00.0" ]\n'
    unset_key = parse_xl("name = 'a'\n")
    assert append(unset_key, "vif", "bridge=br0").settings.to_json()["vif"] == ["bridge=br0"]


def test_append_to_string_concatenates() -> None:
    doc = parse_xl('extra = "console=hvc0"\n')
    assert append(doc, "extra", " quiet").settings.get_string("extra") == "console=hvc0 quiet"


def test_statement_starting_on_an_overridden_statements_last_line() -> None:
    text = ("  vcpus += [ 1\n# one\n,\n  ] ; vcpus = [ 2,\n# two\n3 ]\n"
            "name = 'x'\n")
    doc = parse_xl(text)
    new = set_value(doc, "vcpus", 4)
    assert new.text == "  # one\n# two\n  vcpus = 4\nname = 'x'\n"
    gone = unset(doc, "vcpus")
    assert gone.text == "  # one\n# two\n  \nname = 'x'\n"


def test_invalid_key_is_refused() -> None:
    with pytest.raises(ConfigError, match="not a valid key"):
        set_value(parse_xl("a = 1\n"), "Memory", 1)


def test_xm_files_are_edited_in_python_syntax() -> None:
    doc = parse_config("name = 'old'\nacpi = True\ndisk = ['phy:/dev/a,xvda,w',]\n")
    new = append(set_value(doc, "name", "new"), "disk", "file:/b.img,xvdb,w")
    assert new.text == "name = 'new'\nacpi = True\ndisk = ['phy:/dev/a,xvda,w', 'file:/b.img,xvdb,w',]\n"
    assert new.settings.to_json()["disk"] == ["phy:/dev/a,xvda,w", "file:/b.img,xvdb,w"]


@settings(max_examples=150, deadline=None)
@given(st.integers(min_value=0, max_value=10**6))
@example(584)
@example(3)
def test_generated_configs_round_trip_and_edit_locally(seed: int) -> None:
    text = ConfigGenerator(seed).config()
    doc = parse_xl(text)
    assert doc.to_bytes() == text.encode("utf-8", "surrogateescape")
    if not doc.ok:
        return
    before = doc.settings.to_json()
    for key in doc.settings.keys():
        new = set_value(doc, key, [1, "two"])
        assert new.ok
        assert new.settings.to_json()[key] == [1, "two"]
        assert _others_kept(doc, new.text, key), key
        gone = unset(doc, key)
        assert key not in gone.settings.to_json()
        assert _others_kept(doc, gone.text, key), key
        if isinstance(before[key], list):
            grown = append(doc, key, "x")
            assert grown.settings.to_json()[key] == before[key] + ["x"]
            assert _others_kept(doc, grown.text, key), key
