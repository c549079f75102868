"""``xen2hvm``: convert a PV guest to HVM or PVH, staying on Xen."""

from __future__ import annotations

from pathlib import Path

import click

from xenshift.cli.conversion_output import print_result, unified_diff
from xenshift.cli.errors import report_errors
from xenshift.convert.source import load_guest
from xenshift.convert.to_hvm import NIC_MODELS, HvmOptions, to_hvm
from xenshift.convert.to_pvh import to_pvh
from xenshift.outputs import OutputDir, default_outdir, safe_name

CONFIG_ONLY_NOTE = ("converting the config only: guest disk conversion is "
                    "not available in this version")


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("guest", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--to", "target", type=click.Choice(["hvm", "pvh"]),
              default="hvm", show_default=True, help="Guest type to convert to.")
@click.option("-o", "outdir", type=click.Path(file_okay=False, path_type=Path),
              help="Output directory (default: NAME-hvm/ or NAME-pvh/ beside "
                   "the input).")
@click.option("--config-only", is_flag=True,
              help="Convert the config, not the guest's disks.")
@click.option("--nic-model", type=click.Choice(NIC_MODELS), default="e1000",
              show_default=True, help="Emulated NIC model (HVM).")
@click.option("--hdtype", type=click.Choice(["ide", "ahci"]), default="ide",
              show_default=True, help="Emulated disk controller (HVM).")
@click.option("--keep-xvd", is_flag=True,
              help="Keep xvd disk names (PV-on-HVM) instead of hdX.")
@click.option("--dry-run", is_flag=True,
              help="Print a unified diff of the config; write nothing.")
@click.option("--json", "as_json", is_flag=True,
              help="Print the result as one JSON object.")
@report_errors
def xen2hvm(guest: Path, target: str, outdir: Path | None, config_only: bool,
            nic_model: str, hdtype: str, keep_xvd: bool, dry_run: bool,
            as_json: bool) -> None:
    """Convert the Xen PV guest GUEST (xl/xm config or libvirt XML) to HVM or PVH.

    Writes OUTDIR/NAME.cfg and reports every key kept, changed, added or
    dropped, and why.
    """
    loaded = load_guest(guest)
    config = loaded.config
    if target == "hvm":
        result = to_hvm(config, HvmOptions(nic_model=nic_model, hdtype=hdtype,
                                           keep_xvd=keep_xvd))
    else:
        result = to_pvh(config)
    notes = loaded.notes + [CONFIG_ONLY_NOTE]
    outdir = outdir or default_outdir(guest, config.name, target)
    name = f"{safe_name(config.name)}.cfg"
    outputs: list[Path] = []
    plan = None
    if dry_run:
        plan = unified_diff(config.document.text, result.document.text,
                            str(guest), str(outdir / name))
    else:
        with OutputDir(outdir) as out:
            outputs.append(out.write(name, result.document.to_bytes()))
    print_result(result.report, as_json=as_json, dry_run=dry_run,
                 outputs=outputs, plan=plan, plan_key="diff", notes=notes)


def main() -> None:
    """Console-script entry point."""
    xen2hvm(prog_name="xen2hvm")
