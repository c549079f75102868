"""Fixtures shared across test packages: built guest images and sessions.

Guest images are built once per content (see ``fixtures/images/cache.py``)
and libguestfs sessions once per test run: one appliance launch costs
15-25 s under TCG, so every test reading a guest shares one read-only
session per image.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import settings

# Under this machine's KVM the libguestfs appliance hangs; TCG works. Set
# before any handle exists (and inherited by the CLI in subprocesses).
os.environ.setdefault("LIBGUESTFS_BACKEND_SETTINGS", "force_tcg")

# CI must give the same verdict for the same commit, so there property
# tests replay a fixed set of examples; developers' runs keep exploring.
settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    settings.load_profile("ci")


@pytest.fixture(scope="session")
def pv_guest():
    """``pv_guest(shape)`` → the built Debian PV fixture (``fixtures.images.debian_guest.SHAPES``)."""
    from fixtures.images.debian_guest import build_guest

    built = {}

    def get(shape: str):
        if shape not in built:
            built[shape] = build_guest(shape)
        return built[shape]

    return get


@pytest.fixture(scope="session")
def guest_session(pv_guest):
    """``guest_session(shape)`` → one shared read-only GuestSession per shape.

    Tests must not change the session's state (mounts, handle settings).
    """
    from xenshift.inspect.session import GuestSession
    from xenshift.inspect.sources import disks_from_config

    sessions = {}

    def get(shape: str) -> GuestSession:
        if shape not in sessions:
            session = GuestSession(disks_from_config(str(pv_guest(shape).config)))
            session.open()
            sessions[shape] = session
        return sessions[shape]

    yield get
    for session in sessions.values():
        session.close()


@pytest.fixture
def record_boot(request):
    """``record_boot(shape, target)``: this test boots fixture ``shape``
    as built (``xen-pv``) or converted for ``target``
    (``fixtures.shapes_table.TARGETS``); its outcome goes into the README's
    table of guest shapes."""
    from fixtures.shapes_table import TARGETS

    def record(shape: str, target: str) -> None:
        assert target in TARGETS, target
        request.node.user_properties.append(("boots", (shape, target)))

    return record


_BOOTS: dict[tuple[str, str], tuple[str, str]] = {}


def pytest_runtest_logreport(report):
    """Keep the outcome of each test that recorded a boot."""
    if report.when == "call":
        for key, value in report.user_properties:
            if key == "boots":
                _BOOTS[tuple(value)] = (report.outcome, report.nodeid)


def pytest_sessionfinish(session):
    """Merge this run's boot outcomes into the guest-shape results."""
    if _BOOTS:
        from fixtures import shapes_table

        commit, date = shapes_table.current_commit(), shapes_table.today()
        shapes_table.record({key: shapes_table.Outcome(outcome, test, commit, date)
                             for key, (outcome, test) in _BOOTS.items()})
