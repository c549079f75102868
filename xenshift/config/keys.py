"""Catalog of the keys of an xl domain configuration (Xen 4.17).

Sources, in order of authority:

* ``xl.cfg(5)`` as shipped with Xen 4.17 (Debian 12's xen-utils-common):
  every key it documents is here with ``documented=True``;
* ``tools/xl/xl_parse.c`` (``parse_config_data``) of Xen 4.17: keys xl reads
  without documenting them (``display``, ``firmware_override``, the
  scheduler knobs ``period``/``slice``/``latency``/``extratime``) and keys it
  reads only to warn about them (``device_model``, ``vncviewer``, ``vif2``)
  are here with ``documented=False``;
* ``xl-disk-configuration(5)``, ``xl-network-configuration(5)``,
  ``xl-pci-configuration(5)`` and xl_parse.c for the keys *inside* device
  specification strings (:data:`DEVICE_SPECS`);
* ``tools/python/xen/xm/create.py`` (xend, Xen 4.2) for :data:`XM_ONLY_KEYS`.

``guest_types`` says for which guest types xl.cfg(5) lists a key ("The
following options apply only to ... guests").  Where xl_parse.c acts on a key
for every guest type although the man page files it under HVM, and the
setting has an effect there too (``cpuid``, ``tsc_mode``, ``localtime``,
``rtc_timeoffset``, ``acpi``), the key lists every type.  Arm-only keys carry
``arch="arm"``; Arm guests are PVH-style, so their ``guest_types`` is PVH.

``deprecated`` is set only where xl prints a deprecation warning for the key
or the man page calls the key deprecated, removed or ignored;
``deprecated_form`` where that applies to one shape of its value only
(``tsc_mode = 1``, ``bootloader_args = "-q"``).
Unknown keys are ignored silently by xl, which is why :func:`suggest` exists.
"""

from __future__ import annotations

import difflib
import enum
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from xenshift.config.model import GuestType

__all__ = [
    "DEVICE_SPECS",
    "DeviceSpec",
    "GuestType",
    "KEYS",
    "KeyInfo",
    "ValueKind",
    "XM_ONLY_KEYS",
    "XmOnlyKey",
    "all_keys",
    "lookup",
    "suggest",
]


class ValueKind(enum.Enum):
    """The shape of value xl expects for a key.

    libxlu stores numbers as text, so every NUMBER or BOOL key also accepts a
    quoted number (``memory = "512"``).
    """

    STRING = "string"
    NUMBER = "number"
    BOOL = "bool"                      # a NUMBER: 0 is false, anything else true
    LIST = "list"                      # of strings, or of lists (vnuma, vsnd)
    STRING_OR_LIST = "string_or_list"  # e.g. cpus, serial, usbdevice, cpuid
    NUMBER_OR_STRING = "number_or_string"  # e.g. tsc_mode, timer_mode, altp2m
    BOOL_OR_LIST = "bool_or_list"      # viridian

    @property
    def scalar_ok(self) -> bool:
        """Whether a single string or number is an acceptable value."""
        return self is not ValueKind.LIST

    @property
    def list_ok(self) -> bool:
        """Whether a ``[ ... ]`` list is an acceptable value."""
        return self in (ValueKind.LIST, ValueKind.STRING_OR_LIST,
                        ValueKind.BOOL_OR_LIST)


@dataclass(frozen=True)
class KeyInfo:
    """What xl knows about one top-level key."""

    name: str
    kind: ValueKind
    guest_types: frozenset[GuestType]
    deprecated: str | None = None    # why, when xl warns or the key is obsolete
    replacement: str | None = None   # the catalog key to use instead, if any
    # One accepted shape of value that xl warns about (tsc_mode as a number,
    # bootloader_args as a string); the key itself is fine in its other shape.
    deprecated_form: ValueKind | None = None
    deprecated_form_note: str | None = None
    summary: str = ""
    values: frozenset[str] = frozenset()  # the closed set of string values, if any
    arch: str | None = None          # "x86" or "arm" when the man page restricts it
    documented: bool = True          # listed in xl.cfg(5) of Xen 4.17


@dataclass(frozen=True)
class XmOnlyKey:
    """A key only xm/xend understood; xl ignores it silently."""

    name: str
    xl_equivalent: str | None   # a catalog key, when one key takes its place
    note: str


@dataclass(frozen=True)
class DeviceSpec:
    """The vocabulary of one device specification string (``KEY=VALUE,...``)."""

    list_key: str                        # the top-level key: "disk", "vif", ...
    keys: frozenset[str]                 # names used as KEY=VALUE
    flags: frozenset[str] = frozenset()  # bare words
    positional: tuple[str, ...] = ()     # slots filled by items without '='
    # (subkey, why, replacement subkey or None)
    deprecated: tuple[tuple[str, str, str | None], ...] = ()
    note: str = ""


S = ValueKind.STRING
N = ValueKind.NUMBER
B = ValueKind.BOOL
L = ValueKind.LIST
SL = ValueKind.STRING_OR_LIST
NS = ValueKind.NUMBER_OR_STRING
BL = ValueKind.BOOL_OR_LIST

PV, HVM, PVH = GuestType.PV, GuestType.HVM, GuestType.PVH
ALL = frozenset(GuestType)
PV_ONLY = frozenset({PV})
HVM_ONLY = frozenset({HVM})
PVH_ONLY = frozenset({PVH})
PV_HVM = frozenset({PV, HVM})
PV_PVH = frozenset({PV, PVH})
HVM_PVH = frozenset({HVM, PVH})

_ACTIONS = frozenset({"destroy", "restart", "rename-restart", "preserve",
                      "coredump-destroy", "coredump-restart", "soft-reset"})
# native_paravirt still parses but "has been removed" (xl.cfg(5)).
_TSC_MODES = frozenset({"default", "always_emulate", "native"})
_TIMER_MODES = frozenset({"delay_for_missed_ticks", "no_delay_for_missed_ticks",
                          "no_missed_ticks_pending", "one_missed_tick_pending"})


def _key(name: str, kind: ValueKind, types: frozenset[GuestType],
         summary: str, **extra) -> KeyInfo:
    return KeyInfo(name=name, kind=kind, guest_types=types, summary=summary,
                   **extra)


_CATALOG: tuple[KeyInfo, ...] = (
    # --- Mandatory, guest type ------------------------------------------
    _key("name", S, ALL, "Domain name, unique on the host (mandatory)."),
    _key("type", S, ALL, "Guest type; PV is the x86 default, PVH the Arm one. "
         "xl prefix-matches the value.", values=frozenset({"pv", "pvh", "hvm"})),
    _key("builder", S, PV_HVM, "Old guest type selector.",
         values=frozenset({"generic", "hvm"}),
         deprecated="deprecated since Xen 4.10 in favour of type "
         "(builder=\"generic\" is type=\"pv\", builder=\"hvm\" is type=\"hvm\")",
         replacement="type"),
    # --- CPU allocation and scheduling ---------------------------------
    _key("pool", S, ALL, "CPU pool to put the guest's vCPUs in."),
    _key("vcpus", N, ALL, "vCPUs online at start."),
    _key("maxvcpus", N, ALL, "Maximum vCPUs the guest may bring up."),
    _key("cpus", SL, ALL, "Hard affinity: a CPULIST string for every vCPU, "
         "or a list with one CPULIST per vCPU."),
    _key("cpus_soft", SL, ALL, "Soft affinity, same forms as cpus."),
    _key("cpu_weight", N, ALL, "Credit/credit2 scheduler weight (1-65535)."),
    _key("cap", N, ALL, "CPU cap in percent of one physical CPU (0: none)."),
    _key("period", N, ALL, "Scheduler period (RTDS); read by xl_parse.c.",
         documented=False),
    _key("slice", N, ALL, "Scheduler time slice; read by xl_parse.c.",
         documented=False),
    _key("latency", N, ALL, "Scheduler latency; read by xl_parse.c.",
         documented=False),
    _key("extratime", N, ALL, "Scheduler extra-time flag; read by xl_parse.c.",
         documented=False),
    # --- Memory, vNUMA --------------------------------------------------
    _key("memory", N, ALL, "Initial memory in MiB."),
    _key("maxmem", N, ALL, "Maximum memory in MiB; above memory the guest "
         "starts pre-ballooned."),
    _key("vnuma", L, HVM_PVH, "Virtual NUMA: a list of lists of pnode=, "
         "size=, vcpus=, vdistances= strings (not supported for PV; such "
         "guests cannot be saved or migrated)."),
    # --- Event actions --------------------------------------------------
    _key("on_poweroff", S, ALL, "Action when the guest powers off.",
         values=_ACTIONS),
    _key("on_reboot", S, ALL, "Action when the guest reboots.", values=_ACTIONS),
    _key("on_watchdog", S, ALL, "Action on a Xen watchdog timeout.",
         values=_ACTIONS),
    _key("on_crash", S, ALL, "Action when the guest crashes.", values=_ACTIONS),
    _key("on_soft_reset", S, ALL, "Action on a soft reset (e.g. kexec).",
         values=_ACTIONS),
    # --- Direct kernel boot ----------------------------------------------
    _key("kernel", S, ALL, "Kernel image to load (HVM: qemu-xen with "
         "SeaBIOS only)."),
    _key("ramdisk", S, ALL, "Initial ramdisk to load."),
    _key("cmdline", S, ALL, "Kernel command line; when set, root and extra "
         "are ignored."),
    _key("root", S, ALL, "Adds root=VALUE to the kernel command line."),
    _key("extra", S, ALL, "Appended to the kernel command line."),
    # --- Non direct kernel boot ------------------------------------------
    _key("firmware", S, ALL, "PV/PVH: pvgrub32 or pvgrub64; HVM: bios, uefi, "
         "seabios, rombios, ovmf or a path."),
    _key("pvshim", B, PVH_ONLY, "Run a PV kernel inside a PVH container "
         "(the PV shim)."),
    _key("pvshim_path", S, PVH_ONLY, "Non-default PV shim binary."),
    _key("pvshim_cmdline", S, PVH_ONLY, "Shim command line (default "
         "\"pv-shim console=xen,pv\")."),
    _key("pvshim_extra", S, PVH_ONLY, "Appended to pvshim_cmdline."),
    # --- Other general options --------------------------------------------
    _key("uuid", S, ALL, "Domain UUID; generated when absent."),
    _key("seclabel", S, ALL, "XSM security label of the domain."),
    _key("init_seclabel", S, ALL, "XSM label used while the domain is built."),
    _key("max_grant_frames", N, ALL, "Maximum grant table frames."),
    _key("max_maptrack_frames", N, ALL, "Maximum grant maptrack frames."),
    _key("max_grant_version", N, ALL, "Maximum grant table version."),
    _key("nomigrate", B, ALL, "Disable migration of this domain."),
    _key("driver_domain", B, ALL, "The domain is a driver (backend) domain."),
    _key("device_tree", S, PVH_ONLY, "Partial device tree to copy into the "
         "guest's.", arch="arm"),
    _key("passthrough", S, ALL, "IOMMU mode for passthrough.",
         values=frozenset({"disabled", "enabled", "sync_pt", "share_pt",
                           "default"})),
    _key("xend_suspend_evtchn_compat", B, ALL, "Old xend suspend event "
         "channel behaviour for old PV drivers."),
    _key("vmtrace_buf_kb", N, ALL, "Per-vCPU vmtrace buffer size in KiB."),
    _key("vpmu", B, PVH_ONLY, "Give the guest direct PMU register access.",
         arch="arm"),
    # --- Devices ------------------------------------------------------------
    _key("disk", L, ALL, "Disks, see xl-disk-configuration(5)."),
    _key("vif", L, ALL, "Network interfaces, see xl-network-configuration(5)."),
    _key("vif2", L, ALL, "netchannel2 interfaces.", documented=False,
         deprecated="xl warns that netchannel2 is deprecated and not "
         "supported; the list is ignored", replacement="vif"),
    _key("vtpm", L, ALL, "Virtual TPMs: backend=, uuid=."),
    _key("p9", L, ALL, "9pfs shares: tag=, security_model=, path=, backend=."),
    _key("pvcalls", L, ALL, "PV calls connections: backend=."),
    _key("vfb", L, ALL, "PV framebuffers: vnc=, sdl=, keymap=, ..."),
    _key("channel", L, ALL, "PV channels: backend=, name=, connection=, path=."),
    _key("rdm", S, HVM_ONLY, "Reserved device memory: strategy=, policy=.",
         arch="x86"),
    _key("usbctrl", L, ALL, "USB controllers: type=, version=, ports=."),
    _key("usbdev", L, ALL, "USB host devices: type=, hostbus=, hostaddr=, "
         "controller=, port=."),
    _key("pci", L, PV_HVM, "PCI passthrough, see xl-pci-configuration(5)."),
    _key("pci_permissive", B, PV_HVM, "Default of permissive for every PCI "
         "device."),
    _key("pci_msitranslate", B, PV_HVM, "Default of msitranslate for every "
         "PCI device."),
    _key("pci_seize", B, PV_HVM, "Default of seize for every PCI device."),
    _key("pci_power_mgmt", B, HVM_ONLY, "Default of power_mgmt for every PCI "
         "device."),
    _key("gfx_passthru", NS, HVM_ONLY, "Primary graphics passthrough: 0, 1, "
         "\"default\" or \"igd\".", values=frozenset({"default", "igd"})),
    _key("rdm_mem_boundary", N, HVM_ONLY, "RDM conflict boundary in MiB."),
    _key("dtdev", L, PVH_ONLY, "Host device tree nodes to pass through.",
         arch="arm"),
    _key("ioports", L, ALL, "Legacy I/O port ranges (hex) the guest may use."),
    _key("iomem", L, ALL, "I/O memory pages: \"START,NUM[@GFN]\" in hex."),
    _key("irqs", L, ALL, "Physical IRQs the guest may use."),
    _key("max_event_channels", N, ALL, "Event channel limit (default 1023)."),
    _key("vdispl", L, ALL, "PV displays: backend=, be-alloc=, connectors=."),
    _key("dm_restrict", B, PV_HVM, "Deprivilege the device model after start."),
    _key("device_model_user", S, PV_HVM, "User the restricted device model "
         "runs as."),
    _key("vsnd", L, ALL, "PV sound cards: a list of lists of CARD/PCM/STREAM "
         "item strings."),
    _key("vkb", L, ALL, "PV keyboards/pointers: backend-type=, unique-id=, ..."),
    _key("tee", S, PVH_ONLY, "Trusted execution environment mediation.",
         values=frozenset({"none", "optee"}), arch="arm"),
    # --- PV --------------------------------------------------------------------
    _key("bootloader", S, PV_PVH, "Program that picks kernel and ramdisk "
         "from the guest's disk (normally pygrub)."),
    _key("bootloader_args", SL, PV_PVH, "Arguments for the bootloader.",
         deprecated_form=S, deprecated_form_note="a single string (split at "
         "whitespace) is deprecated; xl warns: use a list of arguments"),
    _key("e820_host", B, PV_ONLY, "Expose the host e820 to the guest "
         "(default on with PCI passthrough)."),
    # --- HVM: boot, disk controller, paging -------------------------------------
    _key("boot", S, HVM_ONLY, "Boot order of c (disk), d (CD-ROM), n "
         "(network); default cd."),
    _key("hdtype", S, HVM_ONLY, "Emulated disk controller.",
         values=frozenset({"ide", "ahci"})),
    _key("hap", B, HVM_PVH, "Hardware assisted paging."),
    _key("oos", B, HVM_PVH, "Out-of-sync shadow page tables."),
    _key("shadow_memory", N, HVM_PVH, "Shadow/HAP memory in MiB."),
    # --- HVM: processor and platform features ----------------------------------
    _key("bios", S, HVM_ONLY, "Virtual firmware.",
         values=frozenset({"rombios", "seabios", "ovmf"})),
    _key("bios_path_override", S, HVM_ONLY, "Path of the BIOS blob."),
    _key("firmware_override", S, HVM_ONLY, "Path of a non-default HVM "
         "firmware (what xl suggests instead of kernel=hvmloader).",
         documented=False),
    _key("pae", B, HVM_ONLY, "Expose PAE.", arch="x86"),
    _key("acpi", B, ALL, "Expose ACPI tables (default on x86, off on Arm)."),
    _key("acpi_s3", B, HVM_ONLY, "S3 state in the ACPI tables."),
    _key("acpi_s4", B, HVM_ONLY, "S4 state in the ACPI tables."),
    _key("acpi_laptop_slate", B, HVM_ONLY, "Laptop/slate switch device."),
    _key("apic", B, HVM_ONLY, "MP/PIR tables on single-vCPU guests.",
         arch="x86"),
    _key("nx", B, HVM_ONLY, "Expose No-eXecute.", arch="x86"),
    _key("hpet", B, HVM_ONLY, "Emulated HPET.", arch="x86"),
    _key("altp2m", NS, HVM_ONLY, "Alternate p2m access mode.",
         values=frozenset({"disabled", "mixed", "external", "limited"}),
         arch="x86"),
    _key("altp2mhvm", B, HVM_ONLY, "Old altp2m switch.",
         deprecated="xl warns: use altp2m instead", replacement="altp2m"),
    _key("nestedhvm", B, HVM_PVH, "Expose hardware virtualisation (nested)."),
    _key("cpuid", SL, ALL, "CPUID policy: libxl string \"host,flag=v,...\" "
         "or a list of xend \"leaf:reg=bits\" strings (man page files it "
         "under HVM; xl_parse.c applies it to every type)."),
    _key("acpi_firmware", S, HVM_ONLY, "Extra ACPI tables file."),
    _key("smbios_firmware", S, HVM_ONLY, "Extra SMBIOS structures file."),
    _key("ms_vm_genid", S, HVM_ONLY, "VM generation ID (Windows DCs).",
         values=frozenset({"generate", "none"})),
    # --- HVM: time -------------------------------------------------------------
    _key("tsc_mode", NS, ALL, "TSC emulation mode (\"native_paravirt\" has "
         "been removed).", values=_TSC_MODES, arch="x86",
         deprecated_form=N, deprecated_form_note="an integer value is "
         "deprecated; xl warns: use the named mode"),
    _key("localtime", B, ALL, "RTC in local time instead of UTC."),
    _key("rtc_timeoffset", N, ALL, "RTC offset in seconds."),
    _key("vpt_align", B, HVM_ONLY, "Align periodic virtual platform timers."),
    _key("timer_mode", NS, HVM_PVH, "Virtual timer mode (xl rejects it for "
         "PV).", values=_TIMER_MODES,
         deprecated_form=N, deprecated_form_note="an integer value is "
         "deprecated; xl warns: use the named mode"),
    _key("mmio_hole", N, HVM_ONLY, "MMIO hole below 4 GiB in MiB "
         "(qemu-xen only)."),
    # --- HVM: PV features ----------------------------------------------------------
    _key("xen_platform_pci", B, HVM_ONLY, "Xen platform PCI device "
         "(PV-on-HVM drivers)."),
    _key("viridian", BL, HVM_ONLY, "Hyper-V enlightenments: 0/1 or a list "
         "of groups (\"!group\" disables)."),
    # --- HVM: emulated VGA and displays -------------------------------------------
    _key("videoram", N, HVM_ONLY, "Video RAM in MiB."),
    _key("stdvga", B, HVM_ONLY, "Standard VGA instead of Cirrus.",
         deprecated="use vga=\"stdvga\" instead", replacement="vga"),
    _key("vga", S, HVM_ONLY, "Emulated video card (default cirrus).",
         values=frozenset({"none", "stdvga", "cirrus", "qxl"})),
    _key("vnc", B, PV_HVM, "VNC display (PV: builds a vfb when vfb is unset)."),
    _key("vnclisten", S, PV_HVM, "VNC listen ADDRESS[:DISPLAYNUM]."),
    _key("vncdisplay", N, PV_HVM, "VNC display number (port 5900+N)."),
    _key("vncunused", B, PV_HVM, "Search for a free VNC port."),
    _key("vncpasswd", S, PV_HVM, "VNC password; empty disables auth."),
    _key("keymap", S, PV_HVM, "Keyboard layout, e.g. en-us, de."),
    _key("sdl", B, PV_HVM, "SDL window on the host."),
    _key("opengl", B, PV_HVM, "OpenGL for SDL (qemu-xen-traditional)."),
    _key("display", S, PV_HVM, "X display for SDL; xl reads it at top "
         "level, xl.cfg(5) documents it only inside vfb.", documented=False),
    _key("xauthority", S, PV_HVM, "X authority file for SDL; xl reads it at "
         "top level, xl.cfg(5) documents it only inside vfb.",
         documented=False),
    _key("nographic", B, HVM_ONLY, "No emulated graphics device."),
    _key("vncviewer", B, PV_HVM, "xm's vncviewer spawning.", documented=False,
         deprecated="ignored by xl with a warning; use \"xl create -V\""),
    # --- HVM: SPICE ----------------------------------------------------------------
    _key("spice", B, HVM_ONLY, "SPICE display."),
    _key("spicehost", S, HVM_ONLY, "SPICE listen address."),
    _key("spiceport", N, HVM_ONLY, "SPICE port."),
    _key("spicetls_port", N, HVM_ONLY, "SPICE TLS port."),
    _key("spicedisable_ticketing", B, HVM_ONLY, "SPICE without password."),
    _key("spicepasswd", S, HVM_ONLY, "SPICE password."),
    _key("spiceagent_mouse", B, HVM_ONLY, "SPICE agent client mouse mode."),
    _key("spicevdagent", B, HVM_ONLY, "SPICE vdagent channel."),
    _key("spice_clipboard_sharing", B, HVM_ONLY, "SPICE clipboard sharing."),
    _key("spiceusbredirection", N, HVM_ONLY, "SPICE USB redirection "
         "channels."),
    _key("spice_image_compression", S, HVM_ONLY, "SPICE image compression.",
         values=frozenset({"auto_glz", "auto_lz", "quic", "glz", "lz",
                           "off"})),
    _key("spice_streaming_video", S, HVM_ONLY, "SPICE streaming video.",
         values=frozenset({"filter", "all", "off"})),
    # --- HVM: miscellaneous emulated hardware ----------------------------------------
    _key("serial", SL, HVM_ONLY, "QEMU -serial devices; a single string is "
         "accepted for backwards compatibility."),
    _key("soundhw", S, HVM_ONLY, "Emulated sound card."),
    _key("vkb_device", B, HVM_ONLY, "PV keyboard for HVM (default on)."),
    _key("usb", B, HVM_ONLY, "Emulated USB bus (needed by usbdevice)."),
    _key("usbversion", N, HVM_ONLY, "Emulated USB controller version 1-3; "
         "not compatible with usb and usbdevice."),
    _key("usbdevice", SL, HVM_ONLY, "Emulated USB devices, e.g. tablet; a "
         "single string is accepted for backwards compatibility."),
    _key("vendor_device", S, HVM_ONLY, "QEMU xen-pvdevice variant.",
         values=frozenset({"none", "xenserver"})),
    # --- Device model ------------------------------------------------------------------
    _key("device_model_version", S, PV_HVM, "Device model flavour.",
         values=frozenset({"qemu-xen", "qemu-xen-traditional"})),
    _key("device_model_override", S, PV_HVM, "Path of the device model "
         "binary."),
    _key("device_model", S, PV_HVM, "xm's device model path.",
         documented=False,
         deprecated="ignored by xl with a warning; use device_model_override "
         "(or device_model_stubdomain_override for stub domains)",
         replacement="device_model_override"),
    _key("stubdomain_kernel", S, HVM_ONLY, "Stub domain kernel."),
    _key("stubdomain_cmdline", S, HVM_ONLY, "Stub domain kernel command "
         "line."),
    _key("stubdomain_ramdisk", S, HVM_ONLY, "Stub domain ramdisk."),
    _key("stubdomain_memory", N, HVM_ONLY, "Stub domain memory in MiB."),
    _key("device_model_stubdomain_override", B, HVM_ONLY, "Run the device "
         "model in a stub domain."),
    _key("device_model_stubdomain_seclabel", S, HVM_ONLY, "XSM label of the "
         "stub domain."),
    _key("device_model_args", L, PV_HVM, "Extra device model arguments."),
    _key("device_model_args_pv", L, PV_ONLY, "Extra device model arguments "
         "for PV."),
    _key("device_model_args_hvm", L, HVM_ONLY, "Extra device model arguments "
         "for HVM."),
    # --- Architecture specific ------------------------------------------------------------
    _key("gic_version", S, PVH_ONLY, "Emulated GIC version.",
         values=frozenset({"v2", "v3", "default"}), arch="arm"),
    _key("vuart", S, PVH_ONLY, "Virtual UART console.",
         values=frozenset({"sbsa_uart"}), arch="arm"),
    _key("mca_caps", L, HVM_ONLY, "Extra MCA capabilities (\"lmce\").",
         arch="x86"),
    _key("msr_relaxed", B, ALL, "Xen 4.14-like handling of unhandled MSRs.",
         arch="x86",
         deprecated="an interim option; xl warns it will be removed in "
         "future versions"),
)

KEYS: Mapping[str, KeyInfo] = MappingProxyType({k.name: k for k in _CATALOG})
"""Every top-level xl.cfg key of Xen 4.17, by name."""


def _xm(name: str, xl_equivalent: str | None, note: str) -> XmOnlyKey:
    return XmOnlyKey(name=name, xl_equivalent=xl_equivalent, note=note)


_XM: tuple[XmOnlyKey, ...] = (
    _xm("bootargs", "bootloader_args", "arguments for the bootloader, as one "
        "string; xl wants a list in bootloader_args"),
    _xm("bootentry", "bootloader_args", "already deprecated in xm in favour "
        "of bootargs"),
    _xm("on_xend_start", None, "xend autostart action; use the xendomains "
        "init script (/etc/xen/auto) with xl"),
    _xm("on_xend_stop", None, "xend shutdown action; xendomains "
        "(XENDOMAINS_SAVE) decides with xl"),
    _xm("cdrom", "disk", "xm's HVM CD-ROM image (qemu-dm's -cdrom, the IDE "
        "hdc): carried as a disk \"hdc:cdrom\""),
    _xm("loader", "firmware_override", "HVM firmware path; xl normally "
        "picks hvmloader itself"),
    _xm("features", None, "PV kernel feature string; no xl equivalent"),
    _xm("extid", "viridian", "xend's extension ID; extid=1 exposed the "
        "Viridian (Hyper-V) interface"),
    _xm("vscsi", None, "PV SCSI passthrough; upstream xl has none (SUSE's "
        "xl carries a vscsi patch)"),
    _xm("vusb", "usbctrl", "PV USB host controller; xl splits it into "
        "usbctrl and usbdev"),
    _xm("cpu_cap", "cap", "renamed"),
    _xm("cpu", "cpus", "the pCPU for vCPU 0; xl pins with cpus"),
    _xm("vcpu_avail", "vcpus", "bitmask of vCPUs online at start; xl uses "
        "vcpus with maxvcpus"),
    _xm("irq", "irqs", "one IRQ per entry; renamed"),
    _xm("nics", "vif", "number of interfaces; deprecated in xm already"),
    _xm("restart", "on_reboot", "deprecated in xm already; use on_poweroff, "
        "on_reboot and on_crash"),
    _xm("ip", "extra", "xm built ip= on the kernel command line; put it in "
        "extra or cmdline"),
    _xm("netmask", "extra", "part of the kernel ip= argument xm built"),
    _xm("gateway", "extra", "part of the kernel ip= argument xm built"),
    _xm("hostname", "extra", "part of the kernel ip= argument xm built"),
    _xm("interface", "extra", "part of the kernel ip= argument xm built"),
    _xm("dhcp", "extra", "xm added ip=dhcp to the kernel command line"),
    _xm("nfs_server", "extra", "xm added nfsroot= to the kernel command line"),
    _xm("nfs_root", "extra", "xm added nfsroot= to the kernel command line"),
    _xm("blkif", "driver_domain", "the domain is a block backend"),
    _xm("netif", "driver_domain", "the domain is a network backend"),
    _xm("tpmif", "driver_domain", "the domain is a TPM backend"),
    _xm("access_control", "seclabel", "ACM policy and label; xl uses XSM "
        "labels"),
    _xm("memory_sharing", None, "no xl equivalent"),
    _xm("vhpt", None, "IA64 only"),
    _xm("vncconsole", None, "spawned a viewer; use \"xl create -V\""),
    _xm("monitor", "device_model_args", "QEMU monitor; pass -monitor through "
        "device_model_args"),
    _xm("monitor_path", "device_model_args", "QEMU monitor path"),
    _xm("fda", "device_model_args", "floppy image; no xl key"),
    _xm("fdb", "device_model_args", "floppy image; no xl key"),
    _xm("parallel", "device_model_args", "parallel port; no xl key"),
    _xm("isa", None, "ISA-only machine; not supported by qemu-xen"),
    _xm("guest_os_type", None, "no xl equivalent"),
    _xm("watchdog", "device_model_args", "emulated watchdog device"),
    _xm("watchdog_action", "on_watchdog", "xl has on_watchdog for Xen's "
        "watchdog"),
    _xm("description", None, "free text; keep it in a comment"),
    _xm("target", None, "device model target domain; xl sets it itself"),
    _xm("s3_integrity", None, "tboot memory integrity; no xl equivalent"),
    _xm("cpuid_check", None, "no xl equivalent"),
    _xm("machine_address_size", None, "no xl equivalent"),
    _xm("suppress_spurious_page_faults", None, "no xl equivalent"),
    _xm("superpages", None, "no xl equivalent"),
    _xm("actmem", None, "xenpaging target; no xl key"),
    _xm("xenpaging_file", None, "xenpaging; no xl key"),
    _xm("xenpaging_extra", None, "xenpaging; no xl key"),
    _xm("device_model", "device_model_override", "xl reads it only to warn "
        "that it is ignored"),
    _xm("vncviewer", None, "xl reads it only to warn that it is ignored; use "
        "\"xl create -V\""),
)

XM_ONLY_KEYS: Mapping[str, XmOnlyKey] = MappingProxyType(
    {k.name: k for k in _XM})
"""Keys of xm/xend configs that xl does not act on, with what to use instead.

``device_model`` and ``vncviewer`` are also in :data:`KEYS`, marked
deprecated, because xl reads them to print a warning.  ``vncpasswd``,
``cpu_weight`` and ``builder`` are *not* here: xl 4.17 reads all three.
"""


_DISK_NOTE = ("Xen 4.17's libxlu does not accept trusted/untrusted or "
              "grant_usage= in a disk spec, although xl-disk-configuration(5) "
              "lists trusted/untrusted; target= takes the rest of the spec, "
              "so it must come last.")

_VIF_COLO = frozenset(
    [f"colo_sock_{s}_{p}" for s in ("mirror", "compare_sec_in",
                                    "compare_pri_in", "compare_notify",
                                    "redirector0", "redirector1", "redirector2",
                                    "sec_redirector0", "sec_redirector1")
     for p in ("id", "ip", "port")]
    + [f"colo_filter_{s}_{p}" for s in ("redirector0", "redirector1",
                                        "sec_redirector0", "sec_redirector1")
       for p in ("queue", "indev", "outdev")]
    + ["colo_filter_mirror_queue", "colo_filter_mirror_outdev",
       "colo_filter_sec_rewriter0_queue", "colo_compare_pri_in",
       "colo_compare_sec_in", "colo_compare_out", "colo_compare_notify_dev",
       "colo_checkpoint_host", "colo_checkpoint_port"])

_SPECS: tuple[DeviceSpec, ...] = (
    DeviceSpec("disk",
               keys=frozenset({"target", "format", "vdev", "access", "devtype",
                               "backend", "backendtype", "script",
                               "specification", "colo-host", "colo-port",
                               "colo-export", "active-disk", "hidden-disk"}),
               flags=frozenset({"cdrom", "direct-io-safe", "discard",
                                "no-discard", "colo", "no-colo"}),
               positional=("target", "format", "vdev", "access"),
               note=_DISK_NOTE),
    DeviceSpec("vif",
               keys=frozenset({"type", "mac", "bridge", "gatewaydev", "netdev",
                               "ip", "script", "backend", "vifname", "model",
                               "rate", "forwarddev", "accel", "devid", "mtu"})
               | _VIF_COLO,
               flags=frozenset({"trusted", "untrusted"}),
               deprecated=(("netdev", "deprecated alias (xl warns)",
                            "gatewaydev"),
                           ("accel", "not supported; xl warns and ignores it",
                            None)),
               note="xl splits at ',' only; an unknown key is reported but "
                    "not fatal."),
    DeviceSpec("pci",
               keys=frozenset({"bdf", "vslot", "permissive", "msitranslate",
                               "seize", "power_mgmt", "rdm_policy", "name"}),
               positional=("bdf",),
               note="BDF is [DDDD:]BB:DD.F, F may be '*'; '@VSLOT' may follow "
                    "the BDF."),
    DeviceSpec("vfb",
               keys=frozenset({"vnc", "vnclisten", "vncdisplay", "vncunused",
                               "vncpasswd", "sdl", "display", "xauthority",
                               "opengl", "keymap"}),
               note="xl ignores unknown keys here silently (e.g. xm's "
                    "type=vnc)."),
    DeviceSpec("channel", keys=frozenset({"backend", "name", "connection",
                                          "path"})),
    DeviceSpec("usbctrl", keys=frozenset({"type", "version", "ports"})),
    DeviceSpec("usbdev", keys=frozenset({"type", "hostbus", "hostaddr",
                                         "controller", "port"})),
    DeviceSpec("vtpm", keys=frozenset({"backend", "uuid"})),
    DeviceSpec("p9", keys=frozenset({"tag", "security_model", "path",
                                     "backend"})),
    DeviceSpec("pvcalls", keys=frozenset({"backend"})),
    DeviceSpec("vdispl", keys=frozenset({"backend", "be-alloc",
                                         "connectors"})),
    DeviceSpec("vkb",
               keys=frozenset({"backend", "backend-type", "unique-id",
                               "feature-disable-keyboard",
                               "feature-disable-pointer", "feature-abs-pointer",
                               "feature-raw-pointer", "feature-multi-touch",
                               "multi-touch-width", "multi-touch-height",
                               "multi-touch-num-contacts", "width", "height"})),
    DeviceSpec("vsnd",
               keys=frozenset({"backend", "short-name", "long-name", "name",
                               "unique-id", "type", "sample-rates",
                               "sample-formats", "channels-min", "channels-max",
                               "buffer-size"}),
               flags=frozenset({"CARD", "PCM", "STREAM"}),
               note="Each item starts with CARD, PCM or STREAM "
                    "(case-insensitive)."),
    DeviceSpec("vnuma", keys=frozenset({"pnode", "size", "vcpus",
                                        "vdistances"})),
    DeviceSpec("rdm", keys=frozenset({"strategy", "policy"})),
)

DEVICE_SPECS: Mapping[str, DeviceSpec] = MappingProxyType(
    {s.list_key: s for s in _SPECS})
"""The vocabulary inside device specification strings, by top-level key."""


def all_keys() -> Iterator[KeyInfo]:
    """Every catalog entry, in catalog (man page) order."""
    return iter(_CATALOG)


def lookup(name: str) -> KeyInfo | None:
    """The catalog entry of ``name``, or None if xl does not know the key.

    The match is exact: xl keys are lower case and ``Memory`` is a syntax
    error, not a spelling of ``memory``.
    """
    return KEYS.get(name)


def suggest(name: str) -> str | None:
    """A catalog key that ``name`` was probably meant to be, or None.

    None for a key xl knows.  An xm-only key with a one-key xl equivalent
    suggests that key (``bootargs`` -> ``bootloader_args``); otherwise the
    closest catalog name by :func:`difflib.get_close_matches`, so typos such
    as ``memroy``, ``vpcus`` or ``on_rebot`` find their key and a case slip
    (``Memory``) finds its lower-case form.
    """
    if name in KEYS:
        return None
    lowered = name.lower()
    if lowered in KEYS:
        return lowered
    xm = XM_ONLY_KEYS.get(lowered)
    if xm is not None and xm.xl_equivalent is not None:
        return xm.xl_equivalent
    matches = difflib.get_close_matches(lowered, list(KEYS), n=1, cutoff=0.75)
    return matches[0] if matches else None
