"""Stopping the helper processes a command starts (QEMU, nbdkit, relays)."""

from __future__ import annotations

import subprocess


def stop_process(proc: subprocess.Popen, grace_s: float) -> None:
    """Terminate ``proc`` if it still runs; kill it after ``grace_s`` seconds."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(grace_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
