"""``vif=``: each Xen vif becomes a bridged (or libvirt network) virtio NIC.

The MAC stays, so the guest keeps its interface names and DHCP leases.
A vif without a bridge is on xl's default bridge, ``xenbr0``. The
admin's ``--bridge OLD=NEW`` renames a bridge and ``--network OLD=NAME``
puts its vifs on a libvirt network instead.
"""

from __future__ import annotations

from xenshift.config.devices import VifSpec
from xenshift.convert.libvirt.context import KvmRule, MapContext
from xenshift.convert.libvirt.kvm_domain import Bandwidth, Interface

RULES = (
    KvmRule("vif", "devices/interface",
            "type bridge (xl's default xenbr0) or network (--network); MAC "
            "kept; model virtio; vifname → target/@dev; rate → "
            "bandwidth/outbound (average KiB/s, burst = one interval's "
            "credit in KiB); mtu kept; ip, script, backend, vlan and "
            "gatewaydev cannot be carried"),
)

XL_DEFAULT_BRIDGE = "xenbr0"
KIB = 1024
# Hotplug scripts that do what a libvirt bridged interface does by itself.
_BRIDGING_SCRIPTS = ("vif-bridge", "vif-openvswitch")


def apply(ctx: MapContext) -> None:
    """Add one interface per vif."""
    for index, vif in enumerate(ctx.config.vifs):
        item = vif.mac or f"#{index}"
        nic = _interface(ctx, vif, item)
        ctx.domain.devices.append(nic)
        for what, why in _dropped_options(vif):
            ctx.dropped("vif", why, item=item, value=what)
        if not vif.mac:
            ctx.warn(f"vif {item}", "no MAC in the source: libvirt makes one up, "
                     "so the guest sees a new NIC (Xen made one up at every boot)")


def _interface(ctx: MapContext, vif: VifSpec, item: str) -> Interface:
    bridge = vif.bridge or XL_DEFAULT_BRIDGE
    if bridge in ctx.options.networks:
        nic = Interface("network", ctx.options.networks[bridge])
        where = f"libvirt network {nic.source} (was bridge {bridge})"
    else:
        nic = Interface("bridge", ctx.options.bridges.get(bridge, bridge))
        where = f"bridge {nic.source}" + (f" (was {bridge})" if nic.source != bridge else "")
    if vif.bridge is None:
        where += "; xl's default bridge, as the vif names none"
    nic.mac, nic.mtu, nic.target_dev = vif.mac, vif.mtu, vif.vifname
    if vif.mtu is not None:
        ctx.kept("vif", "mtu/@size", item=item, value=f"mtu={vif.mtu}")
    if vif.vifname is not None:
        ctx.kept("vif", "target/@dev: the host-side tap name", item=item,
                 value=f"vifname={vif.vifname}")
    if vif.rate:
        rate = vif.rate
        nic.bandwidth = Bandwidth(average=-(-rate.bytes_per_second // KIB),
                                  burst=-(-rate.bytes_per_interval // KIB))
        ctx.changed("vif", f"average={nic.bandwidth.average} KiB/s "
                    f"burst={nic.bandwidth.burst} KiB", "rate → bandwidth/outbound",
                    item=item, before=f"rate={rate}")
    if vif.model and vif.model != "virtio":
        ctx.changed("vif", "model virtio", "the paravirtual NIC of KVM", item=item,
                    before=f"model={vif.model}")
    ctx.changed("vif", f"{nic.type} interface on {where}",
                "virtio NIC" + (", MAC kept" if vif.mac else ""), item=item,
                before=f"vif on bridge {bridge}")
    return nic


def _dropped_options(vif: VifSpec) -> list[tuple[str, str]]:
    out = []
    if vif.type:
        out.append((f"type={vif.type}", "Xen's choice of emulated or PV NIC; "
                    "every KVM NIC here is virtio"))
    if vif.script and vif.script not in _BRIDGING_SCRIPTS:
        out.append((f"script={vif.script}", "a routed/NAT Xen hotplug script: "
                    "set up the same routing on the KVM host or use --network"))
    elif vif.script:
        out.append((f"script={vif.script}", "libvirt attaches the tap to the "
                    "bridge itself"))
    for name in ("ip", "gatewaydev", "backend", "devid", "vlan", "forwarddev",
                 "accel", "trusted"):
        value = getattr(vif, name)
        if value is not None:
            if name == "ip":
                text = "ip=" + " ".join(value)
            elif name == "trusted":
                text = "trusted" if value else "untrusted"
            else:
                text = f"{name}={value}"
            out.append((text, _WHY[name]))
    if vif.colo:
        out.append(("colo_*", "Xen COLO replication has no KVM equivalent"))
    out += [(unknown, "xl ignores this item too") for unknown in vif.unknown]
    return out


_WHY = {
    "ip": "used by Xen's vif-route and anti-spoofing rules; configure it in "
          "the guest (or an nwfilter)",
    "gatewaydev": "the host device of Xen's routed/NAT scripts",
    "backend": "a Xen driver domain served the vif; the KVM host does",
    "devid": "libvirt numbers NICs in list order",
    "vlan": "Xen's openvswitch script tagged it; add <vlan><tag/></vlan> on an "
            "Open vSwitch bridge",
    "forwarddev": "Xen's hotplug forwarding device",
    "accel": "not supported by xl either",
    "trusted": "a Xen backend trust flag",
}
