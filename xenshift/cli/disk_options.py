"""The options ``xen2hvm`` and ``xen2kvm`` share for the guest's disks."""

from __future__ import annotations

import functools
from typing import Callable, TypeVar

import click

from xenshift.bootcheck import DEFAULT_TIMEOUT_S, BootOptions
from xenshift.convert.guest_disks import DiskOptions
from xenshift.errors import InputError
from xenshift.inspect.images import OUTPUT_FORMATS

F = TypeVar("F", bound=Callable)

_OPTIONS = (
    click.option("--config-only", is_flag=True,
                 help="Convert the config, not the guest's disks."),
    click.option("-of", "output_format", type=click.Choice(OUTPUT_FORMATS), default="qcow2",
                 show_default=True, help="Format of the converted disk images."),
    click.option("--overlay", is_flag=True,
                 help="Write each copied disk as a qcow2 overlay on its source (no "
                      "copy; the source must then never change)."),
    click.option("--verify-boot", is_flag=True,
                 help="Boot the result under QEMU before publishing it and wait for a "
                      "login prompt on ttyS0."),
    click.option("--boot-timeout", type=click.FloatRange(min=1), default=DEFAULT_TIMEOUT_S,
                 show_default=True, help="Seconds --verify-boot waits for userspace."),
    click.option("--boot-accel", type=click.Choice(["tcg", "kvm"]), default=None,
                 help="QEMU acceleration for --verify-boot [default: $XENSHIFT_BOOT_ACCEL "
                      "or tcg]."),
)


def disk_options(func: F) -> F:
    """Add the shared disk options; the command receives ``disks`` and ``boot``."""

    @functools.wraps(func)
    def wrapper(*args, output_format: str, overlay: bool, verify_boot: bool,
                boot_timeout: float, boot_accel: str | None, in_place: bool = False,
                **kwargs):
        if overlay and (in_place or output_format != "qcow2"):
            raise InputError("--overlay writes qcow2 overlays on the sources; it goes "
                             "with neither --in-place nor -of raw")
        kwargs["disks"] = DiskOptions(output_format, overlay, in_place)
        kwargs["boot"] = BootOptions(boot_timeout, boot_accel) if verify_boot else None
        return func(*args, **kwargs)

    for option in reversed(_OPTIONS):
        wrapper = option(wrapper)
    return wrapper  # type: ignore[return-value]
