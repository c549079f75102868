"""libxl's domain record (``xl list -l NAME``) read as an xl config."""

from __future__ import annotations

import json

import pytest

from xenshift.convert.libxl_json import libxl_json_to_xl
from xenshift.convert.source import guest_from_libxl_json
from xenshift.errors import InputError

SOURCE = "root@xen1:xl list -l web01"


def record(**config) -> dict:
    base = {"c_info": {"type": "pv", "name": "web01",
                       "uuid": "0c2e5b2a-1111-2222-3333-444455556666"},
            "b_info": {"max_vcpus": 4, "avail_vcpus": [0, 1], "max_memkb": 2097152,
                       "target_memkb": 1048576, "bootloader": "pygrub",
                       "bootloader_args": ["-q"], "type.pv": {}},
            "disks": [{"pdev_path": "/dev/vg0/web01", "vdev": "xvda", "backend": "phy",
                       "format": "raw", "readwrite": 1},
                      {"pdev_path": "/srv/xen/data.qcow2", "vdev": "xvdb",
                       "backend": "qdisk", "format": "qcow2", "readwrite": 1},
                      {"pdev_path": "", "vdev": "xvdc", "format": "empty", "is_cdrom": 1,
                       "readwrite": 0}],
            "nics": [{"devid": 0, "mac": "00:16:3e:01:02:03", "bridge": "xenbr0",
                      "nictype": "vif", "script": "vif-bridge"}],
            "on_reboot": "restart", "on_crash": "coredump_restart", "vkbs": [{"devid": 0}]}
    base.update(config)
    return {"domid": 3, "config": base}


def text_of(rec) -> str:
    return json.dumps([rec], indent=4)


def test_record_maps_to_the_same_domain_model_as_a_config_file():
    config = guest_from_libxl_json(text_of(record()).encode(), SOURCE).config
    assert config.name == "web01"
    assert [(d.vdev, d.target, d.format) for d in config.disks] == [
        ("xvda", "/dev/vg0/web01", "raw"), ("xvdb", "/srv/xen/data.qcow2", "qcow2"),
        ("xvdc", "", "empty")]
    assert config.disks[2].is_cdrom
    assert config.vifs[0].mac == "00:16:3e:01:02:03" and config.vifs[0].bridge == "xenbr0"
    text, notes = libxl_json_to_xl(text_of(record()), SOURCE)
    assert 'memory = 1024' in text and 'maxmem = 2048' in text
    assert 'vcpus = 2' in text and 'maxvcpus = 4' in text
    assert 'on_crash = "coredump-restart"' in text and 'bootloader = "pygrub"' in text
    assert notes == []  # the keyboard is one xl adds itself


def test_hvm_record_keeps_boot_order_and_firmware():
    rec = record(c_info={"type": "hvm", "name": "win"},
                 b_info={"max_vcpus": 1, "max_memkb": 524288, "target_memkb": 524288,
                         "type.hvm": {"boot": "dc", "bios": "ovmf"}})
    text, _ = libxl_json_to_xl(text_of(rec), SOURCE)
    assert 'type = "hvm"' in text and 'boot = "dc"' in text and 'bios = "ovmf"' in text


def test_unknown_sections_are_noted():
    _, notes = libxl_json_to_xl(text_of(record(pcidevs=[{"bus": 3}])), SOURCE)
    assert notes == ['"pcidevs" is not carried over (no xl setting for it here)']


def test_malformed_json_names_line_and_column():
    with pytest.raises(InputError) as err:
        libxl_json_to_xl('[\n  {"config": {\n    "c_info": {"name": "x",}\n', SOURCE)
    assert str(err.value).startswith(f"{SOURCE}:3:")


@pytest.mark.parametrize("change, message, holder", [
    ({"c_info": {"type": "vmx", "name": "x"}}, 'unknown guest type "vmx"', '"type": "vmx"'),
    ({"disks": [{"vdev": "xvda", "format": "raw"}]}, "disk xvda has no pdev_path",
     '"vdev": "xvda"'),
    ({"disks": [{"pdev_path": "/x", "vdev": "xvda", "format": "vmdk"}]},
     'unknown format "vmdk"', '"pdev_path": "/x"'),
    ({"b_info": {"max_memkb": "lots"}}, '"max_memkb" is not a count', '"max_memkb": "lots"'),
])
def test_bad_values_name_the_object_holding_them(change, message, holder):
    rec = record()
    rec["config"].update(change)
    text = text_of(rec)
    with pytest.raises(InputError) as err:
        libxl_json_to_xl(text, SOURCE)
    assert message in err.value.message
    where = err.value.location
    lines = text.splitlines()
    # LINE:COL is the opening brace of the object, whose first member follows.
    assert where.file == SOURCE and lines[where.line - 1][where.column - 1] == "{"
    assert lines[where.line].strip().startswith(holder)


def test_a_list_of_several_domains_is_refused():
    with pytest.raises(InputError, match="one domain, found 2"):
        libxl_json_to_xl(json.dumps([record(), record()]), SOURCE)
