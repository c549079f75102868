"""``xenshift sim``: simulated domains, their vCPU and log-dirty tracking."""

from __future__ import annotations

import time

from xenshift.native import ffi, lib


def gone(pid: int, timeout: float = 5.0) -> bool:
    """The process has exited (a zombie waiting for init to reap it counts)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    return True
        except OSError:
            return True
        time.sleep(0.02)
    return False


def test_start_list_checksum_stop(make_host):
    host = make_host()
    out = host.sim("start", "vm", "--memory", "8M", "--dirty-rate", "4M/s", "--pattern", "hot:25%")
    assert out.exit_code == 0, out.output
    listing = host.sim("list").output
    assert "vm" in listing and "running" in listing and "8.0 MiB" in listing
    first = host.sim("checksum", "vm").output.strip()
    assert first.startswith("mem:") and " ctx:" in first
    time.sleep(0.3)
    assert host.sim("checksum", "vm").output.strip() != first  # the vCPU writes
    assert host.sim("pause", "vm").exit_code == 0
    paused = host.sim("checksum", "vm").output.strip()
    time.sleep(0.2)
    assert host.sim("checksum", "vm").output.strip() == paused
    dom = host.backend.open_source("vm")
    assert dom.check_pages() == -1
    pid = dom.pid()
    assert host.sim("stop", "vm").exit_code == 0
    assert not (host.root / "sim" / "vm").exists()
    assert gone(pid)
    assert "vm" not in host.sim("list").output


def test_log_dirty_tracks_the_hot_set(make_host):
    host = make_host()
    assert host.sim("start", "hot", "--memory", "4M", "--dirty-rate", "8M/s",
               "--pattern", "hot:10%").exit_code == 0
    dom = host.backend.open_source("hot")
    dom.enable_logdirty()
    time.sleep(0.3)
    bitmap = ffi.new("uint64_t[]", dom.files.words)
    count = dom.clean_dirty(bitmap)
    hot = dom.pages // 10
    assert 0 < count <= hot
    assert lib.xs_bitmap_count(bitmap + hot // 64 + 1, dom.files.words - hot // 64 - 1) == 0
    dom.disable_logdirty()
    dom.clean_dirty(bitmap)
    time.sleep(0.1)
    assert dom.clean_dirty(bitmap) == 0


def test_bad_options_are_errors(make_host):
    host = make_host()
    assert host.sim("start", "x", "--memory", "lots").exit_code == 2
    assert host.sim("start", "x", "--pattern", "zigzag").exit_code == 2
    assert host.sim("checksum", "missing").exit_code == 1
