"""The token rules of libxlu's disk-spec scanner (libxlu_disk_l.l).

libxlu parses a disk spec with a flex scanner and no grammar: each rule's
action updates the disk as it matches. Flex picks, at each position, the
rule matching the most text (counting trailing context after ``/``), and
the earliest rule on a tie. That choice is what makes ``cdrom`` a flag but
``cdromx`` a target, and ``raw:`` a prefix only when nothing longer matches,
so it is reproduced here exactly rather than approximated with one regex.

As in flex, ``.`` does not match a newline.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterator, NamedTuple


class DiskToken(NamedTuple):
    """One rule match: the rule's name and the text it consumed (yytext)."""

    rule: str
    text: str
    start: int


@dataclass(frozen=True)
class _Rule:
    """A flex rule: what it consumes (head) and its trailing context.

    Flex counts the trailing context when it picks the longest match but
    does not consume it; every trailing context here may be empty.
    """

    name: str
    head: re.Pattern[str]
    trail: re.Pattern[str] | None = None
    after_4_17: bool = False


def _rule(name: str, head: str, trail: str | None = None, after_4_17: bool = False) -> _Rule:
    return _Rule(name, re.compile(head), re.compile(trail) if trail is not None else None,
                 after_4_17)


# In the order of libxlu_disk_l.l, since the order breaks ties.
RULES = (
    _rule("space", r"[ \t\n]+", r"(?:[^ \t\n].*)?"),
    _rule("format", r"format=[^,]*,?"),
    _rule("cdrom", r"cdrom,?"),
    _rule("devtype-cdrom", r"devtype=cdrom,?"),
    _rule("devtype-disk", r"devtype=disk,?"),
    _rule("devtype-bad", r"devtype=[^,]*,?"),
    _rule("access", r"access=[^,]*,?"),
    _rule("backend", r"backend=[^,]*,?"),
    _rule("backendtype", r"backendtype=[^,]*,?"),
    _rule("specification", r"specification=[^,]*,?"),
    _rule("vdev", r"vdev=[^,]*,?"),
    _rule("script", r"script=[^,]*,?"),
    _rule("direct-io-safe", r"direct-io-safe,?"),
    _rule("discard", r"discard,?"),
    _rule("no-discard", r"no-discard,?"),
    _rule("colo", r"colo,?"),
    _rule("no-colo", r"no-colo,?"),
    _rule("colo-host", r"colo-host=[^,]*,?"),
    _rule("colo-port", r"colo-port=[^,]*,?"),
    _rule("colo-export", r"colo-export=[^,]*,?"),
    _rule("active-disk", r"active-disk=[^,]*,?"),
    _rule("hidden-disk", r"hidden-disk=[^,]*,?"),
    # Added after Xen 4.17, whose libxlu reads "trusted" as a positional
    # parameter and fails at the "=" of "grant_usage=".
    _rule("trusted", r"trusted,?", after_4_17=True),
    _rule("untrusted", r"untrusted,?", after_4_17=True),
    _rule("grant_usage", r"grant_usage=[01],?", after_4_17=True),
    _rule("target", r"target=.*"),
    _rule("unknown", r"[a-z][-a-z0-9]*=[^,],?"),
    _rule("prefix-format", r"(?:raw|qcow2?|vhd):", r".*"),
    _rule("prefix-script", r"(?:iscsi|e?nbd|drbd):", r".*"),
    _rule("prefix-ignored", r"(?:tapdisk|tap2?|aio|ioemu|file|phy):", r".*"),
    _rule("prefix-unknown", r"[a-z][a-z0-9]*:", r"(?:[^a-z0-9].*)?"),
    _rule("positional", r"[^=,]*,|[^=,]+,?"),
    _rule("bad", r"."),
)


def _candidates(xen417: bool) -> dict[str | None, tuple[_Rule, ...]]:
    """Rules worth trying, by the character at the current position.

    A rule whose pattern starts with a literal letter can only match there;
    the others (classes, groups) are tried everywhere. Each list keeps the
    file order, which breaks ties.
    """
    rules = [rule for rule in RULES if not (xen417 and rule.after_4_17)]
    starts = {rule.head.pattern[0] for rule in rules if rule.head.pattern[0].isalpha()}
    table: dict[str | None, tuple[_Rule, ...]] = {
        c: tuple(r for r in rules if not r.head.pattern[0].isalpha()
                 or r.head.pattern[0] == c) for c in starts}
    table[None] = tuple(r for r in rules if not r.head.pattern[0].isalpha())
    return table


_CANDIDATES = {False: _candidates(False), True: _candidates(True)}


def disk_tokens(text: str, xen417: bool = False) -> Iterator[DiskToken]:
    """The tokens flex would produce for ``text``, in order.

    A ``bad`` token is where libxlu gives up with "bad disk syntax"; the
    caller stops there. With ``xen417``, the rules added after Xen 4.17 are
    left out, as in that version's libxlu.
    """
    table = _CANDIDATES[xen417]
    general = table[None]
    pos = 0
    while pos < len(text):
        # The 'space' and 'bad' rules match any character, so a rule wins.
        best_counted = -1
        best_end = pos
        best_rule = general[-1]
        for rule in table.get(text[pos], general):
            head = rule.head.match(text, pos)
            if head is None:
                continue
            end = head.end()
            counted = end if rule.trail is None else rule.trail.match(text, end).end()
            if counted > best_counted:
                best_counted, best_end, best_rule = counted, end, rule
        yield DiskToken(best_rule.name, text[pos:best_end], pos)
        pos = best_end
