"""Errors of guest inspection, each naming the disk, file or device at fault."""

from __future__ import annotations

from xenshift.errors import InputError, Location, XenshiftError


class InspectError(InputError):
    """A guest that cannot be inspected; ``location`` names the input."""

    def __init__(self, message: str, where: str | None = None):
        super().__init__(message, Location(where) if where else None)


class MissingDiskError(InspectError):
    """A disk image or device that does not exist."""


class CorruptImageError(InspectError):
    """A file that is not a readable disk image (or an unreadable guest)."""


class NoOperatingSystemError(InspectError):
    """Disks that hold no operating system libguestfs can recognise."""


class UnsupportedGuestError(InspectError):
    """A guest xenshift does not convert: Windows, non-Linux, several OSes."""


class GuestWriteError(XenshiftError):
    """Writing a converted guest failed; ``location`` names the image or file."""

    def __init__(self, message: str, where: str | None = None):
        super().__init__(message, Location(where) if where else None)


class ImageError(GuestWriteError):
    """An output image (or backup) that could not be created or written."""


class GuestUpdateError(GuestWriteError):
    """A change to the guest (a file, a command run in it) that failed."""
