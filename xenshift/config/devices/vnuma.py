"""Virtual NUMA nodes (``vnuma=``): a list of nodes, each a list of strings.

Each string is ``key=value``, split once at ``=`` with blanks trimmed:
``pnode`` (the host node), ``size`` (MiB), ``vcpus`` (``0-3,5``) and
``vdistances`` (one distance per virtual node, this node's own first by
convention). xl ignores unknown keys silently; we keep them in ``unknown``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Sequence

from xenshift.config.devices.keyvalue import decimal, xl_pair
from xenshift.config.devices.spec_context import SpecContext
from xenshift.errors import Location
from xenshift.limits import vcpus_problem

_RANGE = re.compile(r"([0-9]{1,10})(?:-([0-9]{1,10}))?")


@dataclass(frozen=True)
class VnumaNode:
    """One virtual NUMA node. ``vcpus`` lists every vcpu, ranges expanded,
    in the order (and with any repeats) the spec gives."""

    pnode: int | None = None
    size_mib: int | None = None
    vcpus: tuple[int, ...] | None = None
    vdistances: tuple[int, ...] | None = None
    unknown: tuple[str, ...] = ()


def parse_vnuma(nodes: Sequence[Sequence[str]],
                location: Location | None = None) -> tuple[VnumaNode, ...]:
    """Parse the whole ``vnuma`` list; SpecError for a bad node.

    A node with more distances than there are nodes is refused: xl would
    write past the end of its distance array.
    """
    parsed = tuple(parse_vnuma_node(items, location) for items in nodes)
    for items, node in zip(nodes, parsed):
        if node.vdistances is not None and len(node.vdistances) > len(nodes):
            ctx = SpecContext("vnuma", ", ".join(items), location)
            raise ctx.error(f"more distances than the {len(nodes)} nodes in",
                            ",".join(map(str, node.vdistances)))
    return parsed


def parse_vnuma_node(items: Sequence[str], location: Location | None = None) -> VnumaNode:
    """Parse the strings of one node as xl does; SpecError where xl fails."""
    ctx = SpecContext("vnuma", ", ".join(items), location)
    values: dict[str, Any] = {}
    unknown: list[str] = []
    for item in items:
        key, value = xl_pair(ctx, item)
        if key == "pnode":
            values["pnode"] = decimal(ctx, item, value)
        elif key == "size":
            values["size_mib"] = decimal(ctx, item, value)
        elif key == "vcpus":
            values[key] = tuple(vcpu for part in _list(ctx, item, value)
                                for vcpu in _vcpu_range(ctx, part))
        elif key == "vdistances":
            values[key] = tuple(decimal(ctx, item, part) for part in _list(ctx, item, value))
        else:
            unknown.append(item)
    return VnumaNode(**values, unknown=tuple(unknown))


def format_vnuma_node(node: VnumaNode) -> list[str]:
    """The strings of one node, read back by parse_vnuma_node as ``node``."""
    items = []
    if node.pnode is not None:
        items.append(f"pnode={node.pnode}")
    if node.size_mib is not None:
        items.append(f"size={node.size_mib}")
    if node.vcpus is not None:
        items.append(f"vcpus={_ranges(node.vcpus)}")
    if node.vdistances is not None:
        items.append("vdistances=" + ",".join(map(str, node.vdistances)))
    for item in items:
        if item.endswith("="):
            raise ValueError(f"a vnuma value cannot be empty: {item!r}")
    return items + list(node.unknown)


def _list(ctx: SpecContext, item: str, value: str) -> list[str]:
    """A comma list as xl's ``strtok`` splits it, blanks trimmed."""
    parts = [part.strip() for part in value.split(",") if part]
    if not parts:
        raise ctx.error("empty list in", item)
    return parts


def _vcpu_range(ctx: SpecContext, part: str) -> range:
    match = _RANGE.fullmatch(part)
    if not match or (match[2] is not None and int(match[2]) < int(match[1])):
        raise ctx.error("bad vcpu range", part)
    last = int(match[2] or match[1])
    too_many = vcpus_problem(last, "vcpu")
    if too_many is not None:
        raise ctx.error(too_many, part)
    return range(int(match[1]), last + 1)


def _ranges(vcpus: tuple[int, ...]) -> str:
    """``0-3,5`` for (0, 1, 2, 3, 5): runs of consecutive vcpus joined."""
    runs: list[list[int]] = []
    for vcpu in vcpus:
        if runs and vcpu == runs[-1][-1] + 1:
            runs[-1].append(vcpu)
        else:
            runs.append([vcpu])
    return ",".join(str(run[0]) if len(run) == 1 else f"{run[0]}-{run[-1]}" for run in runs)
