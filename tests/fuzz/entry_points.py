"""Every input xenshift parses, as one fuzzing entry point each.

An entry point turns bytes into what xenshift makes of them, the way the
command that reads such a file does, and :func:`exercise` checks the
contract: a result, or the project's own error carrying a location; never
another exception. Seeds are the real inputs of the repository's fixtures,
from which the mutations start (see :mod:`tests.fuzz.mutations`).
"""

from __future__ import annotations

import atexit
import functools
import io
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

# The stream tests' domain, page batches and in-memory reader. (Imported
# here, not while Hypothesis generates data: that module defines @given tests.)
from tests.migrate.test_stream import CONFIG, DOMAIN, TAIL, Memory, batch, read
from xenshift.batch.jobfile import parse_job
from xenshift.cli.json_text import json_text
from xenshift.config import devices
from xenshift.config.document import decode, parse_config
from xenshift.config.domain import build_domain
from xenshift.config.lint import lint
from xenshift.config.values import format_xl
from xenshift.convert.libvirt import to_kvm
from xenshift.convert.source import guest_from_bytes
from xenshift.convert.to_hvm import to_hvm
from xenshift.convert.to_pvh import to_pvh
from xenshift.errors import ConfigErrors, ConfigError, Location, XenshiftError
from xenshift.inspect import bootloader, console, fstab, initrd, kernels, network, osinfo
from xenshift.inspect.shellvars import parse_shell_vars, shell_values
from xenshift.inspect.xen_leftovers import parse_modprobe_aliases, parse_script_loads
from xenshift.migrate.errors import StreamFormatError
from xenshift.migrate.stream.writer import epilogue, prologue

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = ROOT / "fixtures" / "configs"
SUSE = ROOT / "fixtures" / "images" / "suse"
WHERE = Location("fuzz", 1, 1)


class ContractBroken(AssertionError):
    """The project's own error, but without saying where."""


@dataclass(frozen=True)
class EntryPoint:
    """One parser, its seeds, and the brackets that nest in its syntax."""

    name: str
    parse: Callable[[bytes], object]
    seeds: Callable[[], list[bytes]]
    nesting: tuple[bytes, bytes] = (b"[", b"]")
    # Characters that matter to the syntax, for mutations to insert.
    specials: bytes = b"\"'[],=;#\\\n "
    located: Callable[[XenshiftError], bool] = field(
        default=lambda err: err.location is not None)


def exercise(entry: EntryPoint, data: bytes) -> None:
    """Run ``entry`` on ``data``; raise unless the contract holds."""
    try:
        entry.parse(data)
    except XenshiftError as err:
        if not entry.located(err):
            raise ContractBroken(f"{entry.name}: {type(err).__name__} without "
                                 f"a location: {err}") from err


def _all_located(err: XenshiftError) -> bool:
    if isinstance(err, ConfigErrors):
        return all(e.location is not None for e in err.errors)
    # A converter refusing the whole guest names the file in its message.
    return err.location is not None or str(err).startswith("fuzz.")


def _at_offset(err: XenshiftError) -> bool:
    return isinstance(err, StreamFormatError) and err.offset is not None


def _files(*patterns: str, under: Path = ROOT) -> Callable[[], list[bytes]]:
    @functools.cache
    def load() -> list[bytes]:
        found = sorted({p for pattern in patterns for p in under.glob(pattern)
                        if p.is_file()})
        assert found, f"no seeds match {patterns}"
        return [p.read_bytes() for p in found]
    return load


def _texts(*texts: str) -> Callable[[], list[bytes]]:
    return lambda: [t.encode() for t in texts]


def _guest_text(data: bytes) -> str:
    # How inspection reads a guest's files (xenshift.inspect.files.read_text).
    return data.decode("utf-8", errors="replace")


# -- domain configs ----------------------------------------------------------

def _config(data: bytes) -> None:
    """What show, lint and the converters do with a config file."""
    doc = parse_config(decode(data), "fuzz.cfg")
    lint(doc)
    if not doc.ok:
        return
    for setting in doc.settings:
        format_xl(setting.value)
    json_text(doc.settings.to_json())
    _convert(build_domain(doc))


def _convert(config) -> None:
    to_kvm(config)
    to_pvh(config)
    to_hvm(config)


def _xml(data: bytes) -> None:
    _convert(guest_from_bytes(data, Path("fuzz.xml")).config)


# -- device specs ------------------------------------------------------------

@functools.cache
def _corpus_items(key: str) -> list[bytes]:
    """Every item of list ``key`` in the config fixtures, as spec seeds."""
    items = set()
    for path in sorted(CONFIGS.rglob("*.cfg")):
        doc = parse_config(decode(path.read_bytes()), str(path))
        setting = doc.settings.get(key)
        if setting is None:
            continue
        try:
            found = doc.settings.get_string_list(key) or []
        except ConfigError:
            continue
        items.update(item.text.encode() for item in found)
    return sorted(items)


def _spec(key: str, parse: Callable, extra: tuple[str, ...] = ()) -> EntryPoint:
    def run(data: bytes) -> None:
        parse(decode(data), WHERE)

    return EntryPoint(f"{key} spec", run,
                      lambda: _corpus_items(key) + [e.encode() for e in extra],
                      specials=b",=:;@/ \"'\\")


def _usb(data: bytes) -> None:
    text = decode(data)
    devices.parse_usbctrl(text, WHERE)
    devices.parse_usbdev(text, WHERE)


def _vnuma(data: bytes) -> None:
    # One node a line, its items separated by tabs.
    nodes = [line.split("\t") for line in decode(data).split("\n")]
    devices.parse_vnuma(nodes, WHERE)


def _vnuma_seeds() -> list[bytes]:
    seeds = []
    for path in sorted(CONFIGS.glob("*vnuma*.cfg")):
        doc = parse_config(decode(path.read_bytes()), str(path))
        nodes = doc.settings.get("vnuma").value.items
        seeds.append("\n".join("\t".join(item.text for item in node.items)
                               for node in nodes).encode())
    return seeds


# -- job files ---------------------------------------------------------------

JOB_SEEDS = (
    '[job]\ntarget = "kvm"\noutput = "out"\nworkers = 2\nconfig_only = false\n\n'
    '[[guest]]\nconfig = "*.cfg"\n\n[[guest]]\nconfig = "suse-vm-install-pv.cfg"\n',
    '[job]\ntarget = "kvm"\noutput = "out"\nworkers = 3\n\n'
    '[[guest]]\nconfig = "debian-*.cfg"\ntarget = "hvm"\n'
    'bridge = { br0 = "virbr0" }\n\n'
    '[[guest]]\nconfig = "suse-vm-install-pv.cfg"\nformat = "raw"\n',
    '[job]\ntarget = "pvh"\n[[guest]]\nconfig = "xm/*.cfg"\nnetwork = { br1 = "default" }\n',
)


def _job(data: bytes) -> None:
    # Guests are found beside the job file: the config fixtures.
    parse_job(data, CONFIGS / "fuzz.toml")


# -- migration -----------------------------------------------------------------

class _Unchecked(Memory):
    """The stream tests' page sink, storing where it would assert: a fuzzed
    stream's verify pages differ from its first copy, which is no error of
    the reader's."""

    def page_data(self, head, reader, verify):
        super().page_data(head, reader, False)


def _stream(data: bytes) -> None:
    read(data, sink=_Unchecked())


def _stream_seeds() -> list[bytes]:
    # Every record type in a few pages: the stream tests' whole stream is
    # 276 KB, and Hypothesis keeps some of each example it generates.
    return [prologue(CONFIG, DOMAIN) + batch([0, 1, 5]) + batch([1]) + epilogue(TAIL)]


def _hello(data: bytes) -> None:
    from xenshift.migrate.extension import read_hello
    from xenshift.migrate.stream.framing import ExactReader
    read_hello(ExactReader(io.BytesIO(data[32:])), data[:32].ljust(32, b"\0"))


def _hello_seeds() -> list[bytes]:
    from dataclasses import asdict
    import json
    from xenshift.migrate.extension import HELLO, HELLO_MAGIC, Extensions
    seeds = []
    for ext in (Extensions(), Extensions("zstd", True, 4, True, False, True, "ab" * 16)):
        body = json.dumps(asdict(ext)).encode()
        seeds.append(HELLO.pack(HELLO_MAGIC, len(body)) + body)
    return seeds


@functools.cache
def _sim_dir() -> Path:
    """A simulated domain's files, made once; each input replaces its control block."""
    from xenshift.migrate.backend.sim import default_context
    from xenshift.migrate.backend.sim_files import create_files
    # The host's memory pool is looked for two levels up: a fresh one here.
    root = Path(tempfile.mkdtemp(prefix="xenshift-fuzz-sim-"))
    atexit.register(shutil.rmtree, root, True)
    host = root / "domains"
    context, _platform = default_context(1, 16)
    create_files(host / "seed", {}, 16, "zero", context, 1)
    return host


def _sim(data: bytes) -> None:
    from xenshift.migrate.backend.sim_files import DomainFiles
    domain = _sim_dir() / "seed"
    control = domain / "control"
    original = control.read_bytes()
    control.write_bytes(data)
    try:
        DomainFiles(domain)
    finally:
        control.write_bytes(original)


def _sim_seeds() -> list[bytes]:
    return [(_sim_dir() / "seed" / "control").read_bytes()]


def _sim_located(err: XenshiftError) -> bool:
    # A simulated domain is named by its directory, which the message gives.
    return "seed" in str(err)


# -- guest files ----------------------------------------------------------------

def _guest(*parsers: Callable[[str], object]) -> Callable[[bytes], None]:
    def run(data: bytes) -> None:
        text = _guest_text(data)
        for parse in parsers:
            parse(text)
    return run


def _named(parse: Callable[[str, str], object], file: str) -> Callable[[str], object]:
    return lambda text: parse(text, file)


DEBIAN_DEFAULT_GRUB = ('GRUB_DEFAULT=0\nGRUB_TIMEOUT=5\n'
                       'GRUB_DISTRIBUTOR=`lsb_release -i -s 2> /dev/null || echo Debian`\n'
                       'GRUB_CMDLINE_LINUX_DEFAULT="quiet"\nGRUB_CMDLINE_LINUX="console=hvc0 '
                       "root=UUID=0f6a7e3c-1b2d-4e5f-8a9b-0c1d2e3f4a5b\"\n"
                       "export GRUB_TERMINAL='console serial'\n")
CRYPTTAB = ("# <target name> <source device> <key file> <options>\n"
            "cr_root UUID=6a3c0b0e-8f7d-4c1e-9d3e-2b1a0c9f8e7d none luks,discard\n"
            "swap /dev/xvda3 /dev/urandom swap,cipher=aes-xts-plain64,size=256\n"
            "home\t/dev/disk/by-id/xen-vbd-51728-part2\t/etc/keys/home.key\tluks\n")
INITRAMFS_MODULES = ("# List of modules that you want to include in your initramfs.\n"
                     "xen-blkfront\nxen-netfront\nxen_kbdfront\nraid1 \n")
DRACUT_CONF = ('add_drivers+=" xen-blkfront xen-netfront "\nhostonly="yes"\n'
               "omit_drivers+=' floppy '\n")
INTERFACES = ("auto lo\niface lo inet loopback\n\nallow-hotplug eth0\n"
              "iface eth0 inet static\n  address 192.0.2.10/24\n  gateway 192.0.2.1\n")

_SHELL = (parse_shell_vars, shell_values)

GUEST_FILES = (
    EntryPoint("fstab", _guest(fstab.parse_fstab), _files("*/etc/fstab", under=SUSE)),
    EntryPoint("crypttab", _guest(fstab.parse_crypttab), _texts(CRYPTTAB)),
    EntryPoint("grub.cfg", _guest(bootloader.parse_grub2_cfg,
                                  _named(bootloader.parse_device_map, "device.map")),
               _files("*/boot/grub2/grub.cfg", "*/boot/grub*/device.map", under=SUSE),
               nesting=(b"submenu 'x' {\n", b"}\n"), specials=b"{}'\"$;\n\\ "),
    EntryPoint("menu.lst", _guest(bootloader.parse_menu_lst,
                                  _named(bootloader.parse_extlinux, "extlinux.conf")),
               _files("*/boot/grub/menu.lst", under=SUSE)),
    EntryPoint("/etc/default/grub", _guest(*_SHELL),
               lambda: _files("*/etc/default/grub", under=SUSE)()
               + [DEBIAN_DEFAULT_GRUB.encode()],
               nesting=(b"$(", b")"), specials=b"\"'`$=\\\n# "),
    EntryPoint("sysconfig", _guest(*_SHELL, _named(network.parse_ifcfg, "ifcfg-eth0")),
               _files("*/etc/sysconfig/**/*", under=SUSE),
               nesting=(b"$(", b")"), specials=b"\"'`$=\\\n# "),
    EntryPoint("initramfs-tools and dracut",
               _guest(_named(initrd.parse_module_list, "/etc/initramfs-tools/modules"),
                      *_SHELL),
               lambda: _files("*/etc/dracut.conf.d/*", under=SUSE)()
               + [INITRAMFS_MODULES.encode(), DRACUT_CONF.encode()],
               specials=b"\"'+=\\\n# "),
    EntryPoint("udev rules", _guest(_named(network.parse_persistent_net_rules,
                                           "70-persistent-net.rules"),
                                    _named(network.parse_link_file, "10-eth0.link")),
               _files("*/etc/udev/rules.d/*", under=SUSE), specials=b"\"=,!*\\\n# "),
    EntryPoint("inittab", _guest(console.parse_inittab, console.parse_securetty),
               _files("*/etc/inittab", "*/etc/securetty", under=SUSE),
               specials=b":#\n "),
    EntryPoint("other guest files", _guest(
        osinfo.parse_os_release, osinfo.parse_suse_release, osinfo.parse_dpkg_status,
        kernels.parse_kernel_config, kernels.parse_modules_dep,
        kernels.parse_modules_builtin, _named(network.parse_interfaces, "interfaces"),
        _named(network.parse_netplan, "01-netcfg.yaml"),
        _named(parse_modprobe_aliases, "modprobe.conf"),
        _named(parse_script_loads, "boot.local")),
        lambda: _files("*/etc/os-release", "*/etc/SuSE-release", "*/etc/modprobe.d/*",
                       "*/lib/modules/*/modules.dep", under=SUSE)()
        + [INTERFACES.encode()]),
)

ENTRY_POINTS = (
    EntryPoint("xl config", _config,
               _files("fixtures/configs/*.cfg", "fixtures/configs/invalid/*.cfg"),
               located=_all_located),
    EntryPoint("xm config", _config, _files("fixtures/configs/xm/*.cfg"),
               nesting=(b"(", b")"), specials=b"\"'[](),=:+%\n#\\ ", located=_all_located),
    _spec("disk", devices.parse_disk),
    _spec("vif", devices.parse_vif, ("rate=10Mb/s@20ms", "ip=192.0.2.1 192.0.2.2")),
    _spec("pci", devices.parse_pci, ("0000:03:00.0@8,permissive=1", "03:00.*,seize=1")),
    _spec("vfb", devices.parse_vfb),
    _spec("channel", devices.parse_channel),
    EntryPoint("usb spec", _usb,
               lambda: _corpus_items("usbctrl") + _corpus_items("usbdev"),
               specials=b",=:;. "),
    _spec("serial", devices.parse_serial, ("pty", "tcp:127.0.0.1:4555,server,nowait",
                                           "/dev/ttyS0", "unix:/run/s.sock,server")),
    EntryPoint("vnuma spec", _vnuma, _vnuma_seeds, specials=b",=\t\n "),
    EntryPoint("libvirt XML", _xml, _files("fixtures/libvirt-xen/*.xml"),
               nesting=(b"<a>", b"</a>"), specials=b"<>/=\"'&;!\n ",
               located=_all_located),
    EntryPoint("job file", _job, _texts(*JOB_SEEDS), located=_all_located),
    EntryPoint("migration stream", _stream, _stream_seeds, nesting=(b"", b""),
               specials=b"\0\xff", located=_at_offset),
    EntryPoint("extension hello", _hello, _hello_seeds, nesting=(b"{\"a\":", b"}"),
               specials=b"{}[]\",:0", located=_at_offset),
    EntryPoint("sim domain", _sim, _sim_seeds, nesting=(b"", b""),
               specials=b"\0\xff", located=_sim_located),
) + GUEST_FILES
