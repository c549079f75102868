"""The machinery shared by PV→HVM and PV→PVH: walk every key, apply its rule.

A conversion starts from the source as an xl document (an xm file is first
written out as xl), visits each key once in file order, and applies the
rule from :mod:`xenshift.convert.rules`: keep, drop, or hand the key to the
target's handler. Keys the target needs and the source lacks are added last.
Every step goes into the report, and the document is edited in place, so
untouched keys keep their comments and layout.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from xenshift import __version__
from xenshift.config.document import Dialect, Document, parse_xl
from xenshift.config.edit import set_list_items, set_value, unset
from xenshift.config.model import DomainConfig, GuestType
from xenshift.config.render import render_xl
from xenshift.config.values import PlainValue
from xenshift.convert.report import ChangeKind, ChangeReport
from xenshift.convert.rules import Action, rule_for
from xenshift.errors import XenshiftError


class ConversionError(XenshiftError):
    """A config that cannot be converted to the requested target."""


@dataclass
class XenConversion:
    """The result of a conversion that stays on Xen."""

    document: Document
    report: ChangeReport


class Retarget:
    """One conversion in progress: the document being edited and the report.

    Handlers (``key -> callable``) implement the CHANGE and ADD rules; each
    edits :attr:`doc` through :meth:`set`/:meth:`drop` and reports itself.
    """

    def __init__(self, config: DomainConfig, target: GuestType):
        self.config = config
        self.target = target
        self.report = ChangeReport(config.path, target.value)
        self.doc = self._xl_document()

    def _xl_document(self) -> Document:
        doc = self.config.document
        if doc.dialect is Dialect.XL:
            return doc
        text, left_out = render_xl(doc.settings, [
            f"Written as xl by xenshift {__version__} from the legacy xm "
            f"config {doc.path or '<input>'}"])
        self.report.note("source", "an xm (Python) config: its settings are "
                                   "written out as xl; its comments and "
                                   "Python are not carried over")
        for item in left_out:
            self.report.dropped(item.key, None, item.reason)
        return parse_xl(text, doc.path).check()

    # -- edits, each reported by the caller -------------------------------

    def source_text(self, key: str) -> str | None:
        """The value of ``key`` as written in the source, or None."""
        stmts = self.doc.statements_for(key)
        if not stmts:
            return None
        value = stmts[-1].value
        return self.doc.text[value.start:value.end]

    def set(self, key: str, value: PlainValue, reason: str,
            after: str | None = None) -> None:
        """Set ``key``, reporting it as changed or added.

        A new key goes after the line of ``after`` when that key is set.
        """
        before = self.source_text(key)
        self.doc = set_value(self.doc, key, value, after)
        after = self.source_text(key)
        if before is None:
            self.report.added(key, after, reason)
        elif before != after:
            self.report.changed(key, before, after, reason)
        else:
            self.report.kept(key, reason, before)

    def set_items(self, key: str, texts: list[str], reason: str) -> None:
        """Rewrite the string items of list ``key`` in place, reporting it."""
        before = self.source_text(key)
        self.doc = set_list_items(self.doc, key, texts)
        self.report.changed(key, before, self.source_text(key), reason)

    def drop(self, key: str, reason: str) -> None:
        """Remove ``key`` if set, reporting it as dropped."""
        before = self.source_text(key)
        if before is None:
            return
        self.doc = unset(self.doc, key)
        self.report.dropped(key, before, reason)

    # -- the walk ---------------------------------------------------------

    def run(self, handlers: dict[str, Callable[[], None]]) -> XenConversion:
        """Apply the rules to every key, then the additions and the header."""
        done = set()
        for key in list(self.doc.settings.keys()):
            rule = rule_for(key, self.target)
            if rule.action in (Action.CHANGE, Action.ADD):
                handlers[key]()
                done.add(key)
            elif rule.action is Action.DROP:
                self.drop(key, rule.reason)
            else:
                self.report.kept(key, rule.reason, self.source_text(key))
        # Handlers of keys the source lacks still run: the target may need
        # them (type, boot, serial, ...).
        for key, handler in handlers.items():
            if key not in done:
                handler()
        self._header()
        return XenConversion(self.doc, self.report)

    def _header(self) -> None:
        source_type = self.config.guest_type.value.upper()
        lines = [f"# Converted from {source_type} to "
                 f"{self.target.value.upper()} by xenshift {__version__}"
                 + (f" from {self.config.path}" if self.config.path else "")]
        for kind in (ChangeKind.CHANGED, ChangeKind.ADDED, ChangeKind.DROPPED):
            subjects = sorted({c.subject for c in self.report.of_kind(kind)})
            if subjects:
                lines.append(f"#   {kind.value}: {', '.join(subjects)}")
        text = "".join(line + "\n" for line in lines) + self.doc.text
        self.doc = parse_xl(text, self.doc.path).check()
