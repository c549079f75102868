"""The Xen test hosts, booted once per test run and shared by every test
here: host A runs Xen rebuilt with shadow paging (PV guests migrate live
from it), host B Debian's own hypervisor.  Each test's report says which
hypervisor each host ran, and after each test its domUs are destroyed so
one failure cannot spill into the next test.
"""

from __future__ import annotations

import os
import shutil

import pytest

from fixtures.xenhost.dom0 import build_dom0
from fixtures.xenhost.host import HostError, boot_pair
from fixtures.xenhost.hypervisor import debian_hypervisor, shadow_hypervisor
from tests.migrate.hosts import make_certs

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the Xen test hosts need root")


@pytest.fixture(scope="session")
def xen_pair():
    """Hosts A and B, booted on first use and stopped at the end of the run."""
    dom0 = build_dom0()
    pair = boot_pair(dom0, shadow_hypervisor(dom0), debian_hypervisor(dom0))
    try:
        yield pair
    finally:
        pair.stop()
        shutil.rmtree(pair.rundir, ignore_errors=True)


@pytest.fixture(scope="session")
def xen_certs(xen_pair):
    """Mutual-TLS certificates in the run's share, so both dom0s read them."""
    d = xen_pair.rundir / "certs"
    d.mkdir(exist_ok=True)
    return make_certs(d)


@pytest.fixture
def xen(xen_pair, request):
    """The pair, for one test: records the hypervisors, cleans up after."""
    for host in xen_pair.hosts:
        request.node.user_properties.append(("xen host", host.describe()))
    yield xen_pair
    for host in xen_pair.hosts:
        try:
            for name in host.domains():
                host.xl("destroy", name, check=False)
            host.run("pkill -9 -f '[m]igrate_cmd|[x]l migrate' || true", check=False)
        except HostError:
            pass


def pytest_terminal_summary(terminalreporter):
    """Which hypervisor each Xen test ran on (the issue asks it be said)."""
    lines = []
    for reports in terminalreporter.stats.values():
        for report in reports:
            hosts = [v for k, v in getattr(report, "user_properties", ()) if k == "xen host"]
            if hosts and getattr(report, "when", "") == "call":
                lines.append(f"{report.nodeid} [{report.outcome}]: " + "; ".join(hosts))
    if lines:
        terminalreporter.section("Xen test hosts")
        for line in sorted(lines):
            terminalreporter.write_line(line)
