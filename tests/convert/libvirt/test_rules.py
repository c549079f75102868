"""KVM_RULES against to_kvm: the table and the code cannot drift apart.

* every xl key of the catalog has a rule, and every rule is an xl key;
* a config that sets every rule's key gets each one reported by the very
  mapper that owns its rule, and reports no key without a rule;
* keys with no element are reported dropped, with the rule's reason;
* over the whole corpus, every key a source sets is in its report.
"""

from __future__ import annotations

import pytest

from tests.convert.libvirt.conftest import CORPUS, XEN_XML_FILES, config_from_text, corpus_config
from xenshift.config import keys
from xenshift.config.values import format_xl
from xenshift.convert.libvirt import KVM_RULES, KvmOptions, rule_for, to_kvm
from xenshift.convert.libvirt.convert import map_domain
from xenshift.convert.libvirt.mapping import MAPPER_OF
from xenshift.convert.report import ChangeKind

# Values that build a valid domain; other keys get one from their kind.
SAMPLES = {
    "name": "all-keys", "type": "hvm", "builder": "hvm", "uuid": "5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9",
    "memory": 1024, "maxmem": 2048, "vcpus": 2, "maxvcpus": 4, "cpus": "0-3",
    "kernel": "/boot/vmlinuz", "ramdisk": "/boot/initrd", "cmdline": "root=/dev/xvda1",
    "firmware": "bios", "bios": "seabios", "boot": "dc",
    "disk": ["phy:/dev/vg0/r,xvda,w", "/srv/i.iso,,hdc,cdrom"],
    "vif": ["mac=00:16:3e:00:00:01,bridge=br0,rate=1MB/s"],
    "vfb": ["vnc=1"], "channel": ["connection=pty,name=org.example.0"],
    "pci": ["0000:05:00.0"], "usbdev": ["hostbus=1,hostaddr=2"],
    "usbctrl": ["version=3,ports=4"], "usbdevice": ["tablet"], "usbversion": 3,
    "serial": ["pty"], "vnuma": [["size=1024", "vcpus=0-1"], ["size=1024", "vcpus=2-3"]],
    "p9": ["tag=share,path=/srv/share,security_model=none"], "soundhw": "hda",
    "vga": "stdvga", "spice": 1, "spiceport": 6000, "spicepasswd": "pw",
    "on_poweroff": "destroy", "on_reboot": "restart", "on_crash": "preserve",
    "on_watchdog": "destroy", "on_soft_reset": "soft-reset", "ms_vm_genid": "generate",
    "viridian": ["base", "freq"], "cpu_weight": 512, "cap": 50, "nographic": 0,
    "vncdisplay": 1, "rtc_timeoffset": 60,
}


def _sample(info: keys.KeyInfo):
    if info.name in SAMPLES:
        return SAMPLES[info.name]
    if info.values:
        return sorted(info.values)[0]
    if info.kind in (keys.ValueKind.NUMBER, keys.ValueKind.BOOL,
                     keys.ValueKind.NUMBER_OR_STRING, keys.ValueKind.BOOL_OR_LIST):
        return 1
    if info.kind is keys.ValueKind.LIST:
        return ["x"]
    return "x"


ALL_KEYS_TEXT = "".join(f"{k} = {format_xl(_sample(keys.KEYS[k]))}\n" for k in KVM_RULES)


def test_rules_cover_the_catalog_exactly():
    assert set(KVM_RULES) == set(keys.KEYS)
    for key, rule in KVM_RULES.items():
        assert rule.key == key and rule.note


def test_every_rule_is_applied_by_its_mapper():
    ctx = map_domain(config_from_text(ALL_KEYS_TEXT), KvmOptions())
    assert set(ctx.handled) == set(KVM_RULES)
    assert ctx.handled == dict(MAPPER_OF)


def test_keys_without_element_are_dropped_with_the_reason():
    _, report = to_kvm(config_from_text(ALL_KEYS_TEXT))
    for key, rule in KVM_RULES.items():
        if rule.element is None:
            assert [c for c in report.of_kind(ChangeKind.DROPPED)
                    if c.subject == key and c.reason == rule.note], key


def test_unknown_and_xm_keys_are_dropped_with_a_reason():
    _, report = to_kvm(config_from_text('name = "g"\nmemory = 256\nmemroy = 512\n'
                                        'on_xend_start = "start"\n'))
    dropped = {c.subject: c.reason for c in report.of_kind(ChangeKind.DROPPED)}
    assert "did you mean memory" in dropped["memroy"]
    assert dropped["on_xend_start"].startswith("an xm/xend key")
    assert rule_for("memroy").element is None


def _subject_key(subject: str) -> str:
    return subject.split(" ", 1)[0]


@pytest.mark.parametrize("path", CORPUS + XEN_XML_FILES, ids=lambda p: p.stem)
def test_every_source_key_is_reported(path):
    config = corpus_config(path)
    _, report = to_kvm(config)
    decided = {_subject_key(c.subject) for c in report.changes
               if c.kind in (ChangeKind.KEPT, ChangeKind.CHANGED, ChangeKind.DROPPED)}
    assert set(config.document.settings.keys()) <= decided
    assert all(key in KVM_RULES or rule_for(key).element is None for key in decided)
