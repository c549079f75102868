"""``xenshift sim``: simulated domains, their vCPU and log-dirty tracking."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path

from tests.migrate.hosts import XEN_MIGRATE, domain_processes, wait_for
from xenshift.migrate.stream import libxc
from xenshift.migrate.stream.writer import CpuPolicy
from xenshift.native import ffi, lib


def gone(pid: int, timeout: float = 5.0) -> bool:
    """The process has exited (a zombie waiting for init to reap it counts)."""
    def exited() -> bool:
        try:
            with open(f"/proc/{pid}/stat") as f:
                return f.read().rsplit(")", 1)[1].split()[0] == "Z"
        except OSError:
            return True
    return wait_for(exited, timeout)


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


def started_ticks(pid: int) -> int:
    """When process ``pid`` started, in clock ticks since boot."""
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[19])


def test_incoming_domain_process_is_ready_before_the_stream(make_host):
    """A receiver starts the next domain's process before the sender
    connects, and the domain that arrives is that process."""
    host = make_host()
    host.backend.expect_incoming()
    assert wait_for(lambda: domain_processes(host.root))
    time.sleep(0.5)  # up and detached, waiting for a name
    now = time.clock_gettime(time.CLOCK_BOOTTIME) * os.sysconf("SC_CLK_TCK")
    header = libxc.DomainHeader(libxc.DHDR_TYPE_X86_HVM, 4, 17)
    config = {"c_info": {"type": "hvm", "name": "vm"}, "b_info": {"max_vcpus": 1}}
    dom = host.backend.create_incoming(config, "vm--incoming", 256, header, CpuPolicy())
    dom.rename("vm")
    dom.unpause()
    dom.commit()
    assert domain_processes(host.root) == [dom.pid()]
    assert started_ticks(dom.pid()) < now - 10
    assert host.names() == ["vm"]


def test_receiver_that_gets_no_migration_leaves_nothing(make_host):
    host = make_host()
    with socket.socket() as s:  # a free port
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    receiver = subprocess.Popen([XEN_MIGRATE, "--receive", "--listen", f"127.0.0.1:{port}",
                                 "--insecure", "--backend", "sim", "--timeout", "3"],
                                env=host.env, stderr=subprocess.PIPE, text=True)
    try:
        assert wait_for(lambda: len(domain_processes(host.root)) == 1)
        (waiting,) = domain_processes(host.root)
        _, err = receiver.communicate(timeout=30)
    finally:
        receiver.kill()
        receiver.wait()
    assert receiver.returncode != 0 and "no connection arrived" in err
    assert gone(waiting)
    assert host.names() == [] and not any((host.root / "sim").glob("*"))


def test_a_silent_peer_is_given_up_after_the_io_timeout(make_host):
    """A receiver that accepts and then says nothing (a link that went dark)
    ends the migration after ``--io-timeout``, not the default two minutes,
    and the guest runs on where it was."""
    host = make_host()
    assert host.sim("start", "vm", "--memory", "8M", "--dirty-rate", "1M/s").exit_code == 0
    with socket.create_server(("127.0.0.1", 0)) as dark:
        port = dark.getsockname()[1]
        started = time.monotonic()
        sender = subprocess.run([XEN_MIGRATE, "--backend", "sim", "--insecure",
                                 "--io-timeout", "2", "vm", f"127.0.0.1:{port}"],
                                env=host.env, capture_output=True, text=True, timeout=60)
        took = time.monotonic() - started
    assert sender.returncode != 0 and "Traceback" not in sender.stderr
    assert "timed out" in sender.stderr or "stopped reading" in sender.stderr, sender.stderr
    assert took < 30, f"gave up after {took:.0f} s"
    assert host.names() == ["vm"] and "running" in host.sim("list").output
