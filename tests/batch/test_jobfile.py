"""Job files: a malformed one is rejected before anything runs, with FILE:LINE."""

from __future__ import annotations

from pathlib import Path

import pytest

from xenshift.batch.jobfile import load_job
from xenshift.errors import ConfigErrors, InputError

CORPUS = Path(__file__).resolve().parents[2] / "fixtures" / "configs"


def _job(tmp_path: Path, text: str) -> Path:
    guests = tmp_path / "guests"
    guests.mkdir(exist_ok=True)
    for name in ("suse-vm-install-pv.cfg", "debian-xen-tools-web01.cfg"):
        (guests / name).write_bytes((CORPUS / name).read_bytes())
    path = tmp_path / "job.toml"
    path.write_text(text)
    return path


def test_the_documented_shape_works_with_overrides(tmp_path: Path) -> None:
    path = _job(tmp_path, '[job]\ntarget = "kvm"\noutput = "out"\nworkers = 2\n'
                          'config_only = false\n\n[[guest]]\nconfig = "guests/*.cfg"\n\n'
                          '[[guest]]\nconfig = "guests/suse-vm-install-pv.cfg"\n')
    with pytest.raises(ConfigErrors, match=":11: .* is already listed by \\[\\[guest\\]\\] number 1"):
        load_job(path)
    path.write_text('[job]\ntarget = "kvm"\noutput = "out"\nworkers = 3\n\n'
                    '[[guest]]\nconfig = "guests/debian-*.cfg"\ntarget = "hvm"\n'
                    'bridge = { br0 = "virbr0" }\n\n'
                    '[[guest]]\nconfig = "guests/suse-vm-install-pv.cfg"\nformat = "raw"\n')
    job = load_job(path)
    assert job.output == tmp_path / "out" and job.workers == 3
    assert [(g.source.name, g.options.target) for g in job.guests] == [
        ("debian-xen-tools-web01.cfg", "hvm"), ("suse-vm-install-pv.cfg", "kvm")]
    assert job.guests[0].options.bridge == (("br0", "virbr0"),)
    assert job.guests[1].options.format == "raw"


def test_every_mistake_is_reported_with_its_line(tmp_path: Path) -> None:
    path = _job(tmp_path, '[job]\ntarget = "xen"\nworkers = 0\nspeed = 9\n\n'
                          '[[guest]]\nconfig = "guests/none-*.cfg"\n\n'
                          '[[guest]]\nconfig = "guests/*.cfg"\nformat = "vmdk"\n'
                          'bridge = { br0 = 1 }\n')
    with pytest.raises(ConfigErrors) as info:
        load_job(path)
    messages = [str(e) for e in info.value.errors]
    assert messages == [
        f"{path}:2: target = 'xen': choose from hvm, pvh, kvm",
        f"{path}:3: workers must be a whole number of at least 1, not 0",
        f"{path}:4: unknown key 'speed' in [job] (known: accel, bridge, config_only, "
        "disk_bus, format, hdtype, machine, network, nic_model, output, password_file, "
        "per_host, source, ssh_host_key_checking, ssh_identity, ssh_known_hosts, target, "
        "verify_boot, workers)",
        f"{path}:7: config = 'guests/none-*.cfg' matches no file",
        f"{path}:11: format = 'vmdk': choose from qcow2, raw",
        f"{path}:12: bridge: every value must be a string (e.g. {{ br0 = \"virbr0\" }})",
    ]


def test_toml_syntax_errors_have_line_and_column(tmp_path: Path) -> None:
    path = _job(tmp_path, '[job]\ntarget = \n')
    with pytest.raises(ConfigErrors) as info:
        load_job(path)
    assert str(info.value).startswith(f"{path}:2:10: not valid TOML: Invalid value")


def test_missing_tables_and_files(tmp_path: Path) -> None:
    path = _job(tmp_path, '[[guest]]\nconfig = "guests/*.cfg"\n')
    with pytest.raises(ConfigErrors, match="missing the \\[job\\] table"):
        load_job(path)
    path.write_text('[job]\ntarget = "hvm"\n')
    with pytest.raises(ConfigErrors, match="lists no guests"):
        load_job(path)
    with pytest.raises(InputError, match="no such job file"):
        load_job(tmp_path / "absent.toml")
