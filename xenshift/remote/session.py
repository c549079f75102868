"""One guest read from a Xen host: its host connection, config and disk exports."""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass, field

from xenshift.config.model import DomainConfig
from xenshift.inspect.sources import DiskImage
from xenshift.remote.disks import RemoteDisks
from xenshift.remote.guest import RemoteGuest, fetch_guest
from xenshift.sshhost import HostUnreachableError, SshHost, SshOptions, SshTarget


@dataclass(frozen=True)
class RemoteSource:
    """Where a guest is read from: ``-ic ssh://[USER@]HOST[:PORT]`` and how to log in."""

    url: str
    ssh: SshOptions = field(default_factory=SshOptions)

    @property
    def target(self) -> SshTarget:
        """The parsed URL (InputError if malformed)."""
        return SshTarget.parse(self.url)


class RemoteSession:
    """Use as a context manager: fetches GUEST's config on entry (refusing a
    running guest), exports its disks on demand, stops every export on exit."""

    def __init__(self, source: RemoteSource, guest: str):
        self.host = SshHost(source.target, source.ssh)
        self.name = guest
        self.guest: RemoteGuest | None = None
        self._stack = ExitStack()
        self._disks: RemoteDisks | None = None

    def __enter__(self) -> "RemoteSession":
        with ExitStack() as stack:
            stack.enter_context(self.host)
            self.guest = fetch_guest(self.host, self.name)
            self._stack = stack.pop_all()
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        failed = isinstance(exc, Exception)
        lost = self._disks.lost() if failed and self._disks else None
        self._stack.close()
        if lost:
            # What failed (an appliance command, a copy) saw I/O errors; the
            # cause is the host.
            raise HostUnreachableError(
                f"{self.host.target.login}: the host went away during the conversion "
                f"({lost}); nothing was written. The failure it caused: "
                f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from exc

    def disks(self, config: DomainConfig) -> list[DiskImage]:
        """The config's disks, exported read-only over NBD for this session."""
        if self._disks is None:
            self._disks = self._stack.enter_context(RemoteDisks(self.host))
        return self._disks.export(list(config.disks), self.guest.source)
