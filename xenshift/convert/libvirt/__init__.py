"""libvirt domain XML: writing KVM domains, reading Xen domains."""
