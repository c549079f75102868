"""Legacy xm configs are detected, evaluated safely and explained."""

from __future__ import annotations

from pathlib import Path

import pytest

from xenshift.config.document import Dialect, decode, parse_config

XM = Path(__file__).resolve().parents[2] / "fixtures" / "configs" / "xm"


@pytest.mark.parametrize("path", sorted(XM.glob("*.cfg")), ids=lambda p: p.name)
def test_bundled_xm_configs_are_detected_and_read(path: Path) -> None:
    doc = parse_config(decode(path.read_bytes()), str(path))
    assert doc.dialect is Dialect.XM
    assert doc.ok
    assert doc.xl_errors  # what xl itself would say stays available
    assert doc.settings.get_string("name")


def test_python_values_become_xl_values() -> None:
    doc = parse_config(
        'vmname = "db"\n'
        'name = vmname\n'
        'acpi = True\napic = False\n'
        'cpus = (0, 1)\n'
        'description = """one\ntwo"""\n'
        "disk = ['phy:/dev/vg/%s,xvda,w' % vmname]\n"
        'extra = "console=" + "hvc0"\n'
        'memory = 256 + 256\n'
        'vif = []\nvif += ["bridge=br0"]\n')
    assert doc.dialect is Dialect.XM
    assert doc.settings.to_json() == {
        "vmname": "db", "name": "db", "acpi": 1, "apic": 0, "cpus": [0, 1],
        "description": "one\ntwo", "disk": ["phy:/dev/vg/db,xvda,w"],
        "extra": "console=hvc0", "memory": 512, "vif": ["bridge=br0"]}
    messages = [p.message for p in doc.pythonisms]
    assert any("True is Python" in m for m in messages)
    assert any("tuples are Python" in m for m in messages)
    assert any("triple-quoted" in m for m in messages)
    assert any("'%' formatting" in m for m in messages)


def test_code_is_never_run_and_is_reported() -> None:
    doc = parse_config("import os\narch = os.uname()[4]\nname = 'x'\n"
                       "if arch == 'x86_64':\n    memory = 512\n")
    assert doc.dialect is Dialect.XM
    assert doc.settings.to_json() == {"name": "x"}
    skipped = [(p.line, p.message) for p in doc.skipped]
    assert skipped[0][0] == 1 and "'import'" in skipped[0][1]
    assert skipped[1][0] == 2 and "'arch' is computed with" in skipped[1][1]
    assert skipped[2][0] == 4


def test_xl_typos_are_not_mistaken_for_xm() -> None:
    # A negative number or a bare word is a slip in an xl file, not xm.
    for text in ("name = 'a'\nmemory = -5\n", "name = 'a'\ntype = hvm\n",
                 "name = 'a'\nmemory = 1.5\n"):
        doc = parse_config(text)
        assert doc.dialect is Dialect.XL and not doc.ok


def test_columns_count_characters_not_bytes() -> None:
    doc = parse_config("name = 'é'; acpi = True\n")
    assert doc.pythonisms[0].column == 20
