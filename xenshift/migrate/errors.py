"""Errors of the live migration engine, all under ``XenshiftError``."""

from __future__ import annotations

from xenshift.errors import XenshiftError


class MigrationError(XenshiftError):
    """A migration, save or restore that cannot go on."""


class OptionError(MigrationError):
    """A command-line value (size, rate, policy, address) that does not parse."""

    exit_code = 2


class StreamFormatError(MigrationError):
    """A stream that breaks Xen's migration format, at a known byte offset."""

    def __init__(self, message: str, offset: int | None = None,
                 source: str = "stream"):
        super().__init__(message)
        self.offset = offset
        self.source = source

    def __str__(self) -> str:
        if self.offset is None:
            return f"{self.source}: {self.message}"
        return f"{self.source}: byte {self.offset}: {self.message}"


class TruncatedStreamError(StreamFormatError):
    """The stream ended before the record or header being read was complete."""


class TransportError(MigrationError):
    """The connection to the peer failed, closed early or said something odd."""


class AuthenticationError(TransportError):
    """The peer could not prove who it is (TLS handshake or certificate)."""


class HandoverError(MigrationError):
    """The hand-over protocol between source and destination broke down."""


class VerifyMismatchError(MigrationError):
    """Memory or context differ between source and destination."""


class BackendError(MigrationError):
    """A backend (hypervisor or simulator) refused an operation."""


class DomainNotFoundError(BackendError):
    """No domain of that name exists on this host."""


class DomainExistsError(BackendError):
    """A domain of that name already exists on this host."""


class PoolError(BackendError):
    """A simulated host's memory pool cannot do what was asked."""


class NotXenHostError(BackendError):
    """The xen backend was asked for on a machine that is not a Xen dom0."""

    exit_code = 3
