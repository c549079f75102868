"""Every mistake gets FILE:LINE:COL and a message saying what to write."""

from __future__ import annotations

import pytest

from xenshift.config.document import parse_xl
from xenshift.errors import ConfigErrors


def _errors(text: str) -> list[str]:
    return [str(e) for e in parse_xl(text, "g.cfg").errors]


@pytest.mark.parametrize("text, expected", [
    ("type=hvm\n", 'g.cfg:1:6: unquoted word \'hvm\''),
    ("Memory=512\n", "g.cfg:1:1: 'Memory': keys must be lower case"),
    ("memory=-5\n", "g.cfg:1:8: xl numbers have no sign"),
    ("memory=1.5\n", "g.cfg:1:9: xl numbers are whole: 1.5"),
    ("name='x'\r\n", "g.cfg:1:9: carriage return"),
    ("name='x' # end", "g.cfg:1:10: the comment at the end of the file has no newline"),
    ("name='a\\x41'\n", "g.cfg:1:8: xl cannot read \\x escapes"),
    ("name='a\\q'\n", "g.cfg:1:8: invalid escape \\q"),
    ("name='abc\n", "g.cfg:1:6: string opened with ' is not closed"),
    ("disk=['a',\nname='x'\n", "g.cfg:2:1: a list is not closed with ']' before the next setting 'name'"),
    ("disk=['a' 'b']\n", "g.cfg:1:11: missing ',' before ''b'' in a list"),
    ("disk=['a',,'b']\n", "g.cfg:1:11: empty list item"),
    ("vcpus=2 4\n", "g.cfg:1:9: a second value '4' after the value of 'vcpus'"),
    ("acpi=True\n", "g.cfg:1:6: True is Python (xm) syntax"),
    ("vif=('a','b')\n", "g.cfg:1:5: parentheses are Python (xm) syntax"),
    ("= 5\n", "g.cfg:1:1: missing key name before '='"),
    ("memory\n", "g.cfg:1:7: expected '=' or '+=' after key 'memory', found the end of the line"),
    ("memory = # later\n", "g.cfg:1:10: expected a value"),
    ("disk=[\n'a',\n", "g.cfg:2:5: missing ']': the list opened at line 1 column 6 is never closed"),
    ("a=[1]\na+='x'\n", "g.cfg:2:1: 'a +=' adds a string to a list (set on line 1)"),
    ("extra = \"a\" + \"b\"\n", "g.cfg:1:13: '+' is Python (xm) syntax"),
])
def test_error_names_line_column_and_fix(text: str, expected: str) -> None:
    errors = _errors(text)
    assert errors, text
    assert errors[0].startswith(expected), errors


def test_all_errors_of_a_file_are_reported_together() -> None:
    text = ("name = web\n"          # bare word
            "memory = 512\n"
            "vcpus = -2\n"          # sign
            "disk = [ 'a'\n"        # unclosed list, then the next setting
            "vif = [ 'b' ]\n"
            "Maxmem = 1\n")         # upper case
    errors = _errors(text)
    assert [e.split(":")[1] for e in errors] == ["1", "3", "5", "6"]


def test_a_lexical_error_silences_the_rest_of_its_line() -> None:
    # libxlu reports one error per line after a lexical one; so do we.
    assert len(_errors("a = -5 6 7\n")) == 1


def test_check_raises_all_errors_at_once() -> None:
    with pytest.raises(ConfigErrors) as info:
        parse_xl("a=hvm\nb=pv\n", "g.cfg").check()
    assert len(info.value.errors) == 2
    assert str(info.value).splitlines()[1].startswith("g.cfg:2:3:")


def test_stray_last_byte_is_accepted_as_xl_does() -> None:
    doc = parse_xl("name = 'x'\n+", "g.cfg")
    assert doc.ok
    assert str(doc.ignored[0]).startswith("g.cfg:2:1: xl ignores the stray '+'")
