"""xl keys that no part of a KVM domain carries, each with the reason.

The dispatcher drops these with the rule's note; keys that are not xl
keys at all (xm leftovers, typos) are dropped there too, with the key
catalog's own explanation.
"""

from __future__ import annotations

from xenshift.convert.libvirt.context import KvmRule, MapContext

_DEVICE_MODEL = "Xen's device model settings; libvirt runs and confines QEMU itself"
_GRANTS = "a Xen grant-table/event-channel limit; KVM has none"
_ARM = "Arm only; the KVM domain is x86_64"
_PV_BOOT = ("pygrub reads the guest's GRUB config on the Xen host; KVM boots "
            "the bootloader in the disk image, which the disk conversion installs")
_SCHEDULER = "a Xen scheduler parameter; KVM vCPUs are Linux threads"
_PAGING = "Xen paging; KVM uses EPT/NPT whenever the host has it"
_PCI_FLAG = "a Xen pciback flag; VFIO has no such setting"
_PV_FRONTEND = "a Xen PV frontend device; KVM has no such protocol"
_FIRMWARE_BLOB = "an extra firmware table for hvmloader; add it by hand (os/acpi, sysinfo)"
_TIMER = "Xen's virtual timer policy; KVM's defaults apply"

_NO_EQUIVALENT: dict[str, str] = {
    "pool": "Xen CPU pools; pin vCPUs with cputune or use a cgroup partition",
    "cpus_soft": "KVM has no soft affinity",
    "period": _SCHEDULER, "slice": _SCHEDULER, "latency": _SCHEDULER,
    "extratime": _SCHEDULER,
    "on_watchdog": "Xen's watchdog hypercall; add a <watchdog> device if the "
                   "guest runs a watchdog daemon",
    "on_soft_reset": "Xen's soft reset (kexec); a KVM guest just reboots",
    "pvshim": "the PV shim runs PV kernels in PVH; on KVM the kernel runs as HVM",
    "pvshim_path": "see pvshim", "pvshim_cmdline": "see pvshim",
    "pvshim_extra": "see pvshim",
    "seclabel": "an XSM/Flask label; libvirt's seclabel is sVirt (SELinux/AppArmor)",
    "init_seclabel": "an XSM/Flask label; libvirt's seclabel is sVirt (SELinux/AppArmor)",
    "max_grant_frames": _GRANTS, "max_maptrack_frames": _GRANTS,
    "max_grant_version": _GRANTS, "max_event_channels": _GRANTS,
    "nomigrate": "libvirt has no per-domain switch against migration",
    "driver_domain": "Xen driver domains serve other guests' devices; KVM hosts do that",
    "device_tree": _ARM, "dtdev": _ARM, "vpmu": _ARM, "tee": _ARM,
    "gic_version": _ARM, "vuart": _ARM,
    "passthrough": "Xen's IOMMU sharing mode; VFIO decides on KVM",
    "xend_suspend_evtchn_compat": "old xend suspend behaviour; Xen-only",
    "vmtrace_buf_kb": "Xen's processor trace buffers; Xen-only",
    "vif2": "netchannel2; xl ignores it too",
    "vtpm": "the vTPM's state stays in Xen's vtpm domain; add an emulated "
            "<tpm> (swtpm) and re-seal its secrets",
    "pvcalls": _PV_FRONTEND, "vdispl": _PV_FRONTEND, "vsnd": _PV_FRONTEND,
    "vkb": _PV_FRONTEND, "vkb_device": _PV_FRONTEND,
    "rdm": "Xen reserved device memory; VFIO handles RMRRs itself",
    "rdm_mem_boundary": "Xen reserved device memory; VFIO handles RMRRs itself",
    "pci_permissive": _PCI_FLAG, "pci_msitranslate": _PCI_FLAG,
    "pci_power_mgmt": _PCI_FLAG,
    "gfx_passthru": "primary VGA passthrough is Xen-specific; pass the GPU as a "
                    "hostdev and check the guest driver",
    "ioports": "raw I/O port access; pass the device through with VFIO",
    "iomem": "raw I/O memory access; pass the device through with VFIO",
    "irqs": "raw IRQ access; pass the device through with VFIO",
    "dm_restrict": _DEVICE_MODEL, "device_model_user": _DEVICE_MODEL,
    "device_model_version": _DEVICE_MODEL, "device_model_override": _DEVICE_MODEL,
    "device_model": _DEVICE_MODEL, "device_model_args": _DEVICE_MODEL,
    "device_model_args_pv": _DEVICE_MODEL, "device_model_args_hvm": _DEVICE_MODEL,
    "device_model_stubdomain_override": _DEVICE_MODEL,
    "device_model_stubdomain_seclabel": _DEVICE_MODEL,
    "stubdomain_kernel": _DEVICE_MODEL, "stubdomain_cmdline": _DEVICE_MODEL,
    "stubdomain_ramdisk": _DEVICE_MODEL, "stubdomain_memory": _DEVICE_MODEL,
    "bootloader": _PV_BOOT, "bootloader_args": _PV_BOOT,
    "e820_host": "a Xen PV memory map option; KVM guests see an emulated e820",
    "hdtype": "the disk bus is virtio (or sata), whatever Xen emulated",
    "hap": _PAGING, "oos": _PAGING, "shadow_memory": _PAGING,
    "bios_path_override": "a custom Xen firmware image; choose a KVM loader by hand",
    "firmware_override": "a custom Xen firmware image; choose a KVM loader by hand",
    "acpi_laptop_slate": "no libvirt setting for the laptop/slate switch",
    "nx": "KVM exposes NX as the CPU model has it",
    "altp2m": "Xen's alternate p2m; Xen-only", "altp2mhvm": "Xen's alternate p2m; Xen-only",
    "cpuid": "libxl's CPUID policy syntax; express masks as <cpu> features by hand",
    "acpi_firmware": _FIRMWARE_BLOB, "smbios_firmware": _FIRMWARE_BLOB,
    "tsc_mode": "KVM manages the TSC itself (invariant TSC with host-passthrough)",
    "vpt_align": _TIMER, "timer_mode": _TIMER,
    "mmio_hole": "QEMU sizes the PCI hole itself",
    "xen_platform_pci": "the Xen platform device for PV-on-HVM drivers; KVM "
                        "guests use virtio",
    "vncviewer": "xl ignores it too; use virt-viewer",
    "vendor_device": "the XenServer PV device; Xen-only",
    "mca_caps": "Xen machine-check capabilities; Xen-only",
    "msr_relaxed": "a Xen MSR policy switch; Xen-only",
}

RULES = tuple(KvmRule(key, None, why) for key, why in _NO_EQUIVALENT.items())


def apply(ctx: MapContext) -> None:
    """Drop every set key of these rules, with the reason."""
    for rule in RULES:
        if ctx.is_set(rule.key):
            ctx.dropped(rule.key, rule.note)
