"""The simulator backend: domains that are files plus a native vCPU thread.

Each domain is a directory (see ``sim_files``) and a detached process
(``sim_process``) whose vCPU thread writes self-checking pages at a set rate
and keeps a log-dirty bitmap as Xen's shadow code does.  Toolstack
processes map the same files, so pausing, cleaning the bitmap and reading
memory cost no system calls, like hypercalls on a real host.
"""

from __future__ import annotations

import json
import os
import queue
import select
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

from xenshift.migrate.backend.base import (
    Backend, DestDomain, DomainInfo, DomainState, MappedPages, SourceDomain)
from xenshift.migrate.backend.sim_files import (
    DomainFiles, Workload, create_files, sim_root)
from xenshift.migrate.backend.sim_pool import HostPool, remove_domain
from xenshift.migrate.backend.sim_process import (
    LEASE_KEEP, LEASE_RESUME, SPAWN_GO)
from xenshift.migrate.errors import (
    BackendError, DomainExistsError, DomainNotFoundError)
from xenshift.migrate.stream import hvm_context, libxc
from xenshift.migrate.stream.framing import ExactReader
from xenshift.migrate.stream.writer import CpuPolicy, StreamTail
from xenshift.migrate.transport import FileSpan
from xenshift.migrate.checksum import context_hash, format_checksum, memory_hash
from xenshift.native import PAGE_SIZE, ffi, lib

XEN_VERSION = (4, 17)  # what the simulator claims in the domain header
SPAWN_TIMEOUT = 15.0
STOP_TIMEOUT = 5.0


def default_context(vcpus: int, pages: int) -> tuple[bytes, dict[str, Any]]:
    """A fresh domain's HVM context blob and platform state (TSC, params)."""
    entries = [hvm_context.header_entry(gtsc_khz=2_500_000)]
    entries += [hvm_context.Entry(hvm_context.CODE_CPU, i, bytes(hvm_context.CPU_SIZE))
                for i in range(vcpus)]
    platform = {"tsc": [0, 2_500_000, 0, 0],
                "params": [[libxc.HVM_PARAM_STORE_PFN, pages - 1],
                           [libxc.HVM_PARAM_CONSOLE_PFN, pages - 2]]}
    return hvm_context.build(entries), platform


def _pfns_run(pfns, count: int) -> int:
    """First pfn if ``pfns`` is one ascending run, else -1."""
    return lib.xs_pfns_run(pfns, count)


class _Scratch(MappedPages):
    """Pages gathered into a pooled buffer, for scattered pfn lists."""

    def __init__(self, pool: "queue.SimpleQueue[bytearray]", count: int):
        try:
            self._buf = pool.get_nowait()
        except queue.Empty:
            self._buf = bytearray(libxc.MAX_BATCH_SIZE * PAGE_SIZE)
        self._pool = pool
        self.count = count
        self.view = memoryview(self._buf)[:count * PAGE_SIZE]

    def release(self) -> None:
        if self._buf is not None:
            self.view.release()
            self._pool.put(self._buf)
            self._buf = None


class _Direct(MappedPages):
    """A run of consecutive pages, straight from the memory file."""

    def __init__(self, fd: int, offset: int, view: memoryview, count: int):
        self.view = view
        self.count = count
        self.span = FileSpan(fd, offset, view)


class _Lease:
    """A connection to the domain process that resumes or destroys the
    domain if this process dies before calling ``keep``."""

    def __init__(self, path: Path, kind: bytes):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self.sock.connect(str(path / "ctl.sock"))
            self.sock.sendall(kind)
        except OSError as err:
            self.sock.close()
            raise BackendError(f"cannot reach the process of domain {path.name}: {err}") from None

    def keep(self) -> None:
        try:
            self.sock.sendall(LEASE_KEEP)
        except OSError:
            pass

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> "_Lease":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class SimDomain(SourceDomain, DestDomain):
    """A simulated domain, usable as migration source or destination."""

    def __init__(self, path: Path, boot: _Spawn | None = None):
        self.path = path
        self.name = path.name
        try:
            self._config = json.loads((path / "config.json").read_text())
        except (OSError, ValueError) as err:
            raise BackendError(f"simulated domain {path.name} is unreadable: {err}") from None
        # An incoming domain's pages are written here: map pool memory ready.
        self.files = DomainFiles(path, map_resident=boot is not None)
        self.pages = self.files.pages
        self._pool: queue.SimpleQueue[bytearray] = queue.SimpleQueue()
        # An incoming domain's process, perhaps still starting, and its lease.
        self._boot = boot

    # -------------------------------------------------------------- common
    def config(self) -> dict[str, Any]:
        return self._config

    def pid(self) -> int | None:
        try:
            return int((self.path / "pid").read_text())
        except (OSError, ValueError):
            return None

    def _context_blob(self) -> bytes:
        """The context with the vCPU's progress counter in rax of vCPU 0."""
        blob = bytearray((self.path / "context").read_bytes())
        at = hvm_context.first_cpu_rax(bytes(blob))
        if at is not None:
            blob[at:at + 8] = int(self.files.ctl.seq).to_bytes(8, "little")
        return bytes(blob)

    def state(self) -> DomainState:
        platform = self._config["xenshift"]["platform"]
        tail = StreamTail(libxc.TscInfo(*platform["tsc"]), self._context_blob(),
                          libxc.HvmParams(tuple(tuple(p) for p in platform["params"])))
        return DomainState(CpuPolicy(), tail)

    def checksum(self) -> str:
        mem = self.files.memory
        memory = memory_hash(self.pages, lambda first, n: mem[first * PAGE_SIZE:
                                                               (first + n) * PAGE_SIZE])
        return format_checksum(memory, context_hash(self.state().tail))

    def rename(self, name: str) -> None:
        if self._boot is not None:
            self._boot.ready()  # it opens its directory by the old name
        new = self.path.parent / name
        if new.exists():
            raise DomainExistsError(f"a domain called {name} already exists")
        os.rename(self.path, new)
        self.path = new
        self.name = name

    def destroy(self) -> None:
        if self._boot is not None:
            self._boot.cancel()
            self._boot = None
        pid = self.pid()
        if pid:
            _stop_process(pid)
        remove_domain(self.path)

    # -------------------------------------------------------------- source
    def domain_header(self) -> libxc.DomainHeader:
        return libxc.DomainHeader(libxc.DHDR_TYPE_X86_HVM, *XEN_VERSION)

    def enable_logdirty(self) -> None:
        f = self.files
        f.request(f.ctl.acked_state, True)
        scratch = ffi.new("uint64_t[]", f.words)
        lib.xs_bitmap_take(f.bitmap, scratch, f.words)

    def disable_logdirty(self) -> None:
        f = self.files
        f.request(f.ctl.acked_state, False)

    def clean_dirty(self, bitmap, final: bool = False) -> int:
        return lib.xs_bitmap_take(self.files.bitmap, bitmap, self.files.words)

    def map_pages(self, pfns, count: int) -> MappedPages:
        first = _pfns_run(pfns, count)
        if first >= 0:
            start = first * PAGE_SIZE
            return _Direct(self.files.mem_fd, self.files.file_offset(first),
                           self.files.memory[start:start + count * PAGE_SIZE], count)
        pages = _Scratch(self._pool, count)
        if lib.xs_gather(self.files.mem_ptr, self.pages, pfns, count,
                         ffi.from_buffer(pages.view), len(pages.view)):
            pages.release()
            raise BackendError(f"{self.name}: pfn out of range in gather")
        return pages

    def suspend(self) -> None:
        self.files.request(lib.XS_SIM_PAUSED, self.files.logdirty)

    def resume(self) -> None:
        self.files.ctl.throttle_permille = 1000
        self.files.request(lib.XS_SIM_RUNNING, False)

    def throttle(self, fraction: float) -> bool:
        self.files.ctl.throttle_permille = max(1, min(1000, int(fraction * 1000)))
        return True

    def lease(self) -> _Lease:
        return _Lease(self.path, LEASE_RESUME)

    # --------------------------------------------------------- destination
    def receive_pages(self, pfns, count: int, reader: ExactReader) -> None:
        first = _pfns_run(pfns, count)
        if first >= 0 and self.files.resident:
            # Pool memory, resident and mapped with its page tables: the
            # socket copies straight into it, with no page cache call per page.
            start = first * PAGE_SIZE
            reader.read_into(self.files.memory[start:start + count * PAGE_SIZE], "page data")
            return
        if first >= 0:
            # Fresh memory goes through the file, not the mapping: a fault
            # per fresh page costs more than moving its bytes.
            reader.read_into_file(self.files.mem_fd, self.files.file_offset(first),
                                  count * PAGE_SIZE, "page data")
            return
        scratch = _Scratch(self._pool, count)
        try:
            reader.read_into(scratch.view, "page data")
            self.write_pages(pfns, count, scratch.view)
        finally:
            scratch.release()

    def compare_buffer(self, pfns, count: int, data) -> int:
        """-1 if ``count`` pages in ``data`` equal memory, else the index."""
        return lib.xs_compare(self.files.mem_ptr, self.pages, pfns, count,
                              ffi.from_buffer(data), len(data))

    def write_pages(self, pfns, count: int, data) -> None:
        if lib.xs_scatter(self.files.mem_ptr, self.pages, pfns, count,
                          ffi.from_buffer(data), len(data)):
            raise BackendError(f"{self.name}: page data does not fit the domain")

    def zero_pages(self, pfns, count: int) -> None:
        if lib.xs_zero_pages(self.files.mem_ptr, self.pages, pfns, count):
            raise BackendError(f"{self.name}: zero-page pfn beyond the domain")

    def restore_state(self, state: DomainState) -> None:
        tail = state.tail
        hvm_context.walk(tail.hvm_context)
        (self.path / "context").write_bytes(tail.hvm_context)
        self._config.setdefault("xenshift", {})["platform"] = {
            "tsc": [tail.tsc.mode, tail.tsc.khz, tail.tsc.nsec, tail.tsc.incarnation],
            "params": [list(p) for p in tail.hvm_params.params]}
        (self.path / "config.json").write_text(json.dumps(self._config, indent=1, sort_keys=True))
        # The vCPU goes on counting from where the source stopped.
        at = hvm_context.first_cpu_rax(tail.hvm_context)
        if at is not None:
            self.files.ctl.seq = int.from_bytes(tail.hvm_context[at:at + 8], "little")

    def unpause(self) -> None:
        if self._boot is not None:
            self._boot.ready()
        self.files.request(lib.XS_SIM_RUNNING, False)

    def commit(self) -> None:
        if self._boot is not None:
            self._boot.keep()
            self._boot = None

    # ------------------------------------------------------------- queries
    def info(self) -> DomainInfo:
        pid = self.pid()
        alive = pid is not None and _alive(pid)
        state = ("running" if self.files.running else "paused") if alive else "dead"
        return DomainInfo(self.name, int(self._config.get("xenshift", {}).get("domid", 0)),
                          state, self.pages, int(self._config["b_info"]["max_vcpus"]), "sim")

    def check_pages(self) -> int:
        """-1 if every page is zero or a consistent simulator page."""
        return lib.xs_check_pages(self.files.mem_ptr, self.pages)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _stop_process(pid: int) -> None:
    """SIGTERM, wait (bounded), then SIGKILL."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    try:
        os.kill(pid, signal.SIGTERM)
        if not select.select([fd], [], [], STOP_TIMEOUT)[0]:
            os.kill(pid, signal.SIGKILL)
            select.select([fd], [], [], STOP_TIMEOUT)
    except ProcessLookupError:
        pass
    finally:
        os.close(fd)


def _discard(path: Path) -> None:
    """Remove a domain that failed to come up, process included."""
    try:
        _stop_process(int((path / "pid").read_text()))
    except (OSError, ValueError):
        pass
    remove_domain(path)


class _Spawn:
    """A domain process on its way up.

    The process starts knowing only its host; the domain's name comes on
    its stdin, then a go byte once the files exist.  It touches nothing
    before that.  If this process dies first (or ``create`` fails), it sees
    its stdin close instead and removes whatever was created, so a toolstack
    killed at any point leaves no domain directory behind; a process that
    never got a name just exits.  For an incoming domain the pipe then
    stays open as the receiver's lease (see ``sim_process``): ``keep``
    commits the domain; closing it, or dying, destroys it.
    """

    def __init__(self, root: Path, incoming: bool):
        cmd = [sys.executable, "-m", "xenshift.migrate.backend.sim_process", str(root)]
        if incoming:
            cmd.append("--incoming")
        self.root = root
        self.incoming = incoming
        self.path = root
        self.pid: int | None = None
        self.failure: BackendError | None = None
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, close_fds=True, bufsize=0)

    def boot(self, name: str, create: Callable[[], None]) -> "_Spawn":
        """Make the process domain ``name``: its files come from ``create``."""
        self.path = self.root / name
        try:
            self._tell(name.encode() + b"\n")
            create()
            self._tell(SPAWN_GO)
        except BaseException:
            self.cancel()
            raise
        if not self.incoming:
            self.proc.stdin.close()
        return self

    def _tell(self, data: bytes) -> None:
        try:
            self.proc.stdin.write(data)
        except OSError:
            self.ready()  # it died: this raises the error it gave
            raise

    def ready(self) -> int:
        """Wait (bounded) until the process is up; its pid."""
        if self.pid is not None:
            return self.pid
        if self.failure is not None:
            raise self.failure
        try:
            line = _read_line(self.proc.stdout, SPAWN_TIMEOUT)
            err = "" if line else _read_line(self.proc.stderr, 1.0)
        finally:
            self.proc.stdout.close()
            self.proc.stderr.close()
            # Only the first of the process's forks is our child; it exits at once.
            self.proc.wait(timeout=SPAWN_TIMEOUT)
        if not line.startswith("ready "):
            self.failure = BackendError(f"simulated domain {self.path.name} did not start: "
                                        f"{err or 'no answer'}")
            raise self.failure
        self.pid = int(line.split()[1])
        return self.pid

    def keep(self) -> None:
        """Let the domain outlive this process (the hand-over is done)."""
        self.ready()
        try:
            self.proc.stdin.write(LEASE_KEEP)
        except OSError as err:
            raise BackendError(f"simulated domain {self.path.name} is gone: {err}") from None
        finally:
            self.proc.stdin.close()

    def cancel(self) -> None:
        """Drop the lease (the domain destroys itself) and wait, bounded,
        until the process is up or gone, so nothing it makes comes later."""
        self.proc.stdin.close()
        try:
            self.ready()
        except BackendError:
            pass


def _read_line(pipe, timeout: float) -> str:
    """One line from ``pipe`` if it comes within ``timeout``, else ''."""
    ready, _, _ = select.select([pipe], [], [], timeout)
    return pipe.readline().decode().strip() if ready else ""


class SimBackend(Backend):
    """Simulated domains under ``$XENSHIFT_STATE_DIR/sim``."""

    name = "sim"

    def __init__(self, root: Path | None = None):
        self.root = root or sim_root()
        # Domains take their memory from it when it has room.
        self.pool = HostPool(self.root.parent)
        self._standby: _Spawn | None = None

    def expect_incoming(self) -> None:
        """Start the next incoming domain's process now: a Python process
        starting up would otherwise take CPU from the stream it waits for.
        Unused, it exits when this process does."""
        if self._standby is None:
            self._standby = _Spawn(self.root, True)

    def _path(self, name: str) -> Path:
        if not name or "/" in name or name.startswith("."):
            raise BackendError(f"invalid domain name {name!r}")
        return self.root / name

    def list_domains(self) -> list[DomainInfo]:
        if not self.root.is_dir():
            return []
        out = []
        for path in sorted(self.root.iterdir()):
            try:
                out.append(SimDomain(path).info())
            except BackendError:
                continue
        return out

    def open_source(self, name: str) -> SimDomain:
        path = self._path(name)
        if not (path / "config.json").exists():
            raise DomainNotFoundError(f"no simulated domain called {name} "
                                      f"(state dir {self.root.parent})")
        return SimDomain(path)

    def _next_domid(self) -> int:
        return 1 + max((d.domid for d in self.list_domains()), default=0)

    def start(self, name: str, pages: int, vcpus: int = 1, fill: str = "random",
              workload: Workload = Workload(), seed: int | None = None) -> SimDomain:
        """Create and start a domain, as ``xenshift sim start`` does."""
        path = self._path(name)
        if path.exists():
            raise DomainExistsError(f"a domain called {name} already exists")
        context, platform = default_context(vcpus, pages)
        config = {"c_info": {"type": "hvm", "name": name},
                  "b_info": {"max_vcpus": vcpus, "max_memkb": pages * 4, "target_memkb": pages * 4},
                  "xenshift": {"backend": "sim", "domid": self._next_domid(),
                               "workload": workload.to_json(), "platform": platform}}
        self.root.mkdir(parents=True, exist_ok=True)
        seed = seed if seed is not None else int.from_bytes(os.urandom(4), "little")
        try:
            _Spawn(self.root, False).boot(
                name, lambda: create_files(path, config, pages, fill, context, seed)).ready()
            dom = SimDomain(path)
            dom.unpause()
        except BaseException:
            _discard(path)
            raise
        return dom

    def create_incoming(self, config: dict[str, Any], name: str, pages: int,
                        domain: libxc.DomainHeader, policy: CpuPolicy) -> SimDomain:
        # A simulated vCPU has no CPUID to level, and every simulated host
        # speaks the same version: only the guest type needs a check here.
        if domain.guest_type != libxc.DHDR_TYPE_X86_HVM:
            raise BackendError(f"{name}: simulated hosts run HVM guests only, not PV ones")
        path = self._path(name)
        if path.exists():
            raise DomainExistsError(f"a domain called {name} already exists here")
        config = json.loads(json.dumps(config))
        xs = config.setdefault("xenshift", {})
        xs["domid"] = self._next_domid()
        context, platform = default_context(int(config.get("b_info", {}).get("max_vcpus", 1)), pages)
        xs.setdefault("platform", platform)
        xs.setdefault("workload", Workload().to_json())
        self.root.mkdir(parents=True, exist_ok=True)
        spawn, self._standby = self._standby or _Spawn(self.root, True), None
        try:
            spawn.boot(name, lambda: create_files(path, config, pages, "zero", context, seed=1))
            # Pages may land at once: the process is waited for at the end.
            return SimDomain(path, spawn)
        except BaseException:
            spawn.cancel()
            _discard(path)
            raise
