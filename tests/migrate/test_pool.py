"""A simulated host's memory pool: creation, taking, giving back, scrubbing."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import uuid
from pathlib import Path

import pytest

from tests.migrate.hosts import MIB, heap_is_zero, pool_is_whole
from tests.migrate.conftest import SimHost
from xenshift.migrate.backend.sim_pool import PoolStatus, Region, huge_pages, remove_domain
from xenshift.migrate.errors import PoolError


def test_pool_is_created_prefaulted_resized_and_released(make_host):
    host = make_host()
    assert "no memory pool" in host.sim("pool").output
    out = host.sim("pool", "--size", "16M")
    assert out.exit_code == 0, out.output
    assert "16.0 MiB (4096 pages), 16.0 MiB resident, in 4 KiB pages" in out.output
    # Pre-faulted when made: every page is in RAM, zero and free.
    assert host.pool.status() == PoolStatus(16 * MIB, {}, 16 * MIB, 16 << 20)
    assert host.pool.resize(8 * MIB) == PoolStatus(8 * MIB, {}, 8 * MIB, 8 << 20)
    assert host.pool.resize(12 * MIB) == PoolStatus(12 * MIB, {}, 12 * MIB, 12 << 20)
    assert host.sim("pool", "--size", "0").exit_code == 0
    assert host.pool.status() == PoolStatus(0)
    assert not (host.root / "pool").exists()
    assert host.sim("pool", "--size", "5000").exit_code == 2


def test_start_takes_a_region_and_stop_returns_it_zeroed(make_host):
    host = make_host()
    host.pool.resize(24 * MIB)
    for name in ("a", "b", "c"):
        assert host.sim("start", name, "--memory", "8M").exit_code == 0
    status = host.pool.status()
    assert status.held == {"a": Region(0, 8 * MIB), "b": Region(8 * MIB, 8 * MIB),
                           "c": Region(16 * MIB, 8 * MIB)}
    assert status.clean == 0 and status.free == 0
    b = host.backend.open_source("b")
    assert os.path.samefile(b.path / "memory", host.pool.heap)
    assert b.files.mem_offset == 8 << 20
    assert b.check_pages() == -1 and not heap_is_zero(host.pool, Region(8 * MIB, 8 * MIB))
    listing = host.sim("pool", "--show").output
    assert "held: 24.0 MiB by 3 domain(s)" in listing and "pages 2048-4095" in listing
    assert host.sim("stop", "b").exit_code == 0
    status = host.pool.status()
    assert sorted(status.held) == ["a", "c"] and status.clean == 8 * MIB
    assert heap_is_zero(host.pool, Region(8 * MIB, 8 * MIB))
    # The freed hole is the only fit: the next domain takes it, zeroed.
    assert host.sim("start", "d", "--memory", "8M", "--fill", "zero").exit_code == 0
    assert host.pool.status().held["d"] == Region(8 * MIB, 8 * MIB)
    assert heap_is_zero(host.pool, Region(8 * MIB, 8 * MIB))
    # No room left: fresh memory, a file of the domain's own.
    assert host.sim("start", "e", "--memory", "4M").exit_code == 0
    e = host.backend.open_source("e")
    assert not os.path.samefile(e.path / "memory", host.pool.heap)
    assert "e" not in host.pool.status().held
    for name in ("a", "c", "d", "e"):
        assert host.sim("stop", name).exit_code == 0
    assert pool_is_whole(host.pool.status())
    assert heap_is_zero(host.pool, Region(0, 24 * MIB))


def test_pool_cannot_shrink_below_held_memory(make_host):
    host = make_host()
    host.pool.resize(8 * MIB)
    assert host.sim("start", "vm", "--memory", "4M").exit_code == 0
    out = host.sim("pool", "--size", "2M")
    assert out.exit_code == 1 and "held by vm" in out.output
    with pytest.raises(PoolError):
        host.pool.resize(0)
    assert host.pool.resize(4 * MIB).held == {"vm": Region(0, 4 * MIB)}


def test_region_left_by_a_crash_is_scrubbed_when_next_taken(make_host):
    host = make_host()
    host.pool.resize(4 * MIB)
    assert host.sim("start", "lost", "--memory", "4M").exit_code == 0
    lost = host.backend.open_source("lost")
    os.kill(lost.pid(), signal.SIGKILL)
    # Gone without giving its memory back: free, but not known zero.
    shutil.rmtree(lost.path)
    status = host.pool.status()
    assert status.held == {} and status.dirty == 4 * MIB
    assert not heap_is_zero(host.pool, Region(0, 4 * MIB))
    assert host.sim("start", "next", "--memory", "4M", "--fill", "zero").exit_code == 0
    assert heap_is_zero(host.pool, Region(0, 4 * MIB))
    assert host.pool.status().dirty == 0


def test_removing_a_domain_twice_leaves_its_reused_region_alone(make_host):
    # A dying domain process and its toolstack may both remove it: the
    # later one must not scrub a region another domain has taken since.
    host = make_host()
    host.pool.resize(4 * MIB)
    assert host.sim("start", "vm", "--memory", "4M").exit_code == 0
    dom = host.backend.open_source("vm")
    path = dom.path
    dom.destroy()
    assert host.sim("start", "new", "--memory", "4M").exit_code == 0
    remove_domain(path)
    new = host.backend.open_source("new")
    assert host.pool.status().held == {"new": Region(0, 4 * MIB)}
    assert new.check_pages() == -1 and not heap_is_zero(host.pool, Region(0, 4 * MIB))


MOUNTINFO = """\
22 1 0:21 / / rw - ext4 /dev/vda1 rw
25 22 0:24 / /dev/shm rw,nosuid - tmpfs tmpfs rw,size=100k
31 25 0:30 / /dev/shm/big rw - tmpfs xs rw,size=8g,huge=within_size
32 25 0:31 / /dev/shm/big\\040pool rw - tmpfs xs rw,huge=always
33 31 0:32 / /dev/shm/big/plain rw - tmpfs xs rw,huge=never
34 31 0:33 / /dev/shm/big/plain rw - tmpfs xs rw,huge=always
"""


@pytest.mark.parametrize("path, huge", [
    ("/dev/shm/host/pool/heap", False),  # a plain tmpfs
    ("/dev/shm/big/pool/heap", True),
    ("/dev/shm/big", True),
    ("/dev/shm/bigger/pool/heap", False),  # a prefix of the name is not the mount
    ("/dev/shm/big pool/heap", True),  # octal escapes in mount points
    ("/dev/shm/big/plain/heap", True),  # the mount on top wins
    ("/var/heap", False),  # not a tmpfs
])
def test_huge_pages_follow_the_mount_holding_the_file(path, huge):
    assert huge_pages(Path(path), MOUNTINFO, "always within_size advise [never] deny force") == huge


def test_system_wide_shmem_setting_overrides_mounts():
    heap = Path("/dev/shm/big/pool/heap")
    assert not huge_pages(heap, MOUNTINFO, "always within_size advise never [deny] force")
    assert huge_pages(Path("/var/heap"), MOUNTINFO, "always within_size advise never deny [force]")


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")
def test_pool_on_a_huge_page_tmpfs_is_in_2_mib_pages():
    root = Path("/dev/shm") / f"xenshift-test-huge-{uuid.uuid4().hex[:8]}"
    root.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "huge=within_size,size=64m", "xs",
                       str(root)]).returncode:
        root.rmdir()
        pytest.skip("this kernel has no huge pages for tmpfs")
    host = SimHost(root)
    try:
        before = _shmem_huge_bytes()
        out = host.sim("pool", "--size", "16M")
        assert out.exit_code == 0, out.output
        assert "16.0 MiB resident, in 2 MiB pages" in out.output
        assert host.pool.status().huge
        # The kernel did back the pre-faulted heap with huge pages.
        assert _shmem_huge_bytes() - before >= 16 << 20
        assert host.sim("start", "vm", "--memory", "8M", "--fill", "random").exit_code == 0
        assert host.backend.open_source("vm").check_pages() == -1
    finally:
        host.cleanup()
        subprocess.run(["umount", str(root)], check=True)
        root.rmdir()


def _shmem_huge_bytes() -> int:
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("ShmemHugePages:"):
                return int(line.split()[1]) * 1024
    return 0
