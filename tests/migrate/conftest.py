"""Fixtures of the migration tests: per-test state dirs for simulated hosts
(in /dev/shm, so guest memory is RAM like on a host) and their cleanup."""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner

from xenshift.cli.main import cli
from xenshift.migrate.backend.sim import SimBackend


class SimHost:
    """One simulated host: a state dir and the backend rooted in it."""

    def __init__(self, root: Path):
        self.root = root
        self.backend = SimBackend(root / "sim")
        self.pool = self.backend.pool

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "XENSHIFT_STATE_DIR": str(self.root)}

    def names(self) -> list[str]:
        return [d.name for d in self.backend.list_domains()]

    def sim(self, *args: str):
        """``xenshift sim ARGS`` on this host, in this process."""
        return CliRunner().invoke(cli, ["sim", *args], env={"XENSHIFT_STATE_DIR": str(self.root)})

    def cleanup(self) -> None:
        for d in self.backend.list_domains():
            self.backend.open_source(d.name).destroy()
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture
def make_host():
    hosts = []

    def make(label: str = "host") -> SimHost:
        host = SimHost(Path("/dev/shm") / f"xenshift-test-{label}-{uuid.uuid4().hex[:8]}")
        hosts.append(host)
        return host

    yield make
    for h in hosts:
        h.cleanup()
