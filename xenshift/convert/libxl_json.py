"""``libxl_json_to_xl``: a domain's config as ``xl list -l`` prints it, as xl config text.

``xl list -l NAME`` prints libxl's own record of the domain (its effective
config: defaults filled in, devices as libxl holds them) as JSON: a list of
``{"domid": N, "config": {"c_info": …, "b_info": …, "disks": […], …}}``.
Like libvirt XML, it is written as the equivalent xl config, with the
config engine's own spec formatters, so one engine reads every input.
What has no xl spelling comes back as notes; errors name the line and
column of the JSON object at fault.
"""

from __future__ import annotations

import json
import json.decoder
import json.scanner
from typing import Any

from xenshift.config.devices import DiskSpec, VifSpec, format_disk, format_vif
from xenshift.config.values import PlainValue, format_xl
from xenshift.errors import InputError, Location, excerpt

_TYPES = ("pv", "hvm", "pvh")
_FORMATS = {"raw": "raw", "qcow": "qcow", "qcow2": "qcow2", "vhd": "vhd", "qed": "qed",
            "empty": "empty"}
_BACKENDS = {"phy": "phy", "tap": "tap", "qdisk": "qdisk", "standalone": "standalone"}
_ACTIONS = ("destroy", "restart", "rename_restart", "preserve", "coredump_destroy",
            "coredump_restart", "soft_reset")
_KIB_PER_MIB = 1024


class _Object(dict):
    """A JSON object that knows the offset of its opening brace."""

    offset = 0


class _Decoder(json.JSONDecoder):
    """json's decoder with every object tagged with where it starts."""

    def __init__(self) -> None:
        super().__init__()
        plain = self.parse_object

        def parse_object(s_and_end, *args):
            value, end = plain(s_and_end, *args)
            tagged = _Object(value)
            tagged.offset = s_and_end[1] - 1
            return tagged, end

        self.parse_object = parse_object
        # The pure-Python scanner calls parse_object; the C one would not.
        self.scan_once = json.scanner.py_make_scanner(self)


class _Reader:
    """The xl settings of one libxl domain record."""

    def __init__(self, text: str, source: str | None):
        self.text = text
        self.source = source
        self.settings: dict[str, PlainValue] = {}
        self.notes: list[str] = []

    def where(self, obj: Any) -> Location:
        offset = getattr(obj, "offset", 0)
        line = self.text.count("\n", 0, offset) + 1
        return Location(self.source, line, offset - self.text.rfind("\n", 0, offset))

    def error(self, obj: Any, message: str) -> InputError:
        return InputError(message, self.where(obj))

    def set(self, key: str, value: PlainValue | None) -> None:
        if value not in (None, "", []):
            self.settings[key] = value

    def obj(self, parent: dict, key: str) -> dict:
        value = parent.get(key, {})
        if not isinstance(value, dict):
            raise self.error(parent, f'"{key}" is not an object')
        return value

    def items(self, parent: dict, key: str) -> list[dict]:
        value = parent.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise self.error(parent, f'"{key}" is not a list of objects')
        return value

    def text_of(self, parent: dict, key: str) -> str | None:
        value = parent.get(key)
        if value is not None and not isinstance(value, str):
            raise self.error(parent, f'"{key}" is not a string: {excerpt(str(value))}')
        return value

    def number(self, parent: dict, key: str) -> int | None:
        value = parent.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                  or value < 0):
            raise self.error(parent, f'"{key}" is not a count: {excerpt(str(value))}')
        return value


def _record(r: _Reader, data: Any) -> dict:
    """The one domain's ``config`` object of ``xl list -l``'s output."""
    if isinstance(data, list):
        if len(data) != 1:
            raise InputError(f"expected the record of one domain, found {len(data)}",
                             Location(r.source, 1, 1))
        data = data[0]
    if not isinstance(data, dict):
        raise InputError("not libxl's domain record (an object with \"config\")",
                         Location(r.source, 1, 1))
    config = data.get("config", data)
    if not isinstance(config, dict) or "c_info" not in config:
        raise r.error(data, 'not libxl\'s domain record: no "config" with "c_info"')
    return config


def _general(r: _Reader, config: dict) -> str:
    c_info, b_info = r.obj(config, "c_info"), r.obj(config, "b_info")
    guest = r.text_of(c_info, "type") or "pv"
    if guest not in _TYPES:
        raise r.error(c_info, f'unknown guest type "{excerpt(guest)}": expected pv, hvm or pvh')
    name = r.text_of(c_info, "name")
    if not name:
        raise r.error(c_info, "the domain has no name")
    r.set("name", name)
    r.set("type", guest)
    r.set("uuid", r.text_of(c_info, "uuid"))
    r.set("pool", r.text_of(c_info, "pool_name"))
    target, most = r.number(b_info, "target_memkb"), r.number(b_info, "max_memkb")
    if target or most:
        r.set("memory", (target or most) // _KIB_PER_MIB)
        if most and target and most != target:
            r.set("maxmem", most // _KIB_PER_MIB)
    vcpus = r.number(b_info, "max_vcpus")
    online = b_info.get("avail_vcpus")
    if vcpus:
        present = len(online) if isinstance(online, list) and online else vcpus
        r.set("vcpus", present)
        if present != vcpus:
            r.set("maxvcpus", vcpus)
    for key in ("on_poweroff", "on_reboot", "on_crash", "on_watchdog", "on_soft_reset"):
        action = r.text_of(config, key)
        if action is not None:
            if action not in _ACTIONS:
                raise r.error(config, f'{key}: unknown action "{excerpt(action)}"')
            r.set(key, action.replace("_", "-"))
    return guest


def _boot(r: _Reader, config: dict, guest: str) -> None:
    b_info = r.obj(config, "b_info")
    # libxl 4.10 moved kernel, ramdisk and cmdline from type.pv to b_info;
    # older records hold them in type.pv.
    pv = r.obj(b_info, "type.pv")
    for key in ("kernel", "ramdisk", "cmdline", "bootloader"):
        r.set(key, r.text_of(b_info, key) or r.text_of(pv, key))
    args = b_info.get("bootloader_args") or pv.get("bootloader_args")
    if isinstance(args, list) and all(isinstance(a, str) for a in args):
        r.set("bootloader_args", list(args))
    hvm = r.obj(b_info, "type.hvm")
    if guest == "hvm":
        r.set("boot", r.text_of(hvm, "boot"))
        firmware = r.text_of(hvm, "firmware") or r.text_of(hvm, "bios")
        if firmware in ("seabios", "rombios", "ovmf"):
            r.set("bios", firmware)
        elif firmware:
            r.set("firmware", firmware)


def _disks(r: _Reader, config: dict) -> None:
    for disk in r.items(config, "disks"):
        vdev = r.text_of(disk, "vdev")
        if not vdev:
            raise r.error(disk, "a disk with no vdev")
        fmt = _FORMATS.get(r.text_of(disk, "format") or "raw")
        if fmt is None:
            raise r.error(disk, f'disk {vdev}: unknown format "{excerpt(disk["format"])}"')
        cdrom = bool(disk.get("is_cdrom"))
        target = r.text_of(disk, "pdev_path") or ("" if cdrom else None)
        if target is None:
            raise r.error(disk, f"disk {vdev} has no pdev_path")
        try:
            spec = DiskSpec(vdev, target, "empty" if cdrom and not target else fmt,
                            readwrite=not cdrom and bool(disk.get("readwrite", 1)),
                            is_cdrom=cdrom,
                            backendtype=_BACKENDS.get(r.text_of(disk, "backend") or ""),
                            script=r.text_of(disk, "script"))
            r.settings.setdefault("disk", []).append(format_disk(spec))
        except ValueError as err:
            raise r.error(disk, f"disk {vdev} cannot be written as an xl spec: {err}") from None


def _nics(r: _Reader, config: dict, guest: str) -> None:
    for nic in r.items(config, "nics"):
        nictype = r.text_of(nic, "nictype")
        try:
            spec = VifSpec(type={"vif": "vif", "vif_ioemu": "ioemu"}.get(nictype or ""),
                           mac=r.text_of(nic, "mac"), bridge=r.text_of(nic, "bridge"),
                           ip=tuple(r.text_of(nic, "ip").split()) if nic.get("ip") else None,
                           script=r.text_of(nic, "script"), vifname=r.text_of(nic, "ifname"),
                           model=r.text_of(nic, "model") if guest == "hvm" else None,
                           mtu=r.number(nic, "mtu") or None)
            r.settings.setdefault("vif", []).append(format_vif(spec))
        except ValueError as err:
            raise r.error(nic, f"a nic cannot be written as an xl spec: {err}") from None


_HANDLED = {"c_info", "b_info", "disks", "nics", "on_poweroff", "on_reboot", "on_crash",
            "on_watchdog", "on_soft_reset"}
# Devices libxl records for every PV domain, which xl adds itself.
_IMPLIED = {"vkbs", "vfbs", "channels", "consoles"}


def libxl_json_to_xl(json_text: str, source: str | None = None) -> tuple[str, list[str]]:
    """xl config text for the domain record ``json_text`` (``xl list -l NAME``),
    and notes on what has no xl equivalent. ``source`` names it in errors.

    Raises InputError at the line and column of a malformed document or of
    the object holding a value xl cannot take.
    """
    try:
        data = _Decoder().decode(json_text)
    except json.JSONDecodeError as err:
        raise InputError(f"not valid JSON: {err.msg}",
                         Location(source, err.lineno, err.colno)) from None
    r = _Reader(json_text, source)
    config = _record(r, data)
    guest = _general(r, config)
    _boot(r, config, guest)
    _disks(r, config)
    _nics(r, config, guest)
    for key in sorted(set(config) - _HANDLED):
        if config[key] not in ([], {}, None) and key not in _IMPLIED:
            r.notes.append(f'"{key}" is not carried over (no xl setting for it here)')
    lines = [f"# {source or 'xl list -l'}: read from libxl's domain record\n"]
    lines += [f"{key} = {format_xl(value)}\n" for key, value in r.settings.items()]
    return "".join(lines), r.notes
