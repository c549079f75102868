"""The xl.cfg key catalog (xenshift.config.keys) against xl.cfg(5) and the corpus."""

from __future__ import annotations

import ast
import dataclasses
import gzip
import re
from pathlib import Path

import pytest

from xenshift.config.keys import (
    DEVICE_SPECS,
    KEYS,
    XM_ONLY_KEYS,
    GuestType,
    KeyInfo,
    ValueKind,
    all_keys,
    lookup,
    suggest,
)

CONFIGS = Path(__file__).resolve().parents[2] / "fixtures" / "configs"
XL_FILES = sorted(CONFIGS.glob("*.cfg"))
XM_FILES = sorted(p for p in (CONFIGS / "xm").iterdir() if p.is_file())

# The top-level keys xl.cfg(5) of Xen 4.17 documents (its "=item B<key=...>"
# entries outside nested lists), as read from Debian 12's xen-utils-common.
MAN_PAGE_KEYS = frozenset("""
acpi acpi_firmware acpi_laptop_slate acpi_s3 acpi_s4 altp2m altp2mhvm apic
bios bios_path_override boot bootloader bootloader_args builder cap channel
cmdline cpu_weight cpuid cpus cpus_soft device_model_args
device_model_args_hvm device_model_args_pv device_model_override
device_model_stubdomain_override device_model_stubdomain_seclabel
device_model_user device_model_version device_tree disk dm_restrict
driver_domain dtdev e820_host extra firmware gfx_passthru gic_version hap
hdtype hpet init_seclabel iomem ioports irqs kernel keymap localtime
max_event_channels max_grant_frames max_grant_version max_maptrack_frames
maxmem maxvcpus mca_caps memory mmio_hole ms_vm_genid msr_relaxed name
nestedhvm nographic nomigrate nx on_crash on_poweroff on_reboot on_soft_reset
on_watchdog oos opengl p9 pae passthrough pci pci_msitranslate pci_permissive
pci_power_mgmt pci_seize pool pvcalls pvshim pvshim_cmdline pvshim_extra
pvshim_path ramdisk rdm rdm_mem_boundary root rtc_timeoffset sdl seclabel
serial shadow_memory smbios_firmware soundhw spice spice_clipboard_sharing
spice_image_compression spice_streaming_video spiceagent_mouse
spicedisable_ticketing spicehost spicepasswd spiceport spicetls_port
spiceusbredirection spicevdagent stdvga stubdomain_cmdline stubdomain_kernel
stubdomain_memory stubdomain_ramdisk tee timer_mode tsc_mode type usb usbctrl
usbdev usbdevice usbversion uuid vcpus vdispl vendor_device vfb vga videoram
vif viridian vkb vkb_device vmtrace_buf_kb vnc vncdisplay vnclisten vncpasswd
vncunused vnuma vpmu vpt_align vsnd vtpm vuart xen_platform_pci
xend_suspend_evtchn_compat
""".split())

# Keys xl 4.17 reads in xl_parse.c without documenting them in xl.cfg(5).
UNDOCUMENTED_BUT_READ = frozenset({
    "display", "xauthority", "firmware_override", "period", "slice", "latency",
    "extratime", "device_model", "vncviewer", "vif2"})

# Corpus keys deliberately unknown to xl: xm leftovers in xl files, which xl
# ignores silently (the linter should flag them).
XL_FILES_WITH_XM_LEFTOVERS = {
    "sles11-xm-to-xl-leftovers.cfg": {"on_xend_start", "on_xend_stop", "bootargs"},
}

# Python variables the xm configs define for their own use (not xm options).
XM_HELPER_VARIABLES = {
    "sles10-sp4-vm-install-domuloader.cfg": {"site"},
    "xen3-hvm-winxp-xmexample.cfg": {"arch", "arch_libdir"},
    "debian-etch-xen-tools-percent.cfg": {"vmname"},
    "xen4-hvm-solaris-true-tuples.cfg": {"MAC_PREFIX"},
}

IDENT = re.compile(r"[a-z][._0-9a-z]*\Z")
C_INTEGER = re.compile(r"(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)\Z")  # strtol base 0


def xl_settings(text: str) -> list[tuple[str, str | None]]:
    """(key, value) of every statement of an xl config, in order.

    The value is the text of a scalar (a string's raw contents, or a number)
    or None for a list.  A small scanner for files libxlu accepts: it skips
    quoted strings and comments and only looks at words that start a
    statement.
    """
    settings: list[tuple[str, str | None]] = []
    statement = re.compile(r"([a-z][._0-9a-z]*)[ \t]*\+?=[ \t]*"
                           r"(?:'((?:\\.|[^'\\])*)'|\"((?:\\.|[^\"\\])*)\"|(\w*))")
    i, n, depth, at_start = 0, len(text), 0, True
    while i < n:
        c = text[i]
        if c in "'\"":
            j = i + 1
            while text[j] != c:
                j += 2 if text[j] == "\\" else 1
            i, at_start = j + 1, False
        elif c == "#":
            i = text.index("\n", i)
        elif c in "[]":
            depth += 1 if c == "[" else -1
            i += 1
        elif c in "\n;":
            at_start = depth == 0
            i += 1
        elif c in " \t":
            i += 1
        elif at_start and re.match(r"[a-z]", c):
            m = statement.match(text, i)
            assert m, f"unexpected text at {text[i:i + 20]!r}"
            is_list = m.group(4) == "" and text[m.end()] == "["
            value = None if is_list else next(
                g for g in m.group(2, 3, 4) if g is not None)
            settings.append((m.group(1), value))
            i, at_start = m.end(), False
        else:
            i, at_start = i + 1, False
    return settings


def xm_settings(text: str) -> set[str]:
    """Names an xm (Python) config assigns, at any depth (``if`` included)."""
    return {target.id
            for node in ast.walk(ast.parse(text)) if isinstance(node, ast.Assign)
            for target in node.targets if isinstance(target, ast.Name)}


def guest_type(settings: list[tuple[str, str | None]]) -> GuestType:
    """The guest type xl would pick (last assignment wins, prefix match)."""
    chosen = dict(settings)
    for key, spellings in (("type", ("hvm", "pv", "pvh")),
                           ("builder", ("hvm", "generic"))):
        value = chosen.get(key)
        if value is None:
            continue
        for spelling in spellings:
            if spelling.startswith(value):
                return {"hvm": GuestType.HVM, "pvh": GuestType.PVH}.get(
                    spelling, GuestType.PV)
    arm = any(KEYS[k].arch == "arm" for k in chosen if k in KEYS)
    return GuestType.PVH if arm else GuestType.PV


# --- the catalog itself -------------------------------------------------------

def test_catalog_covers_the_man_page_exactly() -> None:
    documented = {name for name, info in KEYS.items() if info.documented}
    assert documented == MAN_PAGE_KEYS
    assert set(KEYS) - documented == UNDOCUMENTED_BUT_READ


def test_man_page_list_matches_installed_man_page() -> None:
    """Re-derive MAN_PAGE_KEYS from xl.cfg(5) when Debian's copy is installed."""
    page = Path("/usr/share/man/man5/xl.cfg.5.gz")
    if not page.exists():
        pytest.skip("xl.cfg(5) is not installed (xen-utils-common)")
    found, depth, in_options = set(), 0, False
    for line in gzip.open(page, "rt", errors="replace").read().splitlines():
        if line.startswith(".SH"):
            in_options = '"OPTIONS"' in line or (
                in_options and not re.search(r'"(SEE ALSO|FILES|BUGS)"', line))
        depth += line.startswith(".RS") - line.startswith(".RE")
        item = re.match(r'\.IX Item "([a-z][a-z0-9_]*)(?:=| or )', line)
        if in_options and depth == 0 and item:
            found.add(item.group(1))
    assert found == MAN_PAGE_KEYS


def test_entries_are_well_formed() -> None:
    assert list(KEYS) == [info.name for info in all_keys()]
    for name, info in KEYS.items():
        assert IDENT.match(name), name
        assert info.guest_types, name
        assert info.summary, name
        assert info.arch in (None, "x86", "arm"), name
        if info.values:
            assert info.kind in (ValueKind.STRING, ValueKind.NUMBER_OR_STRING), name
        if info.deprecated is not None:
            assert info.deprecated.strip(), name
        assert (info.deprecated_form is None) == (info.deprecated_form_note is None)
        if info.deprecated_form is not None:
            assert info.deprecated_form.scalar_ok and info.kind.scalar_ok, name
            assert info.kind is not info.deprecated_form, name  # another shape stays
    with pytest.raises(dataclasses.FrozenInstanceError):
        KEYS["memory"].name = "mem"  # type: ignore[misc]


def test_deprecations_point_at_live_keys() -> None:
    for name, info in KEYS.items():
        if info.replacement is None:
            continue
        assert info.deprecated, f"{name} has a replacement but is not deprecated"
        assert info.replacement != name
        assert info.replacement in KEYS, f"{name} -> {info.replacement}"
        assert KEYS[info.replacement].deprecated is None, info.replacement
    for spec in DEVICE_SPECS.values():
        for subkey, why, replacement in spec.deprecated:
            assert subkey in spec.keys and why
            assert replacement is None or replacement in spec.keys


def test_deprecations_xl_warns_about() -> None:
    expected = {"builder": "type", "stdvga": "vga", "altp2mhvm": "altp2m",
                "vif2": "vif", "device_model": "device_model_override"}
    for name, replacement in expected.items():
        assert KEYS[name].replacement == replacement, name
    for name in ("vncviewer", "msr_relaxed"):
        assert KEYS[name].deprecated, name
    forms = {"tsc_mode": ValueKind.NUMBER, "timer_mode": ValueKind.NUMBER,
             "bootloader_args": ValueKind.STRING}
    assert {n: i.deprecated_form for n, i in KEYS.items()
            if i.deprecated_form} == forms
    for name in (*forms, "usb", "usbdevice", "serial", "gfx_passthru", "pool",
                 "vncpasswd", "cpu_weight", "type", "vga"):
        assert KEYS[name].deprecated is None, name
    assert "native_paravirt" not in KEYS["tsc_mode"].values  # removed mode
    vif = DEVICE_SPECS["vif"]
    assert ("netdev", "gatewaydev") in {(k, r) for k, _, r in vif.deprecated}


def test_xm_only_keys() -> None:
    for name, xm in XM_ONLY_KEYS.items():
        assert xm.name == name and xm.note, name
        assert xm.xl_equivalent is None or xm.xl_equivalent in KEYS, name
        if name in KEYS:  # xl reads it only to warn
            assert KEYS[name].deprecated, name
    for name in ("bootargs", "on_xend_start", "on_xend_stop", "device_model",
                 "extid", "vscsi", "cpu_cap"):
        assert name in XM_ONLY_KEYS, name
    assert XM_ONLY_KEYS["cpu_cap"].xl_equivalent == "cap"
    assert XM_ONLY_KEYS["bootargs"].xl_equivalent == "bootloader_args"
    # xl 4.17 reads these, so they are not xm-only.
    for name in ("vncpasswd", "cpu_weight", "builder"):
        assert name not in XM_ONLY_KEYS and name in KEYS


def test_lookup() -> None:
    memory = lookup("memory")
    assert isinstance(memory, KeyInfo) and memory.kind is ValueKind.NUMBER
    assert memory.guest_types == frozenset(GuestType)
    assert lookup("Memory") is None
    assert lookup("bootargs") is None
    assert lookup("vnuma").kind is ValueKind.LIST
    assert lookup("viridian").kind is ValueKind.BOOL_OR_LIST
    assert lookup("pvshim").guest_types == {GuestType.PVH}
    assert lookup("e820_host").guest_types == {GuestType.PV}


@pytest.mark.parametrize(("typo", "meant"), [
    ("memroy", "memory"), ("vpcus", "vcpus"), ("on_rebot", "on_reboot"),
    ("bootlaoder", "bootloader"), ("vncunsued", "vncunused"),
    ("viridan", "viridian"), ("kernal", "kernel"), ("disks", "disk"),
    ("cpu_weigth", "cpu_weight"), ("Memory", "memory"),
    ("bootargs", "bootloader_args"), ("cpu_cap", "cap"),
])
def test_suggest_finds_the_key(typo: str, meant: str) -> None:
    assert suggest(typo) == meant


@pytest.mark.parametrize("name", ["memory", "vif", "zzzz", "pygrub",
                                  "on_xend_start"])
def test_suggest_has_nothing(name: str) -> None:
    assert suggest(name) is None


# --- the corpus against the catalog --------------------------------------------

@pytest.mark.parametrize("path", XL_FILES, ids=[p.name for p in XL_FILES])
def test_xl_corpus_keys_are_known(path: Path) -> None:
    text = path.read_text()
    settings = xl_settings(text)
    assert settings
    leftovers = XL_FILES_WITH_XM_LEFTOVERS.get(path.name, set())
    unknown = {key for key, _ in settings if key not in KEYS}
    assert unknown == leftovers
    assert unknown <= set(XM_ONLY_KEYS)

    kind = guest_type(settings)
    for key, value in settings:
        info = KEYS.get(key)
        if info is None:
            continue
        assert (info.kind.scalar_ok if value is not None else info.kind.list_ok), key
        if value is None:
            continue
        if info.kind in (ValueKind.NUMBER, ValueKind.BOOL):
            assert C_INTEGER.match(value), f"{key} = {value!r} is not a number"
        if info.values and not (info.kind is ValueKind.NUMBER_OR_STRING
                                and C_INTEGER.match(value)):
            prefix_matched = key in ("type", "builder")
            assert any(v.startswith(value) if prefix_matched else v == value
                       for v in info.values), f"{key} = {value!r}"
        assert kind in info.guest_types, f"{key} is not for {kind.value} guests"


@pytest.mark.parametrize("path", XM_FILES, ids=[p.name for p in XM_FILES])
def test_xm_corpus_keys_are_known(path: Path) -> None:
    names = xm_settings(path.read_text())
    helpers = XM_HELPER_VARIABLES.get(path.name, set())
    assert helpers <= names
    assert names - helpers <= set(KEYS) | set(XM_ONLY_KEYS), \
        names - helpers - set(KEYS) - set(XM_ONLY_KEYS)


def test_scanner_sees_every_statement() -> None:
    text = ("a=1; b = 'x;y=2' # c=3\n"
            "l = [ 'p=1',\n  # q=2\n  \"r=3\", [ 's' ] ]\n"
            "m += \"t\"\n")
    assert xl_settings(text) == [("a", "1"), ("b", "x;y=2"), ("l", None),
                                 ("m", "t")]
