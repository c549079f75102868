"""One guest's conversion from start to finish, as the commands run it.

``convert`` reads the guest, converts its config for the target, and
publishes the outputs into the output directory all at once. The commands
(``xen2hvm``, ``xen2kvm``) and batch jobs all go through here, so a guest is
converted the same way whichever way it is asked for.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path

from xenshift.config.model import DomainConfig
from xenshift.convert.libvirt import KvmOptions, to_kvm
from xenshift.convert.report import ChangeReport
from xenshift.convert.source import load_guest
from xenshift.convert.to_hvm import HvmOptions, to_hvm
from xenshift.convert.to_pvh import to_pvh
from xenshift.outputs import OutputDir, default_outdir, safe_name

TARGETS = ("hvm", "pvh", "kvm")
CONFIG_ONLY_NOTE = ("converting the config only: guest disk conversion is "
                    "not available in this version")


@dataclass(frozen=True)
class ConversionRequest:
    """What to convert, to what, and where the results go."""

    source: Path
    target: str                          # "hvm", "pvh" or "kvm"
    outdir: Path | None = None           # default: NAME-TARGET/ beside source
    config_only: bool = False
    dry_run: bool = False
    hvm: HvmOptions = HvmOptions()
    kvm: KvmOptions = KvmOptions()


@dataclass
class ConversionResult:
    """What a conversion produced and the report of every change."""

    name: str | None
    report: ChangeReport
    outputs: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    plan: str = ""             # the diff (xl targets) or the XML (kvm)
    plan_kind: str = "diff"    # "diff" or "xml"


def unified_diff(before: str, after: str, source: str, output: str) -> str:
    """A unified diff from the source file's text to the converted text."""
    return "".join(difflib.unified_diff(
        before.splitlines(keepends=True), after.splitlines(keepends=True),
        source, output))


def _config_output(request: ConversionRequest, config: DomainConfig
                   ) -> tuple[str, bytes, ChangeReport, str, str]:
    """(file name, bytes, report, plan text, plan kind) of the converted config."""
    name = safe_name(config.name)
    if request.target == "kvm":
        xml, report = to_kvm(config, request.kvm)
        return f"{name}.xml", xml.encode(), report, xml, "xml"
    result = to_hvm(config, request.hvm) if request.target == "hvm" \
        else to_pvh(config)
    outdir = request.outdir or default_outdir(request.source, config.name,
                                              request.target)
    diff = unified_diff(config.document.text, result.document.text,
                        str(request.source), str(outdir / f"{name}.cfg"))
    return f"{name}.cfg", result.document.to_bytes(), result.report, diff, "diff"


def convert(request: ConversionRequest) -> ConversionResult:
    """Convert one guest; raise a XenshiftError and write nothing on failure."""
    if request.target not in TARGETS:
        raise ValueError(f"unknown target {request.target!r}")
    guest = load_guest(request.source)
    config = guest.config
    filename, data, report, plan, plan_kind = _config_output(request, config)
    result = ConversionResult(config.name, report,
                              notes=guest.notes + [CONFIG_ONLY_NOTE],
                              plan=plan, plan_kind=plan_kind)
    if request.dry_run:
        return result
    outdir = request.outdir or default_outdir(request.source, config.name,
                                              request.target)
    with OutputDir(outdir) as out:
        result.outputs.append(out.write(filename, data))
    return result
