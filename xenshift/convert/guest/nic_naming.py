"""NIC names: ``eth0`` stays ``eth0`` on the target.

A Xen PV NIC has no PCI slot, so the kernel's ``ethN`` name sticks. On KVM
(virtio) and Xen HVM (emulated, then netfront) systemd's predictable
naming renames it after its bus position (``ens3``, ``enp1s0``, ``enX0``)
and the guest's ``eth0`` configuration matches nothing. A systemd ``.link``
file per NIC, matched on the MAC the config gives it, keeps the name.
"""

from __future__ import annotations

import re

from xenshift.convert.guest.context import PlanContext

CONCERN = "network"
LINK_DIR = "/etc/systemd/network"


def link_file(name: str, mac: str) -> str:
    """A systemd ``.link`` file naming the NIC with ``mac`` ``name``."""
    return (f"# Written by xenshift: keep the name this NIC had under Xen PV\n"
            f"[Match]\nMACAddress={mac}\n\n[Link]\nName={name}\n")


def plan(ctx: PlanContext) -> None:
    """Pin every ``ethN`` configured by name to its MAC."""
    network = ctx.facts.network
    if not network.predictable_names:
        return
    done = set()
    for config in network.unpinned_kernel_names():
        if config.name in done:
            continue
        done.add(config.name)
        index = int(re.fullmatch(r"eth(\d+)", config.name).group(1))
        macs = ctx.request.macs
        mac = config.mac or (macs[index] if index < len(macs) else None)
        if mac is None:
            ctx.warn(CONCERN, f"{config.name} ({config.file}:{config.line}) has no MAC in "
                     "the guest or its config: give the vif a mac= so its name can be pinned")
            continue
        ctx.draft.create(CONCERN, f"{LINK_DIR}/10-xenshift-{config.name}.link",
                         link_file(config.name, mac.lower()),
                         f"{config.name} is configured by name in {config.file}: predictable "
                         f"naming would rename the {ctx.target.upper()} NIC")
