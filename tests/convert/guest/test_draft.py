"""The draft planners edit guest files through: words, lines, variables, links."""

from __future__ import annotations

import pytest

from xenshift.convert.guest.draft import Draft, replace_word, shell_assignment
from xenshift.inspect.texts import GuestTexts


@pytest.mark.parametrize("line, old, new, expected", [
    ("root=/dev/xvda1 ro", "/dev/xvda1", "/dev/vda1", "root=/dev/vda1 ro"),
    ("root=/dev/xvda10 ro", "/dev/xvda1", "/dev/vda1", "root=/dev/xvda10 ro"),
    ('X="a /dev/xvda1"', "/dev/xvda1", "UUID=u", 'X="a UUID=u"'),
    ("/dev/xvdb\tnone\tswap", "/dev/xvdb", "/dev/vdb", "/dev/vdb\tnone\tswap"),
    ("quiet console=hvc0 ro", "console=hvc0", "", "quiet ro"),
    ("console=hvc0 ro", "console=hvc0", "", "ro"),
    ('A="quiet console=hvc0"', "console=hvc0", "", 'A="quiet"'),
    ("console=xvc0,115200", "console=xvc0,115200", "console=ttyS0", "console=ttyS0"),
])
def test_replace_word(line, old, new, expected):
    assert replace_word(line, old, new) == expected


def test_shell_assignment_escapes():
    assert shell_assignment("A", 'x "$y" \\') == 'A="x \\"\\$y\\" \\\\"'


def test_draft_records_every_change_and_keeps_line_endings():
    draft = Draft(GuestTexts({"/f": "a\r\nb\nc"}, {"/l": "/t"}))
    draft.replace_line("x", "/f", 1, "A", "why")
    draft.append_lines("y", "/f", ["d"], "more")
    draft.set_var("z", "/new", "V", "1", "new file")
    draft.set_link("w", "/l", None, "gone")
    draft.set_link("w", "/m", "/u", "made")
    [edit, new] = draft.file_edits()
    assert edit.after == "A\r\nb\nc\nd\n"
    assert [(c.concern, c.line, c.before, c.after) for c in edit.changes] == [
        ("x", 1, "a", "A"), ("y", 4, None, "d")]
    assert (new.path, new.before, new.after) == ("/new", None, 'V="1"\n')
    assert [(l.path, l.before, l.after) for l in draft.link_edits()] == [
        ("/l", "/t", None), ("/m", None, "/u")]


def test_draft_nets_out_reverted_changes():
    draft = Draft(GuestTexts({"/f": "a\n"}, {"/l": "/t"}))
    draft.replace_line("x", "/f", 1, "b", "")
    draft.replace_line("x", "/f", 1, "a", "")
    draft.set_link("w", "/l", None, "")
    draft.set_link("w", "/l", "/t", "")
    assert draft.file_edits() == () and draft.link_edits() == ()


def test_set_var_replaces_the_last_assignment_and_comment_out():
    draft = Draft(GuestTexts({"/d": 'A=1\nB=2\nA="3"\n'}))
    draft.set_var("x", "/d", "A", "4", "")
    draft.comment_out("x", "/d", 2, "")
    assert draft.text("/d") == 'A=1\n# B=2  # disabled by xenshift\nA="4"\n'
    assert draft.var("/d", "A") == "4"
    with pytest.raises(ValueError):
        draft.create("x", "/d", "", "")
