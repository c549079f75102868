"""The Xen→KVM mapping table, ``KVM_RULES``, and the mappers behind it.

``KVM_RULES`` maps every xl key of the catalog (:mod:`xenshift.config.keys`)
to a :class:`~.context.KvmRule`: the libvirt element that carries it (an
XPath under ``/domain``) and a note, or no element and the reason it cannot
be carried. Each rule belongs to exactly one mapper module in
:data:`MAPPERS`, which is the code that applies it; the README's mapping
table is generated from the same rules.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType, ModuleType

from xenshift.config import keys
from xenshift.convert.libvirt.context import KvmRule
from xenshift.convert.libvirt.maps import (boot, consoles, disks, display, extras,
                                           interfaces, passthrough, platform,
                                           resources, unsupported)

# In the order they run: disks and interfaces exist before the boot order
# is set, USB inputs before the display adds a tablet.
MAPPERS: tuple[ModuleType, ...] = (resources, disks, interfaces, boot, platform,
                                   passthrough, display, consoles, extras, unsupported)


def _collect() -> tuple[dict[str, KvmRule], dict[str, str]]:
    rules: dict[str, KvmRule] = {}
    owners: dict[str, str] = {}
    for mapper in MAPPERS:
        name = mapper.__name__.rsplit(".", 1)[-1]
        for rule in mapper.RULES:
            if rule.key in rules:
                raise AssertionError(f"{rule.key} has rules in {owners[rule.key]} and {name}")
            rules[rule.key], owners[rule.key] = rule, name
    return rules, owners


_RULES, _OWNERS = _collect()
KVM_RULES: Mapping[str, KvmRule] = MappingProxyType(_RULES)
"""xl key → where it goes in a KVM domain (or why nowhere)."""
MAPPER_OF: Mapping[str, str] = MappingProxyType(_OWNERS)
"""xl key → name of the mapper module (in :data:`MAPPERS`) that applies it."""


def rule_for(key: str) -> KvmRule:
    """The rule for any key a config may set, xl key or not.

    Keys outside the catalog get no element: xm/xend keys with the
    catalog's note on them, anything else as a key xl ignores.
    """
    rule = KVM_RULES.get(key)
    if rule is not None:
        return rule
    xm = keys.XM_ONLY_KEYS.get(key)
    if xm is not None:
        return KvmRule(key, None, f"an xm/xend key that xl ignores: {xm.note}")
    suggestion = keys.suggest(key)
    hint = f" (did you mean {suggestion}?)" if suggestion else ""
    return KvmRule(key, None, f"not an xl key; xl ignores it{hint}")
