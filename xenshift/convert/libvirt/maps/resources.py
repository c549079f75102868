"""Name, UUID, memory, vCPUs, pinning, scheduler weight and cap, vNUMA."""

from __future__ import annotations

import re

from xenshift.config.values import format_xl
from xenshift.convert.libvirt.context import KvmRule, MapContext
from xenshift.convert.libvirt.kvm_domain import Memballoon, NumaCell, VcpuPin
from xenshift.errors import excerpt

RULES = (
    KvmRule("name", "name", "kept"),
    KvmRule("uuid", "uuid", "kept, so licences and guest tools see the same machine"),
    KvmRule("memory", "currentMemory", "MiB → KiB; also memory when maxmem is unset"),
    KvmRule("maxmem", "memory", "MiB → KiB; the balloon starts at currentMemory"),
    KvmRule("vcpus", "vcpu/@current", "vCPUs online at start"),
    KvmRule("maxvcpus", "vcpu", "most vCPUs the guest may bring up"),
    KvmRule("cpus", "cputune/vcpupin",
            "one vcpupin per vCPU; \"all\" pins nothing; node: and nodes: "
            "lists cannot be written as host CPUs"),
    KvmRule("cpu_weight", "cputune/shares",
            "credit weight (default 256) × 4 = cgroup shares (default 1024)"),
    KvmRule("cap", "cputune/global_quota",
            "percent of one host CPU → quota per 100 ms period"),
    KvmRule("vnuma", "cpu/numa/cell",
            "one cell per node (vcpus, size, vdistances); pnode → numatune/memnode"),
)

XL_DEFAULT_WEIGHT = 256
CGROUP_DEFAULT_SHARES = 1024
QUOTA_PERIOD_US = 100_000
# A libvirt cpuset: numbers, ranges and ^exclusions, comma separated.
_CPUSET = re.compile(r"\^?[0-9]+(-[0-9]+)?(,\^?[0-9]+(-[0-9]+)?)*")
LIBXL_DEFAULT_MEMORY_MIB = 32


def apply(ctx: MapContext) -> None:
    """Fill in identity, memory, vCPUs and their tuning."""
    domain, config = ctx.domain, ctx.config
    ctx.kept("name", "the domain name")
    if config.uuid:
        domain.uuid = config.uuid
        ctx.kept("uuid", "kept, so the guest sees the same machine UUID")
    _memory(ctx)
    _vcpus(ctx)
    _pinning(ctx)
    _scheduler(ctx)
    _vnuma(ctx)
    domain.devices.append(Memballoon())
    ctx.added("memballoon", "virtio", "lets the host reclaim memory, as Xen's "
              "balloon driver did")


def _memory(ctx: MapContext) -> None:
    config = ctx.config
    memory = config.memory
    if memory is None:
        # libxl__domain_build_info_setdefault: the memory target defaults
        # to the maximum, and the maximum to 32 MiB.
        memory = config.maxmem or LIBXL_DEFAULT_MEMORY_MIB
        source = "maxmem" if config.maxmem else "libxl's default"
        setting = ctx.settings.get("memory")
        said = "not set" if setting is None else (
            f"{excerpt(format_xl(setting.value))} could not be parsed as a "
            "number (xl warns so and ignores it)")
        ctx.warn("memory", f"{said}; as with libxl, the domain gets "
                           f"{memory} MiB ({source})")
    else:
        ctx.kept("memory", f"currentMemory {memory * 1024} KiB")
    maxmem = max(config.maxmem or memory, memory)
    if config.maxmem is not None:
        if config.maxmem < memory:
            ctx.changed("maxmem", str(memory), "below memory, which xl raises it to")
        else:
            ctx.kept("maxmem", f"memory {maxmem * 1024} KiB")
    ctx.domain.memory = maxmem * 1024
    ctx.domain.current_memory = memory * 1024


def _vcpus(ctx: MapContext) -> None:
    config = ctx.config
    current = config.vcpus or 1
    maximum = max(config.maxvcpus or current, current)
    ctx.domain.vcpus, ctx.domain.current_vcpus = maximum, current
    if config.vcpus is not None:
        ctx.kept("vcpus", f"vcpu current={current}")
    if config.maxvcpus is not None:
        ctx.kept("maxvcpus", f"vcpu {maximum}")


def _pinning(ctx: MapContext) -> None:
    cpus = ctx.config.cpus
    if cpus is None:
        return
    vcpus = ctx.domain.vcpus
    per_vcpu = [cpus] * vcpus if isinstance(cpus, str) else cpus[:vcpus]
    if any(c.startswith("node") or "node:" in c for c in per_vcpu):
        ctx.dropped("cpus", "pins to host NUMA nodes, which libvirt cannot "
                    "express as vCPU pins; pin to those nodes' CPUs on the KVM host")
        return
    if isinstance(cpus, str) and cpus.strip() == "all":
        ctx.kept("cpus", "\"all\": no pinning, as on KVM by default")
        return
    bad = [c for c in per_vcpu if not _CPUSET.fullmatch(c.replace(" ", ""))]
    if bad:
        ctx.dropped("cpus", f"{bad[0]!r} is not a CPU list libvirt understands")
        return
    ctx.domain.cputune.vcpupins = [VcpuPin(vcpu, cpuset.replace(" ", ""))
                                   for vcpu, cpuset in enumerate(per_vcpu)]
    ctx.kept("cpus", f"cputune/vcpupin for vCPUs 0-{len(per_vcpu) - 1}")
    if not isinstance(cpus, str) and len(cpus) > vcpus:
        ctx.warn("cpus", f"{len(cpus) - vcpus} entries beyond the last vCPU are unused")


def _scheduler(ctx: MapContext) -> None:
    tune = ctx.domain.cputune
    weight = ctx.settings.get_long("cpu_weight")
    if weight is not None:
        tune.shares = weight * CGROUP_DEFAULT_SHARES // XL_DEFAULT_WEIGHT
        ctx.changed("cpu_weight", f"shares={tune.shares}",
                    "Xen credit weight scaled to cgroup shares (256 ↔ 1024)")
    cap = ctx.settings.get_long("cap")
    if cap is not None:
        if cap == 0:
            ctx.kept("cap", "0: no cap, as on KVM by default")
        else:
            tune.global_period = QUOTA_PERIOD_US
            tune.global_quota = cap * QUOTA_PERIOD_US // 100
            ctx.changed("cap", f"global_quota={tune.global_quota} per "
                        f"{QUOTA_PERIOD_US} us", "percent of one host CPU as a "
                        "cgroup quota for the whole domain")


def _vnuma(ctx: MapContext) -> None:
    nodes = ctx.config.vnuma
    if not nodes:
        return
    cells = []
    for index, node in enumerate(nodes):
        vcpus = ",".join(str(v) for v in node.vcpus or ())
        cells.append(NumaCell(index, vcpus, (node.size_mib or 0) * 1024,
                              node.vdistances or ()))
        if node.pnode is not None:
            ctx.domain.numa_memnodes[index] = node.pnode
    total = sum(cell.memory for cell in cells)
    ctx.domain.cpu.cells = cells
    ctx.kept("vnuma", f"{len(cells)} NUMA cells, {total} KiB")
    if total != ctx.domain.memory:
        ctx.warn("vnuma", f"the cells hold {total} KiB but memory is "
                 f"{ctx.domain.memory} KiB; libvirt sizes the domain from the cells")
        ctx.domain.memory = total
        ctx.domain.current_memory = min(ctx.domain.current_memory, total)
