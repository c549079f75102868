"""fstab, crypttab, device classification and shell-variable files."""

from __future__ import annotations

import pytest

from xenshift.inspect.fstab import classify_device, parse_crypttab, parse_fstab
from xenshift.inspect.shellvars import parse_shell_vars, shell_values


@pytest.mark.parametrize("spec, kind", [
    ("/dev/xvda1", "xen"), ("/dev/xvdb", "xen"), ("/dev/xvdaa3", "xen"),
    ("/dev/sda2", "disk"), ("/dev/hda", "disk"), ("/dev/vdb1", "disk"),
    ("UUID=0a1b", "uuid"), ("LABEL=root", "label"), ("PARTUUID=1-2", "partuuid"),
    ("PARTLABEL=x", "partlabel"), ("/dev/disk/by-uuid/0a1b", "uuid"),
    ("/dev/disk/by-label/root", "label"), ("/dev/disk/by-id/ata-QEMU_1", "by-id"),
    ("/dev/disk/by-path/pci-0000:00:01.1-ata-1", "by-path"),
    ("/dev/mapper/vg-root", "lvm"), ("/dev/guestvg/root", "lvm"), ("/dev/md0", "md"),
    ("/dev/xvda1x", "other"), ("proc", None), ("tmpfs", None), ("server:/export", None),
])
def test_classify_device(spec, kind):
    assert classify_device(spec) == kind


def test_fstab_fields_comments_escapes_and_defaults():
    text = ("# comment\n\n/dev/xvda1  /  ext4  errors=remount-ro 0 1\n"
            "LABEL=my\\040data /srv\\040data xfs defaults\n"
            "/dev/xvdb none swap sw 0 0 # trailing\n")
    entries = parse_fstab(text)
    assert [(e.line, e.spec, e.mountpoint) for e in entries] == [
        (3, "/dev/xvda1", "/"), (4, "LABEL=my data", "/srv data"), (5, "/dev/xvdb", "none")]
    assert entries[0].passno == 1 and entries[1].passno == 0 and entries[1].options == "defaults"


def test_crypttab():
    entries = parse_crypttab("# x\ncryptroot /dev/xvda2 none luks\nswap UUID=ab\n")
    assert [(e.line, e.name, e.device, e.keyfile, e.options) for e in entries] == [
        (2, "cryptroot", "/dev/xvda2", "none", "luks"), (3, "swap", "UUID=ab", "none", "")]


def test_shell_vars_quotes_comments_append_and_export():
    text = ('A="one two" # note\nB=\'x\'\nexport C=plain\nD+=" more "\nD+=" again"\n'
            'GRUB_DISTRIBUTOR=`lsb_release -i -s 2> /dev/null || echo Debian`\n# E=no\n')
    assert [(v.name, v.line, v.append) for v in parse_shell_vars(text)] == [
        ("A", 1, False), ("B", 2, False), ("C", 3, False), ("D", 4, True), ("D", 5, True),
        ("GRUB_DISTRIBUTOR", 6, False)]
    values = shell_values(text)
    assert values["A"] == "one two" and values["B"] == "x" and values["C"] == "plain"
    assert values["D"] == " more  again"


def test_shell_vars_unbalanced_quote_keeps_text():
    assert shell_values('X="open\n')["X"] == '"open'
