"""``xen2kvm``: convert a Xen guest to a KVM domain for libvirt."""

from __future__ import annotations

from pathlib import Path

import click

from xenshift.bootcheck import BootOptions
from xenshift.cli.conversion_output import print_result, progress_for
from xenshift.cli.disk_options import disk_options
from xenshift.cli.errors import report_errors
from xenshift.cli.remote_options import remote_options
from xenshift.convert.guest_disks import DiskOptions
from xenshift.convert.libvirt import KvmOptions
from xenshift.convert.pipeline import ConversionRequest, convert
from xenshift.errors import InputError
from xenshift.remote.session import RemoteSource


def _mapping(option: str, pairs: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        old, equals, new = pair.partition("=")
        if not equals or not old or not new:
            raise InputError(f"{option} wants OLD=NEW, got {pair!r}")
        out[old] = new
    return out


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("guest", type=click.Path(dir_okay=False, path_type=Path))
@click.option("-o", "outdir", type=click.Path(file_okay=False, path_type=Path),
              help="Output directory (default: NAME-kvm/ beside the input).")
@click.option("--machine", type=click.Choice(["q35", "pc"]), default="q35",
              show_default=True, help="QEMU machine type.")
@click.option("--accel", type=click.Choice(["kvm", "tcg"]), default="kvm",
              show_default=True, help="tcg writes a software-emulated domain "
                                      "(type='qemu').")
@click.option("--disk-bus", type=click.Choice(["virtio", "sata"]),
              default="virtio", show_default=True, help="Bus of the disks.")
@click.option("--bridge", "bridges", multiple=True, metavar="OLD=NEW",
              help="Attach NICs of Xen bridge OLD to host bridge NEW.")
@click.option("--network", "networks", multiple=True, metavar="OLD=NAME",
              help="Attach NICs of Xen bridge OLD to libvirt network NAME.")
@click.option("--define", is_flag=True,
              help="Define the domain in libvirt (virsh -c qemu:///system define).")
@click.option("--dry-run", is_flag=True,
              help="Print the XML and the guest changes; write nothing.")
@click.option("--json", "as_json", is_flag=True,
              help="Print the result as one JSON object.")
@report_errors
@disk_options
@remote_options
def xen2kvm(guest: Path, outdir: Path | None, config_only: bool, machine: str,
            accel: str, disk_bus: str, bridges: tuple[str, ...],
            networks: tuple[str, ...], define: bool, dry_run: bool, as_json: bool,
            disks: DiskOptions, boot: BootOptions | None,
            remote: RemoteSource | None) -> None:
    """Convert the Xen guest GUEST (xl/xm config or libvirt XML; with -ic, a
    domain name or config path on that Xen host) to KVM.

    Converts the guest's disks into new images (OUTDIR/NAME-xvdX.qcow2) that
    boot on KVM, writes OUTDIR/NAME.xml (libvirt domain XML pointing at
    them), and reports where every xl key went and every change inside the
    guest, and why.
    """
    request = ConversionRequest(
        source=guest, target="kvm", outdir=outdir, config_only=config_only,
        dry_run=dry_run,
        kvm=KvmOptions(machine=machine, accel=accel, disk_bus=disk_bus,
                       bridges=_mapping("--bridge", bridges),
                       networks=_mapping("--network", networks)),
        disks=disks, boot=boot, define=define, progress=progress_for(as_json), remote=remote)
    print_result(convert(request), as_json=as_json, dry_run=dry_run)


def main() -> None:
    """Console-script entry point."""
    xen2kvm(prog_name="xen2kvm")
