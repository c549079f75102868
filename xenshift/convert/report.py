"""The change report: every setting kept, changed, added or dropped, and why.

Converters never drop a setting without saying so. Each decision is one
:class:`Change`; a :class:`ChangeReport` renders them for people (text) and
for tools (JSON).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from xenshift.errors import Location


class ChangeKind(Enum):
    """What happened to a setting."""

    KEPT = "kept"
    CHANGED = "changed"
    ADDED = "added"
    DROPPED = "dropped"
    WARNING = "warning"      # kept or converted, but needs the admin's eye
    NOTE = "note"            # context, not a change (e.g. "config only")


@dataclass(frozen=True)
class Change:
    """One decision about one setting (or device) of the source config."""

    kind: ChangeKind
    subject: str              # an xl key, a device ("disk xvda"), or a topic
    reason: str
    before: str | None = None
    after: str | None = None
    location: Location | None = None

    def to_json(self) -> dict:
        """The change as a JSON object."""
        out = {"kind": self.kind.value, "subject": self.subject,
               "reason": self.reason}
        if self.before is not None:
            out["before"] = self.before
        if self.after is not None:
            out["after"] = self.after
        if self.location is not None:
            out["location"] = str(self.location)
        return out

    def __str__(self) -> str:
        head = f"{self.kind.value:8} {self.subject}"
        if self.before is not None and self.after is not None:
            head += f": {self.before} -> {self.after}"
        elif self.before is not None:
            head += f": {self.before}"
        elif self.after is not None:
            head += f": {self.after}"
        return f"{head}  ({self.reason})"


@dataclass
class ChangeReport:
    """All decisions of one conversion, in the order they were made."""

    source: str | None
    target: str                     # "hvm", "pvh" or "kvm"
    changes: list[Change] = field(default_factory=list)

    def add(self, kind: ChangeKind, subject: str, reason: str,
            before: str | None = None, after: str | None = None,
            location: Location | None = None) -> None:
        """Record one decision."""
        self.changes.append(Change(kind, subject, reason, before, after,
                                   location))

    def kept(self, subject: str, reason: str, value: str | None = None) -> None:
        """Record a setting carried over unchanged."""
        self.add(ChangeKind.KEPT, subject, reason, before=value)

    def changed(self, subject: str, before: str, after: str, reason: str) -> None:
        """Record a setting whose value changed."""
        self.add(ChangeKind.CHANGED, subject, reason, before, after)

    def added(self, subject: str, value: str, reason: str) -> None:
        """Record a setting the target needs and the source did not have."""
        self.add(ChangeKind.ADDED, subject, reason, after=value)

    def dropped(self, subject: str, value: str | None, reason: str) -> None:
        """Record a setting the target cannot carry."""
        self.add(ChangeKind.DROPPED, subject, reason, before=value)

    def warn(self, subject: str, reason: str) -> None:
        """Record something the admin must check."""
        self.add(ChangeKind.WARNING, subject, reason)

    def note(self, subject: str, reason: str) -> None:
        """Record context that is not a change."""
        self.add(ChangeKind.NOTE, subject, reason)

    def of_kind(self, kind: ChangeKind) -> list[Change]:
        """The changes of one kind, in order."""
        return [c for c in self.changes if c.kind is kind]

    def counts(self) -> dict[str, int]:
        """How many changes of each kind."""
        return {k.value: len(self.of_kind(k)) for k in ChangeKind}

    def to_json(self) -> dict:
        """The whole report as one JSON object."""
        return {"source": self.source, "target": self.target,
                "counts": self.counts(),
                "changes": [c.to_json() for c in self.changes]}

    def to_text(self) -> str:
        """The report for people: grouped by kind, most important first."""
        order = (ChangeKind.WARNING, ChangeKind.DROPPED, ChangeKind.CHANGED,
                 ChangeKind.ADDED, ChangeKind.KEPT, ChangeKind.NOTE)
        lines = [f"{self.source or '<input>'} -> {self.target}: "
                 + ", ".join(f"{n} {k}" for k, n in self.counts().items() if n)]
        for kind in order:
            for change in self.of_kind(kind):
                lines.append(f"  {change}")
        return "\n".join(lines) + "\n"
