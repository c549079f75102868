"""The operating system: distribution, version, architecture, mounts, SELinux.

On a disk these come from libguestfs's inspection (which knows many more
release files than we would); on a directory tree from ``/etc/os-release``
or, for releases older than it (SLES 11), ``/etc/SuSE-release``. Package
lists come from libguestfs or, in a tree, from dpkg's status file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from xenshift.inspect.digits import small_int
from xenshift.inspect.files import GuestFiles, read_text
from xenshift.inspect.kernels import Package
from xenshift.inspect.shellvars import shell_values

DPKG_STATUS = "/var/lib/dpkg/status"


@dataclass(frozen=True)
class OsFacts:
    """What the guest is. ``root`` and ``mountpoints`` use the guest's own
    device names (``/dev/xvda1``); ``selinux`` is the configured mode."""

    type: str
    distro: str | None
    product_name: str | None
    major: int | None
    minor: int | None
    arch: str | None
    hostname: str | None
    package_format: str | None
    root: str | None
    mountpoints: dict[str, str]
    selinux: str | None

    @property
    def version(self) -> str | None:
        """``MAJOR.MINOR`` (or ``MAJOR``), None if unknown."""
        if self.major is None:
            return None
        return f"{self.major}.{self.minor}" if self.minor else str(self.major)


def parse_os_release(text: str) -> dict[str, str]:
    """The variables of ``/etc/os-release``."""
    return shell_values(text)


def parse_suse_release(text: str) -> tuple[str | None, int | None, int | None]:
    """Product name, version and patch level from ``/etc/SuSE-release``."""
    lines = text.splitlines()
    values = {k.strip(): v.strip() for k, _, v in (l.partition("=") for l in lines[1:]) if v}
    version = values.get("VERSION", "")
    major = small_int(version)
    patch = values.get("PATCHLEVEL", "")
    return (lines[0].strip() if lines else None, major,
            small_int(patch))


def parse_dpkg_status(text: str) -> list[Package]:
    """Installed packages in a dpkg status file."""
    packages = []
    for stanza in text.split("\n\n"):
        fields = dict(re.findall(r"^([A-Za-z-]+): ?(.*)$", stanza, re.M))
        if fields.get("Status", "").endswith(" installed") and "Package" in fields:
            packages.append(Package(fields["Package"], fields.get("Version", "")))
    return packages


def selinux_mode(files: GuestFiles) -> str | None:
    """``SELINUX=`` from ``/etc/selinux/config``, None without SELinux."""
    text = read_text(files, "/etc/selinux/config")
    return None if text is None else shell_values(text).get("SELINUX")


def tree_os_facts(files: GuestFiles) -> OsFacts:
    """OS facts of a directory tree, from its release files."""
    release = parse_os_release(read_text(files, "/etc/os-release") or "")
    name, major, minor = None, None, None
    if release:
        name = release.get("PRETTY_NAME") or release.get("NAME")
        parts = release.get("VERSION_ID", "").split(".")
        major = small_int(parts[0])
        minor = small_int(parts[1]) if len(parts) > 1 else None
    elif (suse := read_text(files, "/etc/SuSE-release")) is not None:
        name, major, minor = parse_suse_release(suse)
        release = {"ID": "sles" if "Enterprise" in (name or "") else "opensuse"}
    hostname = next((t.strip() for p in ("/etc/hostname", "/etc/HOSTNAME")
                     if (t := read_text(files, p))), None)
    package_format = "deb" if files.is_file(DPKG_STATUS) else (
        "rpm" if files.is_dir("/var/lib/rpm") or release.get("ID") in ("sles", "opensuse")
        else None)
    return OsFacts("linux" if release else "unknown", release.get("ID"), name, major, minor,
                   None, hostname, package_format, None, {}, selinux_mode(files))


def tree_packages(files: GuestFiles) -> list[Package]:
    """Installed packages of a tree (dpkg only: RPM databases need librpm)."""
    return parse_dpkg_status(read_text(files, DPKG_STATUS) or "")
