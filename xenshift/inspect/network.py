"""NIC naming: configured interface names, MACs, and what pins names.

Under Xen PV a netfront NIC is ``eth0`` (it has no PCI path for systemd's
predictable naming to use); as a virtio NIC on KVM it becomes ``ens3`` and
the guest's ``eth0`` configuration no longer matches, unless a rule pins
the name to the MAC. We record every configured name, every pin, and
whether predictable naming is in force.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

import yaml

from xenshift.inspect.bootloader import BootloaderFacts
from xenshift.inspect.files import GuestFiles, read_text
from xenshift.inspect.shellvars import shell_values

ConfigSource = Literal["ifupdown", "ifcfg", "netplan"]
PinKind = Literal["udev-rule", "systemd-link", "netplan"]

INTERFACES = "/etc/network/interfaces"
INTERFACES_DIR = "/etc/network/interfaces.d"
IFCFG_DIRS = ("/etc/sysconfig/network", "/etc/sysconfig/network-scripts")
NETPLAN_DIR = "/etc/netplan"
UDEV_RULES_DIR = "/etc/udev/rules.d"
LINK_DIR = "/etc/systemd/network"
NET_SETUP_LINK = ("/lib/udev/rules.d/80-net-setup-link.rules",
                  "/usr/lib/udev/rules.d/80-net-setup-link.rules")
_MAC = re.compile(r"^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$")
# A key starts a word: without the look-behind, a long word is retried
# from each of its characters, in time quadratic in its length.
_RULE_KEY = re.compile(r'(?<![\w}])(\w+(?:\{[^}]*\})?)\s*(==|=|\+=)\s*"([^"]*)"')

# libyaml's loader when PyYAML has it: several times faster, and it reads
# deep nesting without recursing in Python.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class NicConfig:
    """An interface configured by name, with the MAC it gives, if any."""

    file: str
    line: int
    name: str
    source: ConfigSource
    mac: str | None


@dataclass(frozen=True)
class NamePin:
    """A rule that gives the NIC with ``mac`` the name ``name``."""

    file: str
    line: int
    name: str
    mac: str | None
    kind: PinKind


@dataclass(frozen=True)
class NetworkFacts:
    """Configured names and pins; ``predictable_names`` says whether systemd
    renames NICs by bus position (``naming`` explains the verdict)."""

    configs: tuple[NicConfig, ...]
    pins: tuple[NamePin, ...]
    predictable_names: bool
    naming: str

    def unpinned_kernel_names(self) -> list[NicConfig]:
        """Configs naming ``ethN`` with no pin keeping that name."""
        pinned = {p.name for p in self.pins if p.mac}
        return [c for c in self.configs
                if re.fullmatch(r"eth\d+", c.name) and c.name not in pinned]


def _mac(value: object) -> str | None:
    # YAML may give a number or a list where a MAC address belongs.
    value = value.strip().lower() if isinstance(value, str) else ""
    return value if _MAC.match(value) else None


def parse_persistent_net_rules(text: str, file: str) -> list[NamePin]:
    """``NAME=`` assignments keyed on ``ATTR{address}`` in udev rules."""
    pins = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.lstrip().startswith("#"):
            continue
        keys = {k: v for k, _, v in _RULE_KEY.findall(line)}
        if "NAME" in keys:
            pins.append(NamePin(file, number, keys["NAME"],
                                _mac(keys.get("ATTR{address}")), "udev-rule"))
    return pins


def parse_interfaces(text: str, file: str) -> list[NicConfig]:
    """``iface`` stanzas of an ifupdown file, with ``hwaddress`` when given."""
    configs: list[NicConfig] = []
    for number, line in enumerate(text.splitlines(), start=1):
        words = line.split("#", 1)[0].split()
        if len(words) >= 2 and words[0] == "iface" and words[1] != "lo":
            configs.append(NicConfig(file, number, words[1], "ifupdown", None))
        elif words and words[0] == "hwaddress" and configs and configs[-1].file == file:
            last = configs[-1]
            configs[-1] = NicConfig(last.file, last.line, last.name, last.source,
                                    _mac(words[-1]))
    return configs


def parse_ifcfg(text: str, file: str) -> NicConfig | None:
    """An ``ifcfg-NAME`` file (SUSE or Red Hat): its device and MAC."""
    name = file.rsplit("ifcfg-", 1)[-1]
    if name == "lo":
        return None
    values = shell_values(text)
    mac = _mac(values.get("HWADDR") or values.get("LLADDR") or values.get("MACADDR"))
    return NicConfig(file, 1, values.get("DEVICE") or name, "ifcfg", mac)


def parse_netplan(text: str, file: str) -> tuple[list[NicConfig], list[NamePin]]:
    """Ethernets of a netplan YAML file; ``set-name`` with a MAC match is a pin."""
    try:
        doc = yaml.load(text, Loader=_YAML_LOADER)
    except (yaml.YAMLError, RecursionError):
        # The pure-Python loader builds nested nodes recursively; a file
        # nested that deep is no netplan config.
        return [], []
    ethernets = _mapping(_mapping(_mapping(doc).get("network")).get("ethernets"))
    configs, pins = [], []
    for ident, value in ethernets.items():
        spec = _mapping(value)
        mac = _mac(_mapping(spec.get("match")).get("macaddress"))
        set_name = spec.get("set-name")
        name = str(set_name or ident)
        configs.append(NicConfig(file, 1, name, "netplan", mac))
        if set_name:
            pins.append(NamePin(file, 1, name, mac, "netplan"))
    return configs, pins


def _mapping(value: object) -> dict:
    # A guest's YAML may hold anything where netplan expects a mapping.
    return value if isinstance(value, dict) else {}


def parse_link_file(text: str, file: str) -> NamePin | None:
    """A systemd ``.link`` file that names a NIC matched by MAC."""
    section = None
    mac = name = None
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("["):
            section = line
        elif "=" in line and not line.startswith(("#", ";")):
            key, value = (s.strip() for s in line.split("=", 1))
            if section == "[Match]" and key == "MACAddress":
                mac = _mac(value)
            elif section == "[Link]" and key == "Name":
                name = value
    return NamePin(file, 1, name, mac, "systemd-link") if name else None


def _predictable(files: GuestFiles, bootloader: BootloaderFacts) -> tuple[bool, str]:
    for cmdline in bootloader.cmdlines:
        if "0" in cmdline.values("net.ifnames"):
            return False, f"net.ifnames=0 at {cmdline.where}"
    for path in (f"{UDEV_RULES_DIR}/80-net-setup-link.rules", f"{LINK_DIR}/99-default.link"):
        if files.readlink(path) == "/dev/null" or read_text(files, path) == "":
            return False, f"{path} masks it"
    if any(files.is_file(p) for p in NET_SETUP_LINK):
        return True, "systemd-udevd names NICs by bus position"
    return False, "udev without predictable naming (kernel names stay)"


def gather_network(files: GuestFiles, bootloader: BootloaderFacts) -> NetworkFacts:
    """Read every NIC configuration and naming rule the guest has."""
    configs: list[NicConfig] = []
    pins: list[NamePin] = []
    for path in [INTERFACES] + [f"{INTERFACES_DIR}/{n}" for n in files.listdir(INTERFACES_DIR)]:
        configs += parse_interfaces(read_text(files, path) or "", path)
    for directory in IFCFG_DIRS:
        for name in files.listdir(directory):
            if name.startswith("ifcfg-"):
                path = f"{directory}/{name}"
                config = parse_ifcfg(read_text(files, path) or "", path)
                if config:
                    configs.append(config)
    for name in files.listdir(NETPLAN_DIR):
        if name.endswith(".yaml"):
            path = f"{NETPLAN_DIR}/{name}"
            found, named = parse_netplan(read_text(files, path) or "", path)
            configs += found
            pins += named
    for name in files.listdir(UDEV_RULES_DIR):
        if "persistent-net" in name and name.endswith(".rules"):
            path = f"{UDEV_RULES_DIR}/{name}"
            pins += parse_persistent_net_rules(read_text(files, path) or "", path)
    for name in files.listdir(LINK_DIR):
        if name.endswith(".link"):
            pin = parse_link_file(read_text(files, f"{LINK_DIR}/{name}") or "",
                                  f"{LINK_DIR}/{name}")
            if pin:
                pins.append(pin)
    predictable, naming = _predictable(files, bootloader)
    return NetworkFacts(tuple(configs), tuple(pins), predictable, naming)
