"""Where a guest of a batch job may be converted.

A job file says it per ``[[guest]]`` table: ``hosts = ["xen1-conv"]`` names
the conversion hosts (cluster workers) that can read the guest's disks; a
guest read from a Xen host (its ``source = "ssh://root@xen1"``, a job or
guest option) goes only to workers that declare that source host. The
scheduler enforces both (:mod:`xenshift.batch.cluster`); a local run has
one host, which reads everything, so it ignores them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable
from urllib.parse import urlsplit

PLACEMENT_KEYS = frozenset({"hosts"})
# The worker resource a guest read from source host H asks for: workers
# that reach H declare it (``--resources source:H=N``, N the reads from H
# they run at once).
SOURCE_RESOURCE = "source:{}"


@dataclass(frozen=True)
class Placement:
    """The hosts a guest may be converted on: empty means any."""

    hosts: tuple[str, ...] = ()


def source_resource(source: str | None) -> str | None:
    """The worker resource a guest read from ``source`` (an ``ssh://``
    URL, or None for a local guest) asks for."""
    return SOURCE_RESOURCE.format(urlsplit(source).hostname) if source else None


def read_placement(table: dict[str, Any], error: Callable[[str, str], None]) -> Placement:
    """The placement keys of one ``[[guest]]`` table.

    ``error(key, message)`` is called for each bad value; the result then
    leaves that key out.
    """
    hosts: tuple[str, ...] = ()
    if "hosts" in table:
        value = table["hosts"]
        if (not isinstance(value, list) or not value
                or not all(isinstance(h, str) and h.strip() for h in value)):
            error("hosts", f"hosts must be a list of worker names "
                           f"(e.g. [\"xen1-conv\"]), not {value!r}")
        else:
            hosts = tuple(dict.fromkeys(value))
    return Placement(hosts)
