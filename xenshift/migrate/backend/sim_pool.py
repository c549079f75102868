"""A simulated host's memory pool: RAM that is resident before any guest
needs it, like the free heap of a Xen host.

A real host receives a guest into memory it already has, scrubbed ahead
of time; a simulated host that creates a fresh file per incoming domain
makes the kernel allocate every page while the migration runs.  With a
pool (``xenshift sim pool --size 4G``) the host's memory is one file,
``$XENSHIFT_STATE_DIR/pool/heap``, pre-faulted when the pool is made, and
a new domain takes a region of it: the domain's ``memory`` is a hard link
to the heap and its control block records where the region starts.

Which regions are held is never written down: a domain directory whose
``memory`` is the heap and whose control block is valid holds its region.
However a domain goes (its own process, a toolstack, a crash and an
``rmtree``), its region is free once the directory or its ``memory`` link
is gone.  What is written down (``pool/clean``) is which free pages are
known to be zero: a domain removed through :func:`remove_domain` is
scrubbed in native code and its region listed clean at once; a region left
behind by a crash is scrubbed lazily, when it is next handed out.

Every change happens under an flock of the state dir.

A Xen host gives guests 2 MiB superpages where it can; a simulated host's
memory gets them when its state dir is a tmpfs mounted with
``huge=within_size`` (or ``always``).  Receiving a guest into such a pool
is much faster: the kernel copies into memory mapped by a few thousand
page-table entries instead of half a million.  ``huge_pages`` tells which
kind of memory a pool has; ``sim pool --show`` prints it.
"""

from __future__ import annotations

import fcntl
import json
import mmap
import os
import re
import shutil
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from xenshift.atomic import write_atomic
from xenshift.migrate.errors import PoolError
from xenshift.native import PAGE_SIZE, ffi, lib

POOL_DIR, HEAP, CLEAN = "pool", "heap", "clean"
# Not in Python 3.11's mmap module; Linux 5.14 and later.
MADV_POPULATE_WRITE = getattr(mmap, "MADV_POPULATE_WRITE", 23)
_CTL_SIZE = ffi.sizeof("struct xs_sim_ctl")
SHMEM_ENABLED = Path("/sys/kernel/mm/transparent_hugepage/shmem_enabled")


@dataclass(frozen=True, order=True)
class Region:
    """``count`` pages of the heap from page ``first``."""

    first: int
    count: int

    @property
    def end(self) -> int:
        return self.first + self.count


@dataclass(frozen=True)
class PoolStatus:
    """The pool as ``sim pool --show`` prints it."""

    pages: int  # 0: no pool
    held: dict[str, Region] = field(default_factory=dict)  # domain directory name -> region
    clean: int = 0  # free pages known to be zero
    resident: int = 0  # bytes of the heap in RAM
    huge: bool = False  # the heap is in 2 MiB pages (see huge_pages)

    @property
    def free(self) -> int:
        return self.pages - sum(r.count for r in self.held.values())

    @property
    def dirty(self) -> int:
        """Free pages still to scrub (left by domains that did not go through
        :func:`remove_domain`)."""
        return self.free - self.clean


def huge_pages(path: Path, mountinfo: str | None = None,
               shmem_enabled: str | None = None) -> bool:
    """Whether a file at ``path`` is backed by 2 MiB pages: it lies on a
    tmpfs mounted with ``huge=always`` or ``huge=within_size``, or the
    kernel forces huge pages on every tmpfs.  ``mountinfo`` and
    ``shmem_enabled`` default to the running system's."""
    if shmem_enabled is None:
        shmem_enabled = _read(SHMEM_ENABLED)
    # The system-wide setting overrides every mount's: "deny" and "force".
    if "[deny]" in shmem_enabled or "[force]" in shmem_enabled:
        return "[force]" in shmem_enabled
    if mountinfo is None:
        mountinfo = _read(Path("/proc/self/mountinfo"))
    target = os.path.realpath(path)
    best, huge = "", False
    for line in mountinfo.splitlines():
        fields = line.split()
        if "-" not in fields:
            continue
        sep = fields.index("-")
        # Mount points escape blanks and backslashes as octal (\040).
        point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m[1], 8)), fields[4])
        inside = target == point or target.startswith(point.rstrip("/") + "/")
        # The longest (and, on a tie, the last: it is on top) mount point wins.
        if inside and len(point) >= len(best) and len(fields) > sep + 3:
            options = fields[sep + 3].split(",")
            best = point
            huge = fields[sep + 1] == "tmpfs" and bool(
                {"huge=always", "huge=within_size"} & set(options))
    return huge


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def _minus(runs: list[Region], cuts: list[Region]) -> list[Region]:
    """The pages of ``runs`` outside every region of ``cuts``."""
    out = []
    for run in runs:
        pieces = [run]
        for cut in cuts:
            next_pieces = []
            for p in pieces:
                if cut.end <= p.first or cut.first >= p.end:
                    next_pieces.append(p)
                    continue
                if p.first < cut.first:
                    next_pieces.append(Region(p.first, cut.first - p.first))
                if cut.end < p.end:
                    next_pieces.append(Region(cut.end, p.end - cut.end))
            pieces = next_pieces
        out += pieces
    return out


def _merged(runs: list[Region]) -> list[Region]:
    """``runs`` sorted, with adjacent and overlapping runs joined."""
    out: list[Region] = []
    for r in sorted(x for x in runs if x.count > 0):
        if out and r.first <= out[-1].end:
            last = out.pop()
            r = Region(last.first, max(last.end, r.end) - last.first)
        out.append(r)
    return out


class HostPool:
    """The memory pool of the simulated host whose state dir is ``state``."""

    def __init__(self, state: Path):
        self.state = state
        self.dir = state / POOL_DIR
        self.heap = self.dir / HEAP
        self.sim = state / "sim"

    # ------------------------------------------------------------ queries
    def status(self) -> PoolStatus:
        """Size, held regions, clean pages and resident bytes."""
        if not self.heap.exists():
            return PoolStatus(0)
        with self._locked():
            return self._status()

    def _status(self) -> PoolStatus:
        try:
            st = os.stat(self.heap)
        except FileNotFoundError:
            return PoolStatus(0)
        held = self._held(st)
        clean = _minus(self._clean(), list(held.values()))
        # On tmpfs a file's blocks are its pages in RAM.
        return PoolStatus(st.st_size // PAGE_SIZE, held, sum(r.count for r in clean),
                          st.st_blocks * 512, huge_pages(self.heap))

    def is_heap(self, st: os.stat_result) -> bool:
        """Whether the file ``st`` describes is this pool's heap."""
        try:
            heap = os.stat(self.heap)
        except FileNotFoundError:
            return False
        return (heap.st_dev, heap.st_ino) == (st.st_dev, st.st_ino)

    def _held(self, heap: os.stat_result) -> dict[str, Region]:
        held = {}
        if self.sim.is_dir():
            for domain in sorted(self.sim.iterdir()):
                region = _region_of(domain, heap)
                if region is not None:
                    held[domain.name] = region
        return held

    def _clean(self) -> list[Region]:
        try:
            return _merged([Region(*r) for r in json.loads((self.dir / CLEAN).read_text())])
        except (OSError, ValueError, TypeError):
            return []  # unknown: everything free is scrubbed before use

    def _save_clean(self, runs: list[Region]) -> None:
        write_atomic(self.dir / CLEAN, json.dumps([[r.first, r.count] for r in _merged(runs)])
                     .encode())

    # ----------------------------------------------------------- changes
    def resize(self, pages: int) -> PoolStatus:
        """Grow the pool to ``pages`` (pre-faulting the new pages now) or
        shrink it (only pages no domain holds); 0 removes it."""
        if pages < 0:
            raise PoolError("a pool size cannot be negative")
        self.state.mkdir(parents=True, exist_ok=True)
        with self._locked():
            status = self._status()
            beyond = {n: r for n, r in status.held.items() if r.end > pages}
            if beyond:
                raise PoolError("cannot shrink the pool below memory held by "
                                + ", ".join(sorted(beyond)) + ": stop or migrate them first")
            if pages == 0:
                shutil.rmtree(self.dir, ignore_errors=True)
                return PoolStatus(0)
            self.dir.mkdir(exist_ok=True)
            clean = _minus(self._clean(), [Region(pages, max(status.pages - pages, 0))])
            with open(self.heap, "a+b") as heap:
                os.ftruncate(heap.fileno(), pages * PAGE_SIZE)
                if pages > status.pages:
                    grown = Region(status.pages, pages - status.pages)
                    _prefault(heap.fileno(), grown)
                    clean.append(grown)
            self._save_clean(clean)
            return self._status()

    @contextmanager
    def take(self, pages: int) -> Iterator[Region | None]:
        """A free, zeroed region of ``pages`` pages, or None when the pool
        has no run that long (or there is no pool).

        The caller records the region in the new domain's control block and
        links the heap as its ``memory`` inside the ``with`` block: the pool
        stays locked until then.  The region is taken off the clean list
        first, so a caller that dies half-way leaves it to be scrubbed.
        """
        if not self.heap.exists():
            yield None
            return
        with self._locked():
            try:
                heap_fd = os.open(self.heap, os.O_RDWR)
            except FileNotFoundError:  # removed while we waited for the lock
                yield None
                return
            try:
                st = os.fstat(heap_fd)
                held = list(self._held(st).values())
                free = _minus([Region(0, st.st_size // PAGE_SIZE)], held)
                clean = _minus(self._clean(), held)
                region = _best_fit(clean, pages) or _best_fit(free, pages)
                if region is not None:
                    for dirty in _minus([region], clean):
                        _scrub(heap_fd, dirty)
                    self._save_clean(_minus(clean, [region]))
            finally:
                os.close(heap_fd)
            yield region

    def link(self, memory: Path) -> None:
        """Make ``memory`` the heap (inside :meth:`take`, once the domain's
        control block records its region)."""
        os.link(self.heap, memory)

    def give_back(self, domain: Path) -> None:
        """Scrub the region ``domain`` holds, if any, and return it clean.

        Only for a domain whose process has stopped: nothing may write to
        the region once it is back.  Scrubbing happens under the pool's
        lock, so two processes removing the same domain never scrub a
        region that a third has taken since.
        """
        if not self.heap.exists():
            return
        with self._locked():
            try:
                heap_fd = os.open(self.heap, os.O_RDWR)
            except FileNotFoundError:
                return
            try:
                region = _region_of(domain, os.fstat(heap_fd))
                if region is None:
                    return
                _scrub(heap_fd, region)
                os.unlink(domain / "memory")
                self._save_clean(self._clean() + [region])
            finally:
                os.close(heap_fd)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        fd = os.open(self.state, os.O_RDONLY | os.O_DIRECTORY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # drops the lock


def remove_domain(path: Path) -> None:
    """Remove a domain directory whose process has stopped; a pool region
    it holds goes back to its host's pool, scrubbed."""
    HostPool(path.parent.parent).give_back(path)
    shutil.rmtree(path, ignore_errors=True)


def _region_of(domain: Path, heap: os.stat_result) -> Region | None:
    """The region ``domain`` holds: its memory is the heap and its control
    block is valid."""
    try:
        st = os.stat(domain / "memory")
        if (st.st_dev, st.st_ino) != (heap.st_dev, heap.st_ino):
            return None
        with open(domain / "control", "rb") as f:
            head = bytearray(f.read(_CTL_SIZE))
    except OSError:
        return None
    if len(head) < _CTL_SIZE:
        return None
    ctl = ffi.cast("struct xs_sim_ctl *", ffi.from_buffer(head))
    if (ctl.magic != lib.XS_SIM_MAGIC or ctl.mem_offset % PAGE_SIZE or not ctl.npages
            or ctl.mem_offset + ctl.npages * PAGE_SIZE > heap.st_size):
        return None
    return Region(ctl.mem_offset // PAGE_SIZE, ctl.npages)


def _best_fit(runs: list[Region], pages: int) -> Region | None:
    """The start of the shortest run that holds ``pages`` pages."""
    fits = [r for r in runs if r.count >= pages]
    if not fits:
        return None
    run = min(fits, key=lambda r: (r.count, r.first))
    return Region(run.first, pages)


def _mapped(fd: int, region: Region, flags: int = 0) -> mmap.mmap:
    return mmap.mmap(fd, region.count * PAGE_SIZE, flags=mmap.MAP_SHARED | flags,
                     offset=region.first * PAGE_SIZE)


def _prefault(fd: int, region: Region) -> None:
    """Make ``region`` of the heap resident and zero now, not at first use."""
    with _mapped(fd, region) as mem:
        try:
            mem.madvise(MADV_POPULATE_WRITE)
        except OSError:
            # Older kernels: allocate the pages; the kernel zeroes them.
            os.posix_fallocate(fd, region.first * PAGE_SIZE, region.count * PAGE_SIZE)


def _scrub(fd: int, region: Region) -> None:
    """Zero ``region`` of the heap (native; the pages stay resident)."""
    with _mapped(fd, region, mmap.MAP_POPULATE) as mem:
        ptr = ffi.from_buffer(mem)
        try:
            lib.xs_scrub(ffi.cast("uint8_t *", ptr), len(mem))
        finally:
            ffi.release(ptr)
