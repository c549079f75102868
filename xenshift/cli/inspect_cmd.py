"""``xen-inspect``: what a Xen guest is made of, and whether it can move.

Inputs: the guest's disk images (numbered xvda, xvdb, … in order), its
xl/xm config (its disks are read from ``disk=``), or a directory holding a
guest's ``/``. Sources are opened read-only.
"""

from __future__ import annotations

import json
import os

import click

from xenshift.cli.errors import report_errors
from xenshift.cli.remote_options import remote_options
from xenshift.inspect import GuestFacts, assess, inspect_disks, inspect_tree
from xenshift.inspect.facts import to_plain
from xenshift.inspect.readiness import Verdict
from xenshift.errors import InputError
from xenshift.inspect.sources import disks_from_config, disks_from_paths, is_config_file
from xenshift.remote.session import RemoteSession, RemoteSource


def _load_remote(inputs: tuple[str, ...], remote: RemoteSource) -> GuestFacts:
    if len(inputs) != 1:
        raise InputError("with -ic, give one GUEST: a domain name or config path on the host")
    with RemoteSession(remote, inputs[0]) as session:
        return inspect_disks(session.disks(session.guest.guest.config))


def _load(inputs: tuple[str, ...]) -> GuestFacts:
    if len(inputs) == 1 and os.path.isdir(inputs[0]):
        return inspect_tree(inputs[0])
    if len(inputs) == 1 and is_config_file(inputs[0]):
        return inspect_disks(disks_from_config(inputs[0]))
    return inspect_disks(disks_from_paths(list(inputs)))


def _size(n: int) -> str:
    return f"{n / (1 << 30):.1f} GiB" if n >= 1 << 30 else f"{n / (1 << 20):.0f} MiB"


def _fs(fs) -> str:
    if fs is None:
        return "no file system"
    tag = f" UUID={fs.uuid}" if fs.uuid else ""
    return f"{fs.fstype}{tag}" + (f" LABEL={fs.label}" if fs.label else "")


def render_text(facts: GuestFacts, verdicts: dict[str, Verdict]) -> str:
    """A human summary of the facts and the verdicts."""
    os_ = facts.os
    out = [f"guest: {os_.product_name or os_.distro or os_.type} "
           f"({os_.distro or '?'} {os_.version or '?'}, {os_.arch or 'arch unknown'})"
           f", hostname {os_.hostname or '?'}"]
    if os_.root:
        out.append(f"root: {os_.root}; mounts: " +
                   ", ".join(f"{mp} on {dev}" for mp, dev in os_.mountpoints.items()))
    if facts.layout:
        out.append("disks:")
        for d in facts.layout.disks:
            kind = d.partition_table or "no partition table"
            out.append(f"  {d.vdev}: {d.path} ({d.format}, {_size(d.size)}), {kind}, "
                       f"MBR boot code: {d.boot_code}")
            if d.filesystem:
                out.append(f"    whole disk: {_fs(d.filesystem)}")
            for p in d.partitions:
                out.append(f"    {p.device}: {_size(p.size)} {_fs(p.filesystem)}")
        for lv in facts.layout.logical_volumes:
            out.append(f"  LVM {lv.device}: {_size(lv.size)} {_fs(lv.filesystem)}")
    b = facts.bootloader
    out.append(f"bootloader: {b.kind or 'none found'}" + (f" ({b.config})" if b.config else "")
               + f"; tools: {', '.join(b.tools) or 'none'}"
               + f"; GRUB platforms: {', '.join(p.rsplit('/', 1)[1] for p in b.platforms) or 'none'}")
    for i, e in enumerate(b.entries):
        mark = "*" if i == b.default_entry else " "
        out.append(f"  {mark} {e.title}: {e.kernel} {' '.join(e.cmdline.args)}")
    out.append("kernels:")
    for k in facts.kernels:
        drivers = " ".join(f"{d}={s}" for d, s in k.drivers.items())
        pvh = {True: "yes", False: "no", None: "unknown"}[k.pvh]
        out.append(f"  {k.version} ({k.package or 'package unknown'}): {k.flavour}"
                   f"{' PV-only' if k.pv_only else ''}, PVH {pvh}; {drivers}")
    i = facts.initrd
    out.append(f"initrd tool: {i.tool or 'none found'}; settings: " +
               (", ".join(f"{s.name}={s.value}" for s in i.settings) or "none"))
    for image in i.images:
        held = image.problem or (", ".join(image.drivers) or "none of the tracked drivers")
        out.append(f"  {image.path}: {image.module_count} modules; {held}")
    out.append("device references:")
    for r in facts.storage.refs:
        out.append(f"  {r.file}:{r.line} {r.spec} ({r.kind}, {r.origin})")
    c = facts.console
    out.append("consoles: " + (", ".join(f"console={a.value} ({a.file}:{a.line})"
                                         for a in c.kernel_consoles) or "no console= argument"))
    for g in c.getty_units:
        out.append(f"  getty unit {g.unit}")
    for e in c.inittab:
        if e.tty:
            out.append(f"  inittab:{e.line} getty on {e.tty}")
    if c.securetty:
        out.append(f"  securetty: {' '.join(e.tty for e in c.securetty)}")
    n = facts.network
    out.append(f"network: predictable names {'on' if n.predictable_names else 'off'} ({n.naming})")
    for cfg in n.configs:
        out.append(f"  {cfg.name} ({cfg.source}, {cfg.file}:{cfg.line})"
                   + (f" MAC {cfg.mac}" if cfg.mac else ""))
    for pin in n.pins:
        out.append(f"  pin {pin.name} = {pin.mac or '?'} ({pin.kind}, {pin.file}:{pin.line})")
    x = facts.xen
    leftovers = ([p.name for p in x.packages] +
                 [f"alias {a.alias} {a.module} ({a.file}:{a.line})" for a in x.modprobe_aliases] +
                 [f"{s.file}:{s.line}" for s in x.scripts])
    out.append("xen leftovers: " + (", ".join(leftovers) or "none"))
    for note in facts.notes:
        out.append(f"note: {note}")
    out.append("readiness:")
    for target, v in verdicts.items():
        out.append(f"  {target}: {v.status}")
        for f in v.findings:
            out.append(f"    {'!' if f.blocking else '-'} {f.message}")
    return "\n".join(out)


@click.command("xen-inspect", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("inputs", nargs=-1, required=True, metavar="DISK…|GUEST.cfg|ROOTDIR")
@click.option("--json", "as_json", is_flag=True, help="Print facts and verdicts as JSON.")
@report_errors
@remote_options
def inspect_command(inputs: tuple[str, ...], as_json: bool,
                    remote: RemoteSource | None) -> None:
    """Inspect a Xen guest read-only and judge its readiness for hvm, pvh, kvm.

    With -ic, the one input is a domain name or config path on that Xen host.
    """
    facts = _load_remote(inputs, remote) if remote else _load(inputs)
    verdicts = assess(facts)
    if as_json:
        click.echo(json.dumps({"facts": facts.to_dict(), "readiness": to_plain(verdicts)},
                              indent=2))
    else:
        click.echo(render_text(facts, verdicts))


def main() -> None:
    """Console-script entry point."""
    inspect_command(prog_name="xen-inspect")
