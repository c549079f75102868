"""Batch jobs over guests of several Xen hosts (``source = "ssh://…"``).

Config-only conversions: what is tested is that every guest is read from
its own host, and that a host that cannot be reached fails its guests
only, with the reason.
"""

from __future__ import annotations

import os

import pytest

from tests.remote.hosts import XenHost, client_for
from xenshift.batch.jobfile import load_job
from xenshift.batch.journal import State
from xenshift.batch.runner import run_job

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces need root")]


def guest_config(host: XenHost, name: str) -> str:
    path = host.root / "etc" / f"{name}.cfg"
    path.parent.mkdir(exist_ok=True)
    path.write_text(f'name = "{name}"\nmemory = 256\nvcpus = 1\n'
                    f'disk = [ "format=raw, vdev=xvda, target=/dev/vg0/{name}" ]\n')
    return str(path)


def test_job_over_two_hosts_and_one_unreachable(xen1, keys, tmp_path):
    xen2 = XenHost(tmp_path / "xen2", keys[1])
    down = XenHost(tmp_path / "down", keys[1])
    try:
        client = client_for([xen1, xen2, down], tmp_path, keys[0])
        down.go_away()
        xen1.domain("byname", "---s--", {"config": {
            "c_info": {"type": "pv", "name": "byname"},
            "b_info": {"max_vcpus": 1, "max_memkb": 262144, "target_memkb": 262144},
            "disks": [{"pdev_path": "/dev/vg0/byname", "vdev": "xvda", "format": "raw"}]}})
        guests = [(xen1, guest_config(xen1, "one-a")), (xen1, "byname"),
                  (xen2, guest_config(xen2, "two-a")), (xen2, guest_config(xen2, "two-b")),
                  (down, "gone-a"), (down, "gone-b")]
        tables = "".join(f'\n[[guest]]\nsource = "{host.url()}"\nconfig = "{config}"\n'
                         for host, config in guests)
        job_file = tmp_path / "job.toml"
        job_file.write_text(
            '[job]\ntarget = "kvm"\noutput = "out"\nworkers = 2\nper_host = 1\n'
            f'config_only = true\nssh_identity = "{client.identity}"\n'
            f'ssh_known_hosts = "{client.known_hosts}"\n' + tables)
        summary = run_job(load_job(job_file), log=lambda _: None)
        rows = {r.name: r for r in summary.rows}
        assert {n for n, r in rows.items() if r.state is State.DONE} == {
            "one-a", "byname", "two-a", "two-b"}
        for name in ("gone-a", "gone-b"):
            assert rows[name].state is State.FAILED
            assert f"root@{down.addr}: cannot reach the host" in rows[name].error
        for name in ("one-a", "byname", "two-a", "two-b"):
            assert (tmp_path / "out" / name / f"{name}.xml").exists()
    finally:
        xen1.forget("byname")
        xen2.close()
        down.close()
