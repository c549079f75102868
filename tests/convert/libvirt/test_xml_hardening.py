"""libvirt XML input stays hardened: no entities expanded, no DTD or network
access, a bounded tree (issue 13, item 4)."""

from __future__ import annotations

from pathlib import Path

import pytest

from xenshift.convert.libvirt import xen_xml_to_xl
from xenshift.errors import InputError

FIXTURE = Path(__file__).resolve().parents[3] / "fixtures" / "libvirt-xen" / \
    "debian12-pv-direct-kernel.xml"


def _domain(name_text: str, doctype: str = "") -> str:
    text = FIXTURE.read_text()
    start, end = text.index("<name>") + len("<name>"), text.index("</name>")
    return doctype + text[:start] + name_text + text[end:]


def test_entities_are_not_expanded() -> None:
    doctype = '<!DOCTYPE domain [<!ENTITY e "lol">]>\n'
    with pytest.raises(InputError, match="has no <name>"):
        xen_xml_to_xl(_domain("&e;", doctype), "entity.xml")
    text, _notes = xen_xml_to_xl(_domain("web&e;", doctype), "entity.xml")
    assert 'name = "web"' in text and "lol" not in text


def test_an_entity_bomb_is_refused_where_it_is() -> None:
    laughs = "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10))
    doctype = f'<!DOCTYPE domain [<!ENTITY l0 "lol">{laughs}]>\n'
    with pytest.raises(InputError, match="not well-formed XML: .*amplification") as info:
        xen_xml_to_xl(_domain("&l9;", doctype), "bomb.xml")
    assert info.value.location.line == 1


def test_external_entities_and_dtds_are_not_read(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("s3cret")
    dtd = tmp_path / "domain.dtd"
    dtd.write_text(f'<!ENTITY leak SYSTEM "file://{secret}">\n<!ENTITY named "dtd">\n')
    local = f'<!DOCTYPE domain SYSTEM "file://{dtd}">\n'
    inline = f'<!DOCTYPE domain [<!ENTITY leak SYSTEM "file://{secret}">]>\n'
    remote = '<!DOCTYPE domain SYSTEM "http://192.0.2.1/domain.dtd">\n'
    for doctype, name in ((local, "web&named;&leak;"), (inline, "web&leak;"),
                          (remote, "web")):
        text, _notes = xen_xml_to_xl(_domain(name, doctype), "guest.xml")
        assert 'name = "web"' in text
        assert "s3cret" not in text and "dtd" not in text


def test_the_tree_depth_is_bounded() -> None:
    deep = "<x>" * 300 + "</x>" * 300
    xml = FIXTURE.read_text().replace("<devices>", f"<devices>{deep}", 1)
    with pytest.raises(InputError) as info:
        xen_xml_to_xl(xml, "deep.xml")
    assert "not well-formed XML" in info.value.message and "depth" in info.value.message
    assert info.value.location.file == "deep.xml" and info.value.location.line


def test_a_huge_text_node_is_refused() -> None:
    xml = FIXTURE.read_text().replace("<cmdline>", "<cmdline>" + "a" * 11_000_000, 1)
    with pytest.raises(InputError, match="not well-formed XML: .*Text node too long"):
        xen_xml_to_xl(xml, "huge.xml")
