"""``xen2hvm``: convert a PV guest to HVM or PVH, staying on Xen."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import click

from xenshift.bootcheck import BootOptions
from xenshift.cli.conversion_output import print_result, progress_for
from xenshift.cli.disk_options import disk_options
from xenshift.cli.errors import report_errors
from xenshift.cli.remote_options import remote_options
from xenshift.convert.guest_disks import DiskOptions
from xenshift.convert.pipeline import ConversionRequest, convert
from xenshift.convert.to_hvm import NIC_MODELS, HvmOptions
from xenshift.errors import InputError
from xenshift.remote.session import RemoteSource
from xenshift.sshhost import SshTarget


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("guest", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--to", "target", type=click.Choice(["hvm", "pvh"]),
              default="hvm", show_default=True, help="Guest type to convert to.")
@click.option("-o", "outdir", type=click.Path(file_okay=False, path_type=Path),
              help="Output directory (default: NAME-hvm/ or NAME-pvh/ beside "
                   "the input).")
@click.option("--in-place", is_flag=True,
              help="Convert the guest's own disk images (each is first backed up "
                   "to IMAGE.xenshift-backup, and restored if anything fails).")
@click.option("--nic-model", type=click.Choice(NIC_MODELS), default="e1000",
              show_default=True, help="Emulated NIC model (HVM).")
@click.option("--hdtype", type=click.Choice(["ide", "ahci"]), default="ide",
              show_default=True, help="Emulated disk controller (HVM).")
@click.option("--keep-xvd", is_flag=True,
              help="Keep xvd disk names (PV-on-HVM) instead of hdX.")
@click.option("--dry-run", is_flag=True,
              help="Print the config diff and the guest changes; write nothing.")
@click.option("--json", "as_json", is_flag=True,
              help="Print the result as one JSON object.")
@click.option("--boot-on", metavar="ssh://[USER@]HOST[:PORT]",
              help="With --verify-boot: boot the result on this Xen host (which must see "
                   "the output directory at the same path) instead of under QEMU.")
@click.option("--boot-ssh", default="ssh", show_default=True,
              help="ssh command for --boot-on, like xl's -s.")
@report_errors
@disk_options
@remote_options
def xen2hvm(guest: Path, target: str, outdir: Path | None, config_only: bool,
            nic_model: str, hdtype: str, keep_xvd: bool, dry_run: bool,
            as_json: bool, disks: DiskOptions, boot: BootOptions | None,
            remote: RemoteSource | None,
            boot_on: str | None, boot_ssh: str) -> None:
    """Convert the Xen PV guest GUEST (xl/xm config or libvirt XML; with -ic, a
    domain name or config path on that Xen host) to HVM or PVH.

    Converts the guest's disks into new images (OUTDIR/NAME-xvdX.qcow2) that
    boot as the target, writes OUTDIR/NAME.cfg pointing at them, and reports
    every change to the config and inside the guest, and why.
    """
    if boot_on:
        if boot is None:
            raise InputError("--boot-on goes with --verify-boot")
        SshTarget.parse(boot_on, "--boot-on")
        boot = replace(boot, boot_on=boot_on, ssh_command=boot_ssh)
    elif target == "pvh" and boot is not None:
        raise InputError("a PVH guest boots under Xen only: --verify-boot --to pvh needs "
                         "--boot-on ssh://XENHOST")
    request = ConversionRequest(
        source=guest, target=target, outdir=outdir, config_only=config_only,
        dry_run=dry_run,
        hvm=HvmOptions(nic_model=nic_model, hdtype=hdtype, keep_xvd=keep_xvd),
        disks=disks, boot=boot, progress=progress_for(as_json), remote=remote)
    print_result(convert(request), as_json=as_json, dry_run=dry_run)


def main() -> None:
    """Console-script entry point."""
    xen2hvm(prog_name="xen2hvm")
