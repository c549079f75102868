"""The NBD relay that serves a host's block device: bytes, bounds, read-only, loss.

The host side runs here (``sh -c`` stands in for ssh) on a read-only loop
device; QEMU's NBD client and libnbd's tools are the peers.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="loop devices need root")


@pytest.fixture
def device(tmp_path):
    image = tmp_path / "disk.img"
    image.write_bytes(os.urandom((3 << 20) - 11) + b"end of disk")
    loop = subprocess.run(["losetup", "-f", "--show", "-r", str(image)], capture_output=True,
                          text=True, check=True).stdout.strip()
    yield image, loop
    subprocess.run(["losetup", "-d", loop], check=False)


@pytest.fixture
def relay(device, tmp_path):
    socket = tmp_path / "disk.sock"
    proc = subprocess.Popen([sys.executable, "-m", "xenshift.remote.nbd_relay", str(socket),
                             device[1], "--", "sh", "-c"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    yield proc, socket, line
    proc.terminate()
    proc.wait(timeout=10)


def test_serves_the_device_byte_for_byte(device, relay):
    proc, socket, line = relay
    image = device[0]
    assert line == f"ready {image.stat().st_size}\n"
    uri = f"nbd+unix:///?socket={socket}"
    same = subprocess.run(["qemu-img", "compare", "-f", "raw", "-F", "raw", uri, str(image)],
                          capture_output=True, text=True, timeout=60)
    assert same.returncode == 0, same.stderr


def test_is_read_only(relay, device):
    _, socket, _ = relay
    write = subprocess.run(["qemu-io", "-f", "raw", "-c", "write -P 0xaa 0 4k",
                            f"nbd+unix:///?socket={socket}"],
                           capture_output=True, text=True, timeout=60)
    # The export says it is read-only: QEMU will not even open it for writing.
    assert write.returncode != 0 and "Permission denied" in write.stderr, write


def test_reports_a_lost_session_as_io_errors(tmp_path, device):
    socket = tmp_path / "lost.sock"
    # A reader that answers the size, then dies at the first read.
    proc = subprocess.Popen([sys.executable, "-m", "xenshift.remote.nbd_relay", str(socket),
                             device[1], "--", "sh", "-c", "echo 4096; read x; exit 1", "--"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline() == "ready 4096\n"
        read = subprocess.run(["qemu-io", "-r", "-f", "raw", "-c", "read 0 512",
                               f"nbd+unix:///?socket={socket}"],
                              capture_output=True, text=True, timeout=60)
        assert "Input/output error" in read.stdout + read.stderr, read
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=10)
    assert "the ssh session to the host ended" in err


def test_a_reader_that_cannot_start_is_an_error(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "xenshift.remote.nbd_relay",
                           str(tmp_path / "s.sock"), "/dev/nonexistent", "--", "sh", "-c"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and proc.stdout.startswith("error: the reader did not start")
    assert not Path(tmp_path / "s.sock").exists()
