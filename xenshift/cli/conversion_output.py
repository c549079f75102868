"""What the conversion commands print: the report, a plan, or JSON."""

from __future__ import annotations

import json
import sys

import click

from xenshift.convert.pipeline import ConversionResult
from xenshift.inspect.facts import GuestFacts
from xenshift.progress import Progress


def emit(text: str) -> None:
    """Write to stdout, passing undecodable bytes from configs through."""
    sys.stdout.buffer.write(text.encode("utf-8", "surrogateescape"))
    sys.stdout.flush()


def progress_for(as_json: bool) -> Progress:
    """Progress bars on a terminal, never around JSON output."""
    return Progress(False) if as_json else Progress()


def facts_summary(facts: GuestFacts) -> dict:
    """The facts a conversion report needs, not the whole inspection."""
    os_ = facts.os
    disks = []
    for d in facts.layout.disks if facts.layout else ():
        fs = d.filesystem.fstype if d.filesystem else None
        disks.append({"vdev": d.vdev, "partition_table": d.partition_table,
                      "boot_code": d.boot_code, "whole_disk_filesystem": fs,
                      "partitions": [p.device for p in d.partitions]})
    default = facts.default_kernel()
    return {
        "os": {"distro": os_.distro, "version": os_.version, "product": os_.product_name,
               "root": os_.root, "mountpoints": os_.mountpoints, "selinux": os_.selinux},
        "disks": disks,
        "bootloader": {"kind": facts.bootloader.kind, "config": facts.bootloader.config},
        "kernels": [{"version": k.version, "package": k.package, "pv_only": k.pv_only}
                    for k in facts.kernels],
        "default_kernel": default.version if default else None,
        "initrd_tool": facts.initrd.tool,
        "consoles": sorted({c.device for c in facts.console.kernel_consoles}),
        "device_references": [f"{r.file}:{r.line} {r.spec}" for r in facts.storage.refs],
    }


def _json(result: ConversionResult, dry_run: bool) -> dict:
    out = {"name": result.name, "dry_run": dry_run,
           "outputs": [str(p) for p in result.outputs],
           "notes": result.notes, "report": result.report.to_json()}
    if dry_run:
        out[result.plan_kind] = result.plan
    if result.guest_plan is not None:
        out["guest"] = {"facts": facts_summary(result.facts),
                        "plan": result.guest_plan.to_json()}
    if result.boot is not None:
        out["boot"] = {"booted": result.boot.booted, "seconds": round(result.boot.seconds, 1),
                       "evidence": result.boot.evidence}
    if result.defined:
        out["defined"] = True
    return out


def print_result(result: ConversionResult, *, as_json: bool,
                 dry_run: bool) -> None:
    """Print one conversion's outcome.

    Text mode: in a dry run the plan (a diff or the XML, then the guest
    changes) goes to stdout and the report to stderr, so the plan can be
    piped; otherwise the report and the written files go to stdout. JSON
    mode prints one object.
    """
    report = result.report
    if as_json:
        emit(json.dumps(_json(result, dry_run), indent=2, ensure_ascii=False) + "\n")
        return
    for note in result.notes:
        click.echo(f"note: {note}", err=dry_run)
    if dry_run:
        emit(result.plan)
        if result.guest_plan is not None:
            emit(result.guest_plan.to_text())
        click.echo(report.to_text(), err=True, nl=False)
        return
    emit(report.to_text())
    if result.boot is not None:
        click.echo(f"booted to userspace in {result.boot.seconds:.0f} s: "
                   f"{result.boot.evidence}")
    for path in result.outputs:
        click.echo(f"wrote {path}")
    if result.defined:
        click.echo(f"defined {result.name} in libvirt")
