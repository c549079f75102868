"""A simulated domain's files under ``$XENSHIFT_STATE_DIR/sim/NAME``.

``config.json`` (static configuration), ``memory`` (guest RAM, shared by
every process that maps it: a file of its own, or the host's pool heap
with the domain's region in the control block), ``control`` (the
``struct xs_sim_ctl`` block and the log-dirty bitmap after it),
``context`` (the HVM context blob), ``pid`` and ``ctl.sock`` (the domain
process and its lease socket).
"""

from __future__ import annotations

import json
import mmap
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from xenshift.migrate.backend.sim_pool import HostPool
from xenshift.migrate.errors import BackendError
from xenshift.native import PAGE_SIZE, ffi, lib

DEFAULT_STATE_DIR = "/run/xenshift"
PATTERNS = {"uniform": lib.XS_PATTERN_UNIFORM, "hot": lib.XS_PATTERN_HOT,
            "sequential": lib.XS_PATTERN_SEQUENTIAL}
ACK_TIMEOUT = 5.0


def state_dir() -> Path:
    """This host's state directory (``$XENSHIFT_STATE_DIR``)."""
    return Path(os.environ.get("XENSHIFT_STATE_DIR") or DEFAULT_STATE_DIR)


def sim_root() -> Path:
    return state_dir() / "sim"


@dataclass(frozen=True)
class Workload:
    """How the simulated vCPU dirties memory."""

    rate: int = 0  # bytes per second
    pattern: str = "uniform"
    hot_fraction: float = 0.1

    def to_json(self) -> dict[str, Any]:
        return {"rate": self.rate, "pattern": self.pattern, "hot_fraction": self.hot_fraction}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Workload":
        pattern = data.get("pattern", "uniform")
        if pattern not in PATTERNS:
            raise BackendError(f"unknown dirtying pattern {pattern!r}")
        return cls(int(data.get("rate", 0)), pattern, float(data.get("hot_fraction", 0.1)))


def bitmap_words(pages: int) -> int:
    return (pages + 63) // 64


class DomainFiles:
    """The mapped files of one simulated domain (memory, control, bitmap)."""

    def __init__(self, path: Path, map_resident: bool = False):
        """Map domain ``path``.  With ``map_resident``, memory that is a
        pool region (resident already) is mapped with its page tables
        filled, so that writes through the mapping take no fault
        (``resident`` tells whether the memory is such a region)."""
        self.path = path
        # The memory file stays open: migration sends and receives pages
        # through it (sendfile, splice) rather than through the mapping.
        # Guest memory starts at mem_offset in it: a region of the host's
        # pool heap (sim_pool), or 0 for a file of its own.
        try:
            with open(path / "control", "r+b") as f:
                self._ctl = mmap.mmap(f.fileno(), 0)
            if len(self._ctl) < lib.XS_SIM_BITMAP_OFFSET:
                raise ValueError("control block too short")
            base = ffi.cast("uint8_t *", ffi.from_buffer(self._ctl))
            self.ctl = ffi.cast("struct xs_sim_ctl *", base)
            self.pages = int(self.ctl.npages)
            if (self.ctl.magic != lib.XS_SIM_MAGIC or self.ctl.mem_offset % PAGE_SIZE
                    or len(self._ctl) < lib.XS_SIM_BITMAP_OFFSET + bitmap_words(self.pages) * 8):
                raise ValueError("corrupt control block")
            self.mem_offset = int(self.ctl.mem_offset)
            self._mem_file = open(path / "memory", "r+b", buffering=0)
            st = os.fstat(self._mem_file.fileno())
            if st.st_size < self.mem_offset + self.pages * PAGE_SIZE:
                raise ValueError("memory file shorter than the domain")
            self.resident = map_resident and HostPool(path.parent.parent).is_heap(st)
            # Filling 2 GiB of page tables at once costs a tenth of a second;
            # a fault per page as it is written costs several times that.
            populate = mmap.MAP_POPULATE if self.resident else 0
            self._mem = mmap.mmap(self._mem_file.fileno(), self.pages * PAGE_SIZE,
                                  flags=mmap.MAP_SHARED | populate, offset=self.mem_offset)
        except (OSError, ValueError) as err:
            raise BackendError(f"cannot map simulated domain {path.name}: {err}") from None
        self.mem_fd = self._mem_file.fileno()
        self.mem_ptr = ffi.cast("uint8_t *", ffi.from_buffer(self._mem))
        self.words = bitmap_words(self.pages)
        self.bitmap = ffi.cast("uint64_t *", base + lib.XS_SIM_BITMAP_OFFSET)
        self.memory = memoryview(self._mem)

    def file_offset(self, pfn: int) -> int:
        """Where page ``pfn`` is in the memory file (for sendfile, splice)."""
        return self.mem_offset + pfn * PAGE_SIZE

    def request(self, state: int, logdirty: bool, timeout: float = ACK_TIMEOUT) -> None:
        """Post a run state and wait until the vCPU thread has taken it."""
        gen = lib.xs_sim_request(self.ctl, state, int(logdirty))
        deadline = time.monotonic() + timeout
        while not lib.xs_sim_acked(self.ctl, gen):
            if time.monotonic() > deadline:
                raise BackendError(f"simulated domain {self.path.name} does not answer "
                                   "(its domain process is gone?)")
            time.sleep(0.0001)

    @property
    def running(self) -> bool:
        return self.ctl.acked_state == lib.XS_SIM_RUNNING

    @property
    def logdirty(self) -> bool:
        return bool(self.ctl.logdirty)


def create_files(path: Path, config: dict[str, Any], pages: int, fill: str,
                 context: bytes, seed: int) -> None:
    """Lay out a new domain's files; memory comes from the host's pool when
    it has room, else from a new file, and is filled per ``fill``."""
    path.mkdir(parents=True)
    (path / "config.json").write_text(json.dumps(config, indent=1, sort_keys=True))
    (path / "context").write_bytes(context)
    with open(path / "control", "w+b") as f:
        f.truncate(lib.XS_SIM_BITMAP_OFFSET + bitmap_words(pages) * 8)
        with mmap.mmap(f.fileno(), 0) as ctl_map:
            buf = ffi.from_buffer(ctl_map)
            ctl = ffi.cast("struct xs_sim_ctl *", buf)
            lib.xs_sim_init(ctl, pages)
            workload = Workload.from_json(config.get("xenshift", {}).get("workload", {}))
            ctl.rate = workload.rate
            ctl.pattern = PATTERNS[workload.pattern]
            ctl.hot_permille = max(1, int(workload.hot_fraction * 1000))
            ctl.seed = seed or 1
            offset = _attach_memory(path, ctl, pages)
            del ctl, buf
    if fill != "zero":
        with open(path / "memory", "r+b") as f, \
                mmap.mmap(f.fileno(), pages * PAGE_SIZE, offset=offset) as mem:
            ptr = ffi.from_buffer(mem)
            lib.xs_fill_memory(ffi.cast("uint8_t *", ptr), pages,
                               {"random": 1, "mixed": 2}[fill], seed)
            ffi.release(ptr)


def _attach_memory(path: Path, ctl, pages: int) -> int:
    """Give the domain its ``memory``: a zeroed region of the host's pool
    (recorded in ``ctl`` before the heap is linked, so the pool always sees
    a complete claim), else a new sparse file.  Returns the byte offset."""
    pool = HostPool(path.parent.parent)
    with pool.take(pages) as region:
        if region is not None:
            ctl.mem_offset = region.first * PAGE_SIZE
            pool.link(path / "memory")
            return int(ctl.mem_offset)
    with open(path / "memory", "w+b") as f:
        f.truncate(pages * PAGE_SIZE)
    return 0
