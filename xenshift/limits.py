"""Bounds on what xenshift reads, so a hostile or broken input fails clearly.

Each limit sits well above anything a real Xen estate has and, where Xen
has a limit of its own, at Xen's. An input beyond a limit is refused with
a :class:`LimitError` that names the limit, never with a crash, a hang or
an exhausted memory. The ``*_problem`` functions say why a value is
beyond a limit, for the caller to raise in its own error with a location.
"""

from __future__ import annotations

from xenshift.errors import InputError, Location

# Real domain configs, libvirt XML and job files are a few KiB; the
# largest generated ones (thousands of guests in one job file) stay far
# below this.
MAX_INPUT_BYTES = 16 * 1024 * 1024

# libxlu's bison parser keeps two states per open list in its default
# 10,000-entry stack: a list nested 4,996 deep is the deepest xl reads
# (measured against Debian's libxlutil.so.4.17, see the tests).
MAX_NESTING = 4996

# Characters in one string, number or word of an input. Kernel command
# lines, the longest real values, are a few KiB (Linux's COMMAND_LINE_SIZE
# is 2 KiB to 4 KiB on x86 and arm).
MAX_TOKEN_LENGTH = 1024 * 1024

# Devices of one kind (disks, vifs, pci, ...) in one domain. Linux's
# blkfront and netfront stop far earlier; libxl has no fixed bound.
MAX_DEVICES = 4096

# vCPUs of one domain. Xen 4.17 runs at most 128 in an HVM guest
# (HVM_MAX_VCPUS); the bound keeps a typo from expanding into millions of
# vCPU numbers or pinnings.
MAX_VCPUS = 4096

# Output files are named after the guest (NAME-kvm/NAME.xml) and Linux
# file names have at most 255 bytes (NAME_MAX); libvirt and xl put no
# shorter bound on a name.
MAX_NAME_BYTES = 240


class LimitError(InputError):
    """An input beyond one of xenshift's limits, named in the message."""


def _beyond(limit: str, message: str) -> str:
    return f"{message} (limit: {limit})"


def check_input_size(size: int, location: Location | None = None) -> None:
    """Raise LimitError when an input of ``size`` bytes is too large to read."""
    if size > MAX_INPUT_BYTES:
        raise LimitError(_beyond("input file size",
                                 f"the input is larger than {MAX_INPUT_BYTES} "
                                 "bytes, the most xenshift reads"), location)


def nesting_problem(depth: int) -> str | None:
    """Why a list ``depth`` deep cannot be read, or None if it can."""
    if depth <= MAX_NESTING:
        return None
    return _beyond("nesting depth", f"lists nested more than {MAX_NESTING} "
                                    "deep, which xl cannot read either")


def token_problem(length: int, what: str) -> str | None:
    """Why one ``what`` of ``length`` characters is refused, or None."""
    if length <= MAX_TOKEN_LENGTH:
        return None
    return _beyond("token length", f"{what} of {length} characters, longer "
                                   f"than the {MAX_TOKEN_LENGTH} xenshift reads")


def devices_problem(count: int, kind: str) -> str | None:
    """Why a domain with ``count`` devices of ``kind`` is refused, or None."""
    if count <= MAX_DEVICES:
        return None
    return _beyond("number of devices",
                   f"{count} {kind} devices, more than the {MAX_DEVICES} "
                   "xenshift reads for one domain")


def vcpus_problem(vcpu: int, what: str) -> str | None:
    """Why ``what`` (a vCPU count or number) of ``vcpu`` is refused, or None."""
    if vcpu <= MAX_VCPUS:
        return None
    return _beyond("number of vcpus", f"{what} {vcpu}: a domain has at most "
                                      f"{MAX_VCPUS} vCPUs here (Xen runs 128 "
                                      "in an HVM guest)")


def name_problem(name: str) -> str | None:
    """Why a guest name cannot name output files, or None if it can."""
    size = len(name.encode("utf-8", "surrogateescape"))
    if size <= MAX_NAME_BYTES:
        return None
    return _beyond("name length",
                   f"the guest name has {size} bytes; output files are named "
                   f"after it and a name may have at most {MAX_NAME_BYTES}")
