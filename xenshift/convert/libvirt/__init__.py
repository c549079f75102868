"""libvirt domain XML: writing KVM domains, reading Xen domains.

:func:`to_kvm` turns a Xen :class:`~xenshift.config.model.DomainConfig`
into libvirt XML for the QEMU/KVM driver, following :data:`KVM_RULES`;
:func:`xen_xml_to_xl` reads the libvirt XML of a Xen domain (``virsh
dumpxml`` on a Xen host) back into xl config text.
"""

from xenshift.convert.libvirt.context import KvmRule
from xenshift.convert.libvirt.convert import to_kvm
from xenshift.convert.libvirt.mapping import KVM_RULES, rule_for
from xenshift.convert.libvirt.options import DiskImage, KvmOptions
from xenshift.convert.libvirt.xen_xml import xen_xml_to_xl

__all__ = ["DiskImage", "KVM_RULES", "KvmOptions", "KvmRule", "rule_for", "to_kvm",
           "xen_xml_to_xl"]
