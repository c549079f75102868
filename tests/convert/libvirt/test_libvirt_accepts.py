"""Acceptance: every KVM XML made from the corpus validates and defines.

For each xl and xm config of ``fixtures/configs`` and each Xen domain of
``fixtures/libvirt-xen`` (through ``xen_xml_to_xl``), the XML of
``to_kvm`` must pass ``virt-xml-validate FILE domain`` and a real
libvirtd's QEMU driver must ``define`` it; the domain is undefined again
at once. libvirt's own ``dumpxml`` must then list our elements in our
order (it only adds elements), so the output is in libvirt's order.
"""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

import pytest
from lxml import etree

from tests.convert.libvirt.conftest import (CORPUS, XEN_XML_FILES, corpus_config,
                                            unique_name, virsh)
from xenshift.convert.libvirt import KvmOptions, to_kvm

VARIANTS = [(path, KvmOptions()) for path in CORPUS + XEN_XML_FILES] + [
    (path, KvmOptions(machine="pc", accel="tcg", disk_bus="sata",
                      networks={"br0": "default"}, bridges={"xenbr0": "br-kvm"}))
    for path in (CORPUS[0].parent / "sled12-hvm-positional-disks.cfg",
                 CORPUS[0].parent / "sles12-sp5-pygrub-qcow2.cfg")
]


def _id(variant: tuple[Path, KvmOptions]) -> str:
    path, options = variant
    return path.stem + ("" if options == KvmOptions() else "-pc-tcg-sata")


def test_corpus_is_all_there():
    assert len(CORPUS) >= 50 and len(XEN_XML_FILES) >= 4


@pytest.mark.parametrize("variant", VARIANTS, ids=_id)
def test_validates_and_defines(variant, libvirtd, tmp_path):
    path, options = variant
    xml, _ = to_kvm(corpus_config(path), options)
    root = etree.fromstring(xml.encode())
    name = unique_name(path.stem)
    root.find("name").text = name
    uuid_el = root.find("uuid")
    if uuid_el is not None:
        # The corpus shares UUIDs between files; libvirt refuses duplicates.
        uuid_el.text = str(uuid.uuid4())
    out = tmp_path / f"{name}.xml"
    out.write_bytes(etree.tostring(root))

    checked = subprocess.run(["virt-xml-validate", str(out), "domain"],
                             capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0, checked.stderr + checked.stdout

    defined = virsh("define", str(out))
    try:
        assert defined.returncode == 0, defined.stderr
        dumped = virsh("dumpxml", "--inactive", name)
        assert dumped.returncode == 0, dumped.stderr
        _assert_in_libvirt_order(root, etree.fromstring(dumped.stdout.encode()))
    finally:
        undefine = ["undefine", name] + (["--nvram"] if root.find("os").get("firmware") else [])
        if defined.returncode == 0:
            assert virsh(*undefine).returncode == 0


def _assert_in_libvirt_order(ours, theirs) -> None:
    """Our children of each element are a subsequence of libvirt's."""
    pairs = [(ours.find(p), theirs.find(p)) for p in (".", "os", "features", "devices")]
    for tag in ("disk", "interface", "graphics", "serial", "channel", "hostdev"):
        pairs += zip(ours.iterfind(f"devices/{tag}"), theirs.iterfind(f"devices/{tag}"))
    for mine, libvirts in pairs:
        remaining = iter(child.tag for child in libvirts)
        assert all(child.tag in remaining for child in mine), \
            (mine.tag, [c.tag for c in mine], [c.tag for c in libvirts])
