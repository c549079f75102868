"""``to_kvm``: a Xen domain config as libvirt domain XML for the QEMU/KVM driver."""

from __future__ import annotations

import re

from xenshift.config.model import DomainConfig
from xenshift.config.values import format_xl
from xenshift.convert.libvirt.context import MapContext
from xenshift.convert.libvirt.kvm_domain import KvmDomain, Os
from xenshift.convert.libvirt.mapping import KVM_RULES, MAPPERS, rule_for
from xenshift.convert.libvirt.options import KvmOptions
from xenshift.convert.libvirt.writer import write_domain
from xenshift.convert.report import ChangeReport
from xenshift.convert.retarget import ConversionError
from xenshift.errors import Location

# Characters outside XML 1.0's Char production (surrogates are undecodable
# bytes of the source file).
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def to_kvm(config: DomainConfig, options: KvmOptions | None = None
           ) -> tuple[str, ChangeReport]:
    """libvirt domain XML for ``config`` on KVM, and the report of every key.

    PV, PVH and HVM sources all become HVM guests with virtio devices. Each
    key the source sets is reported as kept, changed or dropped, with why.
    """
    ctx = map_domain(config, options or KvmOptions())
    try:
        return write_domain(ctx.domain), ctx.report
    except ValueError:
        # lxml refuses text XML cannot hold; find the setting it came from.
        raise ConversionError("a value holds characters libvirt XML cannot "
                              "carry (control characters, or bytes that are "
                              "not UTF-8)", _not_xml_text(config)) from None


def _not_xml_text(config: DomainConfig) -> Location:
    settings = config.document.settings
    for setting in settings:
        if _NOT_XML.search(format_xl(setting.value)):
            return settings.location(setting.key)
    return Location(config.path)


def map_domain(config: DomainConfig, options: KvmOptions) -> MapContext:
    """Run every mapper over ``config``; the context holds domain and report."""
    domain = KvmDomain(type="kvm" if options.accel == "kvm" else "qemu",
                       name=config.name or "", os=Os(machine=options.machine),
                       memory=0, current_memory=0, vcpus=1, current_vcpus=1)
    ctx = MapContext(config, options, ChangeReport(config.path, "kvm"), domain)
    if options.accel == "tcg":
        ctx.report.note("accel", "domain type qemu: TCG emulation, no KVM "
                        "acceleration (slow; for hosts without /dev/kvm)")
    for mapper in MAPPERS:
        ctx.mapper = mapper.__name__.rsplit(".", 1)[-1]
        mapper.apply(ctx)
    ctx.mapper = "catalog"
    for key in ctx.settings.keys():
        if key not in KVM_RULES:
            ctx.dropped(key, rule_for(key).note)
    return ctx
