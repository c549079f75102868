"""``xenshift config``: show, lint and edit xl/xm domain configs."""

from __future__ import annotations

import click


@click.group("config")
def config_group() -> None:
    """Read, check and edit xl/xm domain configuration files."""
