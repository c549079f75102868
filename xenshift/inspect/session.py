"""One libguestfs handle per guest: all its disks, root mounted.

Starting the appliance is the slow part of inspection (15-25 s under TCG),
so a session is opened once per guest and every fact is read through it.
By default disks are added read-only (libguestfs puts a throw-away overlay
on top) and file systems are mounted read-only: inspection never writes
to a source. A conversion opens its own work images (never a source)
read-write, reads the facts and then changes the guest in the same session.

libguestfs reads ``LIBGUESTFS_BACKEND_SETTINGS`` from the environment; set
it to ``force_tcg`` on hosts whose KVM cannot run the appliance.  Under TCG
the appliance gets the CPU model of ``XENSHIFT_TCG_CPU`` (default Nehalem,
x86-64-v2) instead of libguestfs's ``max``: there the conversion of fixture
(a) took 12 % longer, and an AVX2 model (Haswell) was as slow as ``max``.
Set it empty for libguestfs's choice, or to a newer model for guests built
for x86-64-v3, whose initrd tools run in the appliance.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

import guestfs

from xenshift.inspect.errors import (CorruptImageError, NoOperatingSystemError,
                                     UnsupportedGuestError)
from xenshift.inspect.kernels import Package
from xenshift.inspect.files import read_text
from xenshift.inspect.osinfo import OsFacts, parse_os_release, selinux_mode
from xenshift.inspect.sources import DiskImage, describe

# guestfs's read_file goes through a message limited to a few MiB.
_READ_FILE_LIMIT = 2 << 20
_APPLIANCE_DISK = re.compile(r"^/dev/[sv]d([a-z]+)$")
# libguestfs's name for a btrfs subvolume: btrfsvol:DEVICE/SUBVOLUME.
_BTRFS_VOLUME = re.compile(r"^(btrfsvol:)(/dev/(?:mapper/)?[^/]+)(/.*)$")
TCG_CPU = "Nehalem"


def tcg_cpu(handle: guestfs.GuestFS) -> str | None:
    """The CPU model for ``handle``'s appliance if libguestfs forces it to TCG, else None."""
    try:
        handle.get_backend_setting("force_tcg")
    except RuntimeError:    # libguestfs's answer for a setting that is not set
        return None
    return os.environ.get("XENSHIFT_TCG_CPU", TCG_CPU) or None


def _pretty_name(files: GuestfsFiles) -> str | None:
    # libguestfs names Debian by its point release ("12.15"); os-release's
    # PRETTY_NAME is what the guest calls itself.
    return parse_os_release(read_text(files, "/etc/os-release") or "").get("PRETTY_NAME")


class GuestfsFiles:
    """:class:`~xenshift.inspect.files.GuestFiles` over a mounted handle."""

    def __init__(self, handle: guestfs.GuestFS):
        self.g = handle

    def is_file(self, path: str) -> bool:
        """Whether ``path`` is a regular file (following symlinks)."""
        return self._ask(self.g.is_file, path, followsymlinks=True)

    def is_dir(self, path: str) -> bool:
        """Whether ``path`` is a directory (following symlinks)."""
        return self._ask(self.g.is_dir, path, followsymlinks=True)

    def listdir(self, path: str) -> list[str]:
        """Names in directory ``path``, sorted; empty if it is not one."""
        return sorted(self.g.ls(path)) if self.is_dir(path) else []

    def readlink(self, path: str) -> str | None:
        """The target of symlink ``path``, or None if it is not a symlink."""
        if not self._ask(self.g.is_symlink, path):
            return None
        return self.g.readlink(path)

    def read_bytes(self, path: str) -> bytes:
        """The whole content of file ``path`` (large files by download)."""
        try:
            if self.g.filesize(path) <= _READ_FILE_LIMIT:
                return self.g.read_file(path)
            with tempfile.NamedTemporaryFile(prefix="xenshift-inspect-") as tmp:
                self.g.download(path, tmp.name)
                return Path(tmp.name).read_bytes()
        except RuntimeError as err:
            raise OSError(f"{path}: {err}") from None

    @staticmethod
    def _ask(call, path: str, **kwargs) -> bool:
        # A missing parent directory is an error to guestfs, "no" to us.
        try:
            return bool(call(path, **kwargs))
        except RuntimeError:
            return False


class GuestSession:
    """A launched appliance with the guest's root file systems mounted.

    Use as a context manager. ``files`` reads the guest; ``handle`` is the
    raw guestfs handle for layout queries; ``guest_device`` turns the
    appliance's device names into the guest's own (``/dev/sda1`` →
    ``/dev/xvda1``). With ``writable`` the disks are opened read-write and
    file systems mounted read-write: only for images the caller owns.
    ``shown_as`` names, in error messages, the images the disks stand for
    (a conversion's overlays stand for their sources). ``mounts`` (mount
    point → guest device) mounts a guest already inspected, skipping the
    inspection.
    """

    def __init__(self, disks: list[DiskImage], writable: bool = False,
                 shown_as: list[DiskImage] | None = None,
                 mounts: dict[str, str] | None = None):
        self.disks = list(disks)
        self.writable = writable
        self.mounts = mounts
        self._shown = {d.path: s for d, s in zip(self.disks, shown_as or self.disks)}
        self.handle: guestfs.GuestFS | None = None
        self.root: str | None = None
        self.unmounted: list[str] = []
        self.notes: list[str] = []
        self._disk_by_letter: dict[str, DiskImage] = {}
        self._device_by_vdev: dict[str, str] = {}

    def __enter__(self) -> GuestSession:
        self.open()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def files(self) -> GuestfsFiles:
        """The guest's files, mounted read-only."""
        return GuestfsFiles(self.handle)

    def open(self) -> None:
        """Launch the appliance, find the one OS (unless ``mounts`` says where
        it is) and mount its file systems."""
        g = guestfs.GuestFS(python_return_dict=True)
        self.handle = g
        cpu = tcg_cpu(g)
        if cpu is not None:
            # QEMU takes the last -cpu: this one overrides libguestfs's.
            g.config("-cpu", cpu)
        for disk in self.disks:
            if disk.is_uri:
                # A remote disk's NBD export (nbd+unix:///?socket=PATH).
                socket = disk.path.partition("socket=")[2]
                g.add_drive_opts("", readonly=not self.writable, format=disk.format,
                                 protocol="nbd", server=[f"unix:{socket}"])
            else:
                g.add_drive_opts(disk.path, readonly=not self.writable, format=disk.format)
        try:
            g.launch()
        except RuntimeError as err:
            self.close()
            raise CorruptImageError(f"libguestfs cannot open the disks: {err}",
                                    self._describe()) from None
        for disk, device in zip(self.disks, g.list_devices()):
            self._disk_by_letter[_APPLIANCE_DISK.match(device).group(1)] = disk
            self._device_by_vdev[disk.vdev] = device
        try:
            if self.mounts is None:
                self.root = self._find_root()
                self._mount(self._mountpoints())
            else:
                self._mount({mp: self.appliance_device(dev) for mp, dev in self.mounts.items()})
        except BaseException:
            self.close()
            raise

    def relaunch(self) -> None:
        """Shut the appliance down and start a fresh one on the same disks.

        A writable session's changes are on the disks by then (shutdown
        syncs and unmounts), so the new appliance sees them.
        """
        self.close()
        self.unmounted = []
        self.open()

    def close(self) -> None:
        """Shut the appliance down (idempotent)."""
        if self.handle is not None:
            try:
                self.handle.shutdown()
            finally:
                self.handle.close()
                self.handle = None

    def _find_root(self) -> str:
        g = self.handle
        try:
            roots = g.inspect_os()
        except RuntimeError as err:
            raise CorruptImageError(f"inspection failed: {err}", self._describe()) from None
        for root in roots:
            kind = g.inspect_get_type(root)
            if kind != "linux":
                name = g.inspect_get_product_name(root)
                raise UnsupportedGuestError(
                    f"a {kind} guest ({name}) on {self.guest_device(root)}: "
                    "xenshift converts Linux guests only", self._path_of(root))
        if len(roots) > 1:
            raise UnsupportedGuestError(
                "several operating systems (roots " +
                ", ".join(self.guest_device(r) for r in roots) + "): convert one at a time",
                self._describe())
        if not roots:
            windows = self._windows_file_system()
            if windows:
                raise UnsupportedGuestError(
                    f"a Windows guest (\\Windows on {self.guest_device(windows)}): "
                    "xenshift converts Linux guests only", self._path_of(windows))
            raise NoOperatingSystemError("no operating system found on the disks",
                                         self._describe())
        return roots[0]

    def _mountpoints(self) -> dict[str, str]:
        """The root's fstab as appliance devices.

        libguestfs names fstab's Xen devices by disk letter and partition
        number, which a partition vdev defeats: ``/dev/xvda1`` given as a
        whole disk becomes a ``/dev/sda1`` that does not exist, and a vdev
        after it (``xvdb`` as the third disk) keeps its Xen name.  The root
        is the one inspection found; the rest map by the config's vdevs.
        """
        mounts = {mp: self.appliance_device(dev)
                  for mp, dev in self.handle.inspect_get_mountpoints(self.root).items()}
        mounts["/"] = self.root
        return mounts

    def _windows_file_system(self) -> str | None:
        """A file system holding a Windows directory libguestfs did not inspect.

        libguestfs recognises Windows only from its registry; a system root
        whose hives it cannot use still makes the guest Windows to us.
        """
        g = self.handle
        for device, fstype in g.list_filesystems().items():
            if fstype not in ("ntfs", "vfat", "fat", "exfat"):
                continue
            try:
                g.mount_ro(device, "/")
                found = g.is_dir(g.case_sensitive_path("/windows/system32"))
            except RuntimeError:
                found = False
            finally:
                g.umount_all()
            if found:
                return device
        return None

    def _mount(self, mounts: dict[str, str]) -> None:
        g = self.handle
        mount = g.mount if self.writable else g.mount_ro
        for mountpoint in sorted(mounts, key=len):
            try:
                mount(mounts[mountpoint], mountpoint)
            except RuntimeError as err:
                # fstab may list what these disks do not hold (a network
                # share, a disk not given); the rest is still worth reading.
                self.unmounted.append(f"{mountpoint} ({self.guest_device(mounts[mountpoint])}): {err}")

    def _path_of(self, device: str) -> str:
        """The host image holding appliance ``device``."""
        try:
            disk = self.handle.part_to_dev(device)
        except RuntimeError:
            disk = device
        match = _APPLIANCE_DISK.match(disk)
        image = self._disk_by_letter.get(match.group(1)) if match else None
        return self._shown[image.path].shown if image else self._describe()

    def _describe(self) -> str:
        return describe(list(self._shown.values()))

    def disk_of(self, appliance_disk: str) -> DiskImage:
        """The image behind an appliance whole-disk device (``/dev/sda``)."""
        return self._disk_by_letter[_APPLIANCE_DISK.match(appliance_disk).group(1)]

    def appliance_device(self, device: str) -> str:
        """The appliance's name for a guest device (``/dev/xvda1`` → ``/dev/sda1``)."""
        subvolume = _BTRFS_VOLUME.match(device)
        if subvolume:
            kind, on, path = subvolume.groups()
            return kind + self.appliance_device(on) + path
        for vdev, appliance in self._device_by_vdev.items():
            rest = device.removeprefix(f"/dev/{vdev}")
            if rest != device and (rest == "" or rest.isdigit()):
                return appliance + rest
        return device

    def guest_device(self, device: str) -> str:
        """The guest's name for an appliance device (LVs keep theirs; a
        btrfs subvolume keeps libguestfs's ``btrfsvol:`` form, on the guest's
        device)."""
        subvolume = _BTRFS_VOLUME.match(device)
        if subvolume:
            kind, on, path = subvolume.groups()
            return kind + self.guest_device(on) + path
        match = re.match(r"^/dev/[sv]d([a-z]+)(\d*)$", device)
        if not match or match.group(1) not in self._disk_by_letter:
            return device
        return f"/dev/{self._disk_by_letter[match.group(1)].vdev}{match.group(2)}"

    def os_facts(self) -> OsFacts:
        """OS facts from libguestfs's inspection of the root."""
        g, root = self.handle, self.root

        def version(value: int) -> int | None:
            return value if value >= 0 else None

        def text(value: str) -> str | None:
            return None if value in ("", "unknown") else value

        mounts = self._mountpoints()
        return OsFacts(
            g.inspect_get_type(root), text(g.inspect_get_distro(root)),
            _pretty_name(self.files) or text(g.inspect_get_product_name(root)),
            version(g.inspect_get_major_version(root)),
            version(g.inspect_get_minor_version(root)),
            text(g.inspect_get_arch(root)), text(g.inspect_get_hostname(root)),
            text(g.inspect_get_package_format(root)), self.guest_device(root),
            {mp: self.guest_device(dev) for mp, dev in sorted(mounts.items())},
            selinux_mode(self.files))

    def packages(self) -> list[Package]:
        """Installed packages, from the guest's package database."""
        found = []
        try:
            apps = self.handle.inspect_list_applications2(self.root)
        except RuntimeError as err:
            # An empty or damaged database (a stripped image, a chroot-built
            # tree): kernels are still found in /boot, without package names.
            self.notes.append(f"package database not readable: {err}")
            return found
        for app in apps:
            version = app["app2_version"]
            if app["app2_release"]:
                version += "-" + app["app2_release"]
            found.append(Package(app["app2_name"], version))
        return found
