"""What every mapper shares: the source, the options, the report, the result.

A mapper is a module of :mod:`.maps` with ``RULES`` (the xl keys it owns,
each a :class:`KvmRule`) and ``apply(ctx)``, which turns those keys of the
source into parts of ``ctx.domain`` and records one decision per key set.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from xenshift.config.model import DomainConfig
from xenshift.config.settings import Settings
from xenshift.config.values import format_xl
from xenshift.convert.libvirt.kvm_domain import KvmDomain
from xenshift.convert.libvirt.options import KvmOptions
from xenshift.convert.report import ChangeReport


@dataclass(frozen=True)
class KvmRule:
    """Where one xl key goes in a KVM domain.

    ``element`` is the libvirt XPath (relative to ``/domain``) that carries
    the key, or None when KVM has nothing that does; ``note`` says how the
    value is mapped, or why it cannot be.
    """

    key: str
    element: str | None
    note: str


@dataclass
class MapContext:
    """One conversion in progress.

    ``renames`` maps each source vdev (``xvda``) to the KVM disk that
    replaces it (``vda``), for rewriting the kernel command line;
    ``handled`` records which mapper reported each key.
    """

    config: DomainConfig
    options: KvmOptions
    report: ChangeReport
    domain: KvmDomain
    renames: dict[str, str] = field(default_factory=dict)
    handled: dict[str, str] = field(default_factory=dict)
    mapper: str = ""

    @property
    def settings(self) -> Settings:
        """The source's effective settings."""
        return self.config.document.settings

    def is_set(self, key: str) -> bool:
        """Whether the source sets ``key``."""
        return key in self.settings

    def written(self, key: str) -> str | None:
        """``key``'s value as the source writes it (xl syntax), or None."""
        setting = self.settings.get(key)
        return None if setting is None else format_xl(setting.value)

    def flag(self, key: str, default: bool) -> bool:
        """An xl boolean; ``default`` when unset."""
        value = self.settings.get_bool(key)
        return default if value is None else value

    def _subject(self, key: str, item: str | None) -> str:
        self.handled.setdefault(key, self.mapper)
        return key if item is None else f"{key} {item}"

    def kept(self, key: str, reason: str, item: str | None = None,
             value: str | None = None) -> None:
        """``key`` (or one of its items) carried over with the same meaning."""
        self.report.kept(self._subject(key, item), reason,
                         value if value is not None or item else self.written(key))

    def changed(self, key: str, after: str, reason: str, item: str | None = None,
                before: str | None = None) -> None:
        """``key`` (or one item) carried over, with a different value."""
        self.report.changed(self._subject(key, item),
                            before if before is not None else self.written(key) or "",
                            after, reason)

    def dropped(self, key: str, reason: str, item: str | None = None,
                value: str | None = None) -> None:
        """``key`` (or one item) left out of the KVM domain."""
        self.report.dropped(self._subject(key, item),
                            value if value is not None or item else self.written(key),
                            reason)

    def warn(self, subject: str, reason: str) -> None:
        """Something the admin must check (free subject: a key or a topic)."""
        self.report.warn(subject, reason)

    def added(self, subject: str, value: str, reason: str) -> None:
        """Something the KVM domain has that the source did not say."""
        self.report.added(subject, value, reason)
