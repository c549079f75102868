"""Job guests read from Xen hosts: ``source``, ``per_host`` and the ssh options."""

from __future__ import annotations

from collections import Counter, deque
from pathlib import Path

import pytest

from xenshift.batch.jobfile import load_job
from xenshift.batch.runner import Runner
from xenshift.batch.worker import request_for
from xenshift.errors import ConfigErrors


def _job(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "job.toml"
    path.write_text(text)
    return path


def test_source_per_job_and_per_guest(tmp_path):
    job = load_job(_job(tmp_path, '''
[job]
target = "kvm"
source = "ssh://root@xen1"
per_host = 2
ssh_identity = "keys/id"

[[guest]]
config = "web01"

[[guest]]
source = "ssh://admin@xen2:2222"
config = "/etc/xen/db01.cfg"

[[guest]]
source = "ssh://admin@xen2:2222"
config = "web01"
'''))
    assert job.per_host == 2
    assert [(g.host, str(g.source)) for g in job.guests] == [
        ("ssh://root@xen1", "web01"), ("ssh://admin@xen2:2222", "/etc/xen/db01.cfg"),
        ("ssh://admin@xen2:2222", "web01")]
    assert job.guests[0].key == "ssh://root@xen1 web01"
    request = request_for(job.guests[1], tmp_path / "out")
    assert request.remote.url == "ssh://admin@xen2:2222"
    assert request.remote.ssh.identity == str(tmp_path.resolve() / "keys" / "id")
    assert str(request.source) == "/etc/xen/db01.cfg"


def test_bad_source_and_per_host_name_their_lines(tmp_path):
    with pytest.raises(ConfigErrors) as err:
        load_job(_job(tmp_path, '[job]\ntarget = "kvm"\nper_host = 0\n\n[[guest]]\n'
                                'source = "xen1"\nconfig = "web01"\n\n[[guest]]\n'
                                'source = "ssh://xen1"\nconfig = "a"\n\n[[guest]]\n'
                                'source = "ssh://xen1"\nconfig = "a"\n'))
    lines = str(err.value).splitlines()
    assert lines[0].endswith(":3: per_host must be a whole number of at least 1, not 0")
    assert lines[1].endswith(":6: source = 'xen1': expected ssh://[USER@]HOST[:PORT]")
    assert lines[2].endswith(":15: ssh://xen1 a is already listed by [[guest]] number 2")


def test_per_host_caps_each_host_not_the_job(tmp_path):
    job = load_job(_job(tmp_path, '[job]\ntarget = "kvm"\nper_host = 1\n' + "".join(
        f'\n[[guest]]\nsource = "ssh://{h}"\nconfig = "{g}"\n'
        for h, g in (("xen1", "a"), ("xen1", "b"), ("xen2", "c"), ("xen1", "d")))))
    runner = Runner(job, log=lambda _: None)
    guests = {g.key: g for g in job.guests}

    class Row:
        def __init__(self, key):
            self.key = key

    queue = deque(Row(g.key) for g in job.guests)
    busy: Counter = Counter()
    first = runner._next(queue, guests, busy)
    busy[guests[first.key].host] += 1
    second = runner._next(queue, guests, busy)
    busy[guests[second.key].host] += 1
    assert [first.key, second.key] == ["ssh://xen1 a", "ssh://xen2 c"]
    assert runner._next(queue, guests, busy) is None   # both hosts are busy
    busy["ssh://xen1"] -= 1
    assert runner._next(queue, guests, busy).key == "ssh://xen1 b"
