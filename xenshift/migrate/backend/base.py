"""The interface every backend offers the engine, and the data it exchanges.

A backend lists domains, opens one as the source of a migration or save,
and creates one (paused) as the destination of a migration or restore.
The engine never sees hypervisor calls or simulator files, only these
methods and dataclasses.
"""

from __future__ import annotations

import abc
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from xenshift.migrate.errors import BackendError
from xenshift.migrate.stream import libxc, libxc_pv
from xenshift.migrate.stream.framing import ExactReader
from xenshift.migrate.stream.writer import CpuPolicy, Tail
from xenshift.migrate.transport import FileSpan

INCOMING_SUFFIX = "--incoming"
MIGRATEDAWAY_SUFFIX = "--migratedaway"


@dataclass(frozen=True)
class DomainInfo:
    """One line of a domain listing."""

    name: str
    domid: int
    state: str  # "running", "paused" or "dead"
    pages: int
    vcpus: int
    backend: str


@dataclass(frozen=True)
class DomainState:
    """What the stream carries besides memory: CPU policy and the tail."""

    policy: CpuPolicy
    tail: Tail


class MappedPages(AbstractContextManager):
    """A batch of a source domain's pages: ``count`` pages of data in
    ``view``, contiguous in pfn order.

    ``span`` is set when the pages are also a run of a file the transport
    can send from without copying them (the simulator's memory file).
    ``words`` is set for a PV guest: the batch's PAGE_DATA pfn words with
    their page types, where pages without data (``count`` is then smaller
    than the batch) have a word but nothing in ``view``.
    """

    view: memoryview
    count: int
    span: FileSpan | None = None
    words: memoryview | None = None

    def __exit__(self, *exc) -> None:
        self.release()

    def release(self) -> None:
        """Give the mapping back (unmap, or return a scratch buffer)."""


class SourceDomain(abc.ABC):
    """A domain being saved or migrated away."""

    name: str
    pages: int

    @abc.abstractmethod
    def config(self) -> dict[str, Any]:
        """The JSON configuration to put in the xl header."""

    @abc.abstractmethod
    def domain_header(self) -> libxc.DomainHeader:
        """The libxc domain header (type, Xen version)."""

    @abc.abstractmethod
    def enable_logdirty(self) -> None:
        """Start tracking writes; bits set before this call are dropped."""

    @abc.abstractmethod
    def disable_logdirty(self) -> None:
        """Stop tracking writes (also on failure)."""

    @abc.abstractmethod
    def clean_dirty(self, bitmap, final: bool = False) -> int:
        """Copy the dirty bitmap into ``bitmap`` (uint64_t *) and clear it.

        Returns the number of dirty pages.  ``final`` is the last call, made
        with the domain suspended.
        """

    @abc.abstractmethod
    def map_pages(self, pfns, count: int) -> MappedPages:
        """Map ``count`` pages (``pfns`` a uint64_t array) for reading."""

    @abc.abstractmethod
    def suspend(self) -> None:
        """Stop the vCPUs for the final round."""

    @abc.abstractmethod
    def resume(self) -> None:
        """Undo ``suspend`` after a failed migration."""

    @abc.abstractmethod
    def state(self) -> DomainState:
        """CPU policy and vCPU/platform state; valid while suspended."""

    # Whether the destination can checksum its copy for --verify.
    verifiable = True

    def cpu_policy(self) -> CpuPolicy:
        """The CPU policy alone, which the stream's prologue carries while
        the guest still runs."""
        return self.state().policy

    @abc.abstractmethod
    def checksum(self) -> str:
        """Memory and context checksum, as ``xenshift sim checksum`` prints."""

    @abc.abstractmethod
    def rename(self, name: str) -> None:
        """Rename, as xl does around the hand-over (``--migratedaway``)."""

    @abc.abstractmethod
    def destroy(self) -> None:
        """Remove the domain for good (after a successful hand-over)."""

    def p2m_frames(self) -> libxc_pv.P2mFrames | None:
        """A PV guest's X86_PV_P2M_FRAMES, sent before its pages; None for
        other guests."""
        return None

    def throttle(self, fraction: float) -> bool:
        """Slow the vCPUs to ``fraction`` of full speed; False if unsupported."""
        return False

    def lease(self) -> AbstractContextManager:
        """Held for the whole migration: if this process dies while holding
        it, the domain resumes by itself.  ``keep()`` on the returned object
        gives that up just before control passes to the destination."""
        return _NoLease()


class DestDomain(abc.ABC):
    """A domain being built, paused, from a stream.

    ``typed_words``: whether the pfns given to the page methods may be
    PAGE_DATA words with a page type in the top bits (a PV guest's types,
    an HVM guest's holes), and whole PAGE_DATA records may come to
    :meth:`receive_page_data`, as Xen wrote them.
    """

    name: str
    pages: int
    typed_words = False

    @property
    def pfn_limit(self) -> int:
        """One past the highest pfn a stream may load into this domain."""
        return self.pages

    @abc.abstractmethod
    def receive_pages(self, pfns, count: int, reader: ExactReader) -> None:
        """Read ``count`` pages from ``reader`` into the pages ``pfns`` names."""

    @abc.abstractmethod
    def compare_buffer(self, pfns, count: int, data) -> int:
        """-1 if ``count`` pages in ``data`` equal memory, else the index."""

    @abc.abstractmethod
    def write_pages(self, pfns, count: int, data) -> None:
        """Store ``count`` pages from ``data`` into the pages ``pfns`` names."""

    @abc.abstractmethod
    def zero_pages(self, pfns, count: int) -> None:
        """Clear the ``count`` pages ``pfns`` names."""

    def p2m_frames(self, p2m: libxc_pv.P2mFrames) -> None:
        """A PV stream's X86_PV_P2M_FRAMES (before its pages)."""
        raise BackendError(f"{self.name}: this backend builds HVM guests only, not PV ones")

    def receive_page_data(self, head: libxc.PageDataHead, reader: ExactReader,
                          verify: bool) -> None:
        """A PAGE_DATA record as it is (a PV stream's, or an HVM one's with
        holes): typed pfn words, then ``head.data_pages`` pages from
        ``reader``.  Only for a destination with ``typed_words``."""
        raise BackendError(f"{self.name}: this backend builds HVM guests only, not PV ones")

    @abc.abstractmethod
    def restore_state(self, state: DomainState) -> None:
        """Load the vCPU/platform state; the domain stays paused."""

    @abc.abstractmethod
    def checksum(self) -> str:
        """Memory and context checksum, as ``xenshift sim checksum`` prints."""

    @abc.abstractmethod
    def rename(self, name: str) -> None:
        """Drop the ``--incoming`` suffix once the source lets go."""

    @abc.abstractmethod
    def unpause(self) -> None:
        """Start the vCPUs."""

    @abc.abstractmethod
    def commit(self) -> None:
        """From now on the domain outlives this process."""

    @abc.abstractmethod
    def destroy(self) -> None:
        """Discard the half-built domain."""


class Backend(abc.ABC):
    """A kind of host: a Xen dom0 or the simulator."""

    name: str

    @abc.abstractmethod
    def list_domains(self) -> list[DomainInfo]:
        """Every domain on this host."""

    @abc.abstractmethod
    def open_source(self, name: str) -> SourceDomain:
        """The domain called ``name``, to save or migrate."""

    def expect_incoming(self) -> None:
        """A migration is about to arrive: get ready for it before the
        sender connects, so that work does not compete with the stream."""

    @abc.abstractmethod
    def create_incoming(self, config: dict[str, Any], name: str, pages: int,
                        domain: libxc.DomainHeader, policy: CpuPolicy) -> DestDomain:
        """A new paused domain called ``name`` with ``pages`` of memory, for
        the stream whose domain header and CPU policy are given."""


class _NoLease(AbstractContextManager):
    def __exit__(self, *exc) -> None:
        return None

    def keep(self) -> None:
        return None
