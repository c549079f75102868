"""One guest's conversion from start to finish, as the commands run it.

``convert`` reads the guest, converts its config for the target and, unless
asked for the config only, its disks (:mod:`xenshift.convert.guest_disks`),
pointing the new config at the new images; optionally it boots the result
under QEMU before anything is published, then publishes the outputs into
the output directory all at once. The commands (``xen2hvm``, ``xen2kvm``)
and batch jobs all go through here, so a guest is converted the same way
whichever way it is asked for.
"""

from __future__ import annotations

import difflib
import subprocess
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

from xenshift.bootcheck import BootCheckError, BootOptions, BootResult, boot_check
from xenshift.sshhost import SshTarget
from xenshift.xenboot import xen_boot_check
from xenshift.config.devices.disk import parse_disk, with_image
from xenshift.config.edit import set_list_items
from xenshift.config.model import DomainConfig
from xenshift.convert.guest import GuestPlan, PlanInput
from xenshift.convert.guest_disks import (DiskOptions, GuestResult, backed_up, convert_disks,
                                          convert_in_place, output_format, output_name,
                                          plan_disks)
from xenshift.convert.guest_name import check_guest_name
from xenshift.convert.libvirt import DiskImage as KvmImage
from xenshift.convert.libvirt import KvmOptions, to_kvm
from xenshift.convert.libvirt.convert import map_domain
from xenshift.convert.report import ChangeReport
from xenshift.convert.retarget import XenConversion
from xenshift.convert.secrets import carries_secret
from xenshift.convert.source import Guest, load_guest
from xenshift.convert.to_hvm import HvmOptions, to_hvm
from xenshift.convert.to_pvh import to_pvh
from xenshift.errors import InputError, XenshiftError
from xenshift.inspect.facts import GuestFacts
from xenshift.inspect.readiness import assess
from xenshift.inspect.sources import DiskImage, disks_of_domain
from xenshift.outputs import OutputDir, default_outdir, safe_name
from xenshift.progress import QUIET, Progress
from xenshift.remote.session import RemoteSession, RemoteSource

TARGETS = ("hvm", "pvh", "kvm")
CONFIG_ONLY_NOTE = "converting the config only (--config-only): the guest's disks are untouched"
VIRSH_URI = "qemu:///system"


class DefineError(XenshiftError):
    """``virsh define`` refused the converted domain."""


@dataclass(frozen=True)
class ConversionRequest:
    """What to convert, to what, and where the results go.

    ``boot`` asks for a boot check of the result (None: no check);
    ``define`` defines a KVM result in libvirt once published. With
    ``remote``, ``source`` is a domain name or config path on that host.
    """

    source: Path
    target: str                          # "hvm", "pvh" or "kvm"
    outdir: Path | None = None           # default: NAME-TARGET/ beside source
    config_only: bool = False
    dry_run: bool = False
    hvm: HvmOptions = HvmOptions()
    kvm: KvmOptions = KvmOptions()
    disks: DiskOptions = DiskOptions()
    boot: BootOptions | None = None
    define: bool = False
    progress: Progress = QUIET
    remote: RemoteSource | None = None


@dataclass
class ConversionResult:
    """What a conversion produced and the report of every change."""

    name: str | None
    report: ChangeReport
    outputs: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    plan: str = ""             # the diff (xl targets) or the XML (kvm)
    plan_kind: str = "diff"    # "diff" or "xml"
    facts: GuestFacts | None = None
    guest_plan: GuestPlan | None = None
    boot: BootResult | None = None
    defined: bool = False

    def to_json(self, dry_run: bool = False) -> dict:
        """The outcome as one JSON object (the commands' and jobs' --json)."""
        out = {"name": self.name, "dry_run": dry_run,
               "outputs": [str(p) for p in self.outputs],
               "notes": self.notes, "report": self.report.to_json()}
        if dry_run:
            out[self.plan_kind] = self.plan
        if self.guest_plan is not None and self.facts is not None:
            out["guest"] = {"facts": facts_summary(self.facts),
                            "plan": self.guest_plan.to_json()}
        if self.boot is not None:
            out["boot"] = {"booted": self.boot.booted,
                           "seconds": round(self.boot.seconds, 1),
                           "evidence": self.boot.evidence}
        if self.defined:
            out["defined"] = True
        return out


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
        "readiness": {target: {"status": v.status,
                               "reasons": [f.message for f in v.findings]}
                      for target, v in assess(facts).items()},
    }


def unified_diff(before: str, after: str, source: str, output: str) -> str:
    """A unified diff from the source file's text to the converted text."""
    return "".join(difflib.unified_diff(
        before.splitlines(keepends=True), after.splitlines(keepends=True),
        source, output))


def _point_at_images(result: XenConversion, config: DomainConfig,
                     images: dict[str, KvmImage]) -> XenConversion:
    """The converted xl document with each converted disk's target and format."""
    items = result.document.settings.get_string_list("disk") or []
    texts = []
    for source, item in zip(config.disks, items):
        image = images.get(source.target or "")
        texts.append(item.text if image is None else
                     with_image(item.text, parse_disk(item.text), image.path, image.format))
    if texts == [i.text for i in items]:
        return result
    result.report.changed("disk", "; ".join(i.text for i in items), "; ".join(texts),
                          "the converted disk images")
    return XenConversion(set_list_items(result.document, "disk", texts), result.report)


def _config_output(request: ConversionRequest, config: DomainConfig,
                   images: dict[str, KvmImage]) -> tuple[str, bytes, ChangeReport, str, str]:
    """(file name, bytes, report, plan text, plan kind) of the converted config.

    ``images`` maps a disk's source target to its converted image.
    """
    name = safe_name(config.name)
    if request.target == "kvm":
        xml, report = to_kvm(config, replace(request.kvm, disk_images=images))
        return f"{name}.xml", xml.encode(), report, xml, "xml"
    rebuilds = not (request.config_only or request.disks.in_place)
    result = to_hvm(config, replace(request.hvm, rebuilds_disks=rebuilds)) \
        if request.target == "hvm" else to_pvh(config)
    result = _point_at_images(result, config, images)
    outdir = _outdir(request, config)
    diff = unified_diff(config.document.text, result.document.text,
                        config.path or str(request.source), str(outdir / f"{name}.cfg"))
    return f"{name}.cfg", result.document.to_bytes(), result.report, diff, "diff"


def _outdir(request: ConversionRequest, config: DomainConfig) -> Path:
    # A remote guest's default output directory is in the current one.
    source = Path(request.source.name) if request.remote else request.source
    return request.outdir or default_outdir(source, config.name, request.target)


def _plan_input(request: ConversionRequest, config: DomainConfig) -> PlanInput:
    """The disk names and MACs the guest planners need from the config."""
    names = map_domain(config, request.kvm).renames if request.target == "kvm" else {}
    vdevs = tuple(d.vdev for d in config.disks if not d.is_cdrom)
    return PlanInput(request.target, names, vdevs, tuple(v.mac for v in config.vifs))


def _images(request: ConversionRequest, config: DomainConfig) -> dict[str, KvmImage]:
    """Where each disk's converted image will be, by its source target."""
    if request.config_only or request.disks.in_place:
        return {}
    fmt = output_format(request.disks)
    outdir = _outdir(request, config).resolve()  # libvirt wants absolute paths
    name = safe_name(config.name)
    return {spec.target: KvmImage(str(outdir / output_name(name, spec.vdev, fmt)), fmt)
            for spec in config.disks if spec.target and not spec.is_cdrom}


def _verify_boot(request: ConversionRequest, config: DomainConfig, guest: GuestResult,
                 disks: list[DiskImage]) -> BootResult:
    if request.boot.boot_on:
        with request.progress.step(f"booting the converted guest on {request.boot.boot_on}"):
            result = _boot_on_xen(request, config, guest)
        where = f"on {request.boot.boot_on}'s console"
    else:
        with request.progress.step("booting the converted guest"):
            result = boot_check([guest.outputs[d.vdev] for d in disks], request.target,
                                [v.mac for v in config.vifs],
                                request.boot, request.kvm.machine, request.kvm.disk_bus)
        where = "on ttyS0"
    if not result.booted:
        raise BootCheckError(f"the converted guest did not reach userspace {where} within "
                             f"{result.seconds:.0f} s; nothing was written. Its console "
                             f"ended:\n{result.tail()}")
    return result


def _boot_on_xen(request: ConversionRequest, config: DomainConfig,
                 guest: GuestResult) -> BootResult:
    """The converted config, pointed at the staged images, booted on the Xen host."""
    images = {spec.target: KvmImage(str(Path(guest.outputs[spec.vdev].path).resolve()),
                                    guest.outputs[spec.vdev].format)
              for spec in config.disks if spec.target and spec.vdev in guest.outputs}
    data = _config_output(request, config, images)[1]
    return xen_boot_check(SshTarget.parse(request.boot.boot_on, "--boot-on"), request.boot.ssh_command,
                          data, safe_name(config.name), request.target,
                          [i.path for i in images.values()], request.boot.timeout)


def _define(xml: Path) -> None:
    proc = subprocess.run(["virsh", "-c", VIRSH_URI, "define", str(xml)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise DefineError(f"virsh define failed: {proc.stderr.strip()}")


def _convert_guest(request: ConversionRequest, config: DomainConfig,
                   disks: list[DiskImage], out: OutputDir, report: ChangeReport,
                   result: ConversionResult) -> GuestResult:
    plan_input = _plan_input(request, config)
    if request.disks.in_place:
        with backed_up(disks, report, request.progress):
            guest = convert_in_place(disks, plan_input, report, request.progress)
            if request.boot is not None:
                result.boot = _verify_boot(request, config, guest, disks)
        return guest
    guest = convert_disks(safe_name(config.name), disks, plan_input, out, request.disks,
                          report, request.progress)
    if request.boot is not None:
        result.boot = _verify_boot(request, config, guest, disks)
    return guest


def convert(request: ConversionRequest) -> ConversionResult:
    """Convert one guest; raise a XenshiftError and write nothing on failure."""
    if request.target not in TARGETS:
        raise ValueError(f"unknown target {request.target!r}")
    if request.define and request.target != "kvm":
        raise DefineError("--define defines KVM domains in libvirt")
    if request.remote is None:
        return _convert(request, load_guest(request.source), disks_of_domain)
    if request.disks.in_place or request.disks.overlay:
        raise InputError("-ic reads the guest's disks from its host: its outputs are new "
                         "images, so neither --in-place nor --overlay")
    with RemoteSession(request.remote, str(request.source)) as remote:
        return _convert(request, remote.guest.guest, remote.disks)


def _convert(request: ConversionRequest, guest: Guest,
             disks_of: Callable[[DomainConfig], list[DiskImage]]) -> ConversionResult:
    config = guest.config
    check_guest_name(config, request.target)
    filename, data, report, plan, plan_kind = _config_output(
        request, config, _images(request, config))
    disks = [] if request.config_only else disks_of(config)
    notes = guest.notes + ([CONFIG_ONLY_NOTE] if request.config_only else [])
    result = ConversionResult(config.name, report, notes=notes, plan=plan,
                              plan_kind=plan_kind)
    if request.dry_run:
        if disks:
            result.facts, result.guest_plan = plan_disks(
                disks, _plan_input(request, config), request.progress)
            result.guest_plan.record(report)
        return result
    outdir = _outdir(request, config)
    with OutputDir(outdir) as out:
        if disks:
            converted = _convert_guest(request, config, disks, out, report, result)
            result.facts, result.guest_plan = converted.facts, converted.plan
            result.outputs += [out.final(Path(i.path).name) for i in converted.outputs.values()
                               if not request.disks.in_place]
        result.outputs.insert(0, out.write(filename, data, private=carries_secret(config)))
    if request.define:
        _define(result.outputs[0])
        result.defined = True
    return result
