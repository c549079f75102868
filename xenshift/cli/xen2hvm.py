"""``xen2hvm``: convert a PV guest to HVM or PVH, staying on Xen."""

from __future__ import annotations

from pathlib import Path

import click

from xenshift.cli.conversion_output import print_result
from xenshift.cli.errors import report_errors
from xenshift.convert.pipeline import ConversionRequest, convert
from xenshift.convert.to_hvm import NIC_MODELS, HvmOptions


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
    request = ConversionRequest(
        source=guest, target=target, outdir=outdir, config_only=config_only,
        dry_run=dry_run,
        hvm=HvmOptions(nic_model=nic_model, hdtype=hdtype, keep_xvd=keep_xvd))
    print_result(convert(request), as_json=as_json, dry_run=dry_run)


def main() -> None:
    """Console-script entry point."""
    xen2hvm(prog_name="xen2hvm")
