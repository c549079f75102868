"""The ``xenshift`` command: a group of sub-commands, one module each."""

from __future__ import annotations

import click

from xenshift import __version__
from xenshift.cli.config_cmd import config_group
from xenshift.cli.sim_cmd import sim_group


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="xenshift")
def cli() -> None:
    """Move Xen guests: PV to HVM/PVH, Xen to KVM, live between Xen hosts."""


cli.add_command(config_group)
cli.add_command(sim_group)


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="xenshift")
