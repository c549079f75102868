"""Disk specs (xl-disk-configuration(5)), parsed exactly as libxlu does.

The tokens come from :mod:`disk_lexer`; this module applies each one the
way the matching flex action does, then checks the result as
``xlu_disk_parse`` does. Where libxlu reports an error and carries on, we
stop at that first error: libxlu rejects the spec either way.
"""

from __future__ import annotations

import re
from dataclasses import MISSING, dataclass, fields, replace
from typing import Any, Literal, get_args

from xenshift.config.devices.disk_lexer import DiskToken, disk_tokens
from xenshift.config.devices.spec_context import SpecContext
from xenshift.config.devices.vdev import Vdev, parse_vdev
from xenshift.errors import Location, SpecError

DiskFormat = Literal["raw", "qcow", "qcow2", "vhd", "qed", "empty"]
BackendType = Literal["phy", "qdisk", "tap", "standalone"]
Specification = Literal["xen", "virtio"]

_ATOI = re.compile(r"[ \t\n\v\f\r]*([+-]?[0-9]+)")
_ENUMS = {
    "format": get_args(DiskFormat),
    "backendtype": get_args(BackendType),
    "specification": get_args(Specification),
}
# Rules whose action stores the value after '=' in a string field, refusing
# to overwrite a non-empty one ("target respecified").
_STRING_RULES = {
    "target": "target", "vdev": "vdev", "script": "script", "backend": "backend",
    "colo-host": "colo_host", "colo-export": "colo_export",
    "active-disk": "active_disk", "hidden-disk": "hidden_disk",
}
_FLAG_RULES = {
    "cdrom": ("is_cdrom", True), "devtype-cdrom": ("is_cdrom", True),
    "devtype-disk": ("is_cdrom", False),
    "direct-io-safe": ("direct_io_safe", True),
    "discard": ("discard", True), "no-discard": ("discard", False),
    "colo": ("colo", True), "no-colo": ("colo", False),
    "trusted": ("trusted", True), "untrusted": ("trusted", False),
}


@dataclass(frozen=True)
class DiskSpec:
    """One ``disk=`` item, with libxlu's defaults and post-processing applied.

    ``target`` is None when the spec names none (only allowed for a
    cdrom), and ``""`` for an explicitly empty one. ``legacy_prefixes``
    keeps the xm prefixes that libxlu strips without effect (``phy``,
    ``file``, ``tap``, ``tap2``, ``tapdisk``, ``aio``, ``ioemu``), outermost
    first: libxlu ignores them, but ``phy:`` still tells a converter that
    the target is a block device.
    """

    vdev: str
    target: str | None = None
    format: DiskFormat = "raw"
    readwrite: bool = True
    is_cdrom: bool = False
    backendtype: BackendType | None = None
    backend: str | None = None
    specification: Specification | None = None
    script: str | None = None
    direct_io_safe: bool = False
    discard: bool | None = None
    trusted: bool | None = None
    grant_usage: bool | None = None
    colo: bool | None = None
    colo_host: str | None = None
    colo_port: int | None = None
    colo_export: str | None = None
    active_disk: str | None = None
    hidden_disk: str | None = None
    legacy_prefixes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # The states libxlu's post-processing never produces.
        if self.is_cdrom and self.readwrite:
            raise ValueError("a cdrom disk is read-only")
        if self.target is None and not self.is_cdrom:
            raise ValueError("only a cdrom disk may have no target")
        if self.is_cdrom and not self.target and self.format != "empty":
            raise ValueError("an empty cdrom has format 'empty'")

    @property
    def readonly(self) -> bool:
        """True when the guest may not write (``access=ro``, or a cdrom)."""
        return not self.readwrite

    @property
    def removable(self) -> bool:
        """libxl's ``removable``: set for cdroms, and only for them."""
        return self.is_cdrom

    @property
    def legacy_prefix(self) -> str | None:
        """The outermost ignored xm prefix, e.g. ``phy`` for ``phy:/dev/sda``."""
        return self.legacy_prefixes[0] if self.legacy_prefixes else None

    @property
    def vdev_info(self) -> Vdev:
        """The decoded vdev; SpecError if libxl would not accept it."""
        return parse_vdev(self.vdev)

    @property
    def is_block_device(self) -> bool:
        """Whether the target is a host block device.

        True for a ``phy:`` prefix, ``backendtype=phy`` or a ``/dev/`` path.
        """
        return ("phy" in self.legacy_prefixes or self.backendtype == "phy"
                or (self.target or "").startswith("/dev/"))


def parse_disk(text: str, location: Location | None = None, *,
               xen417: bool = False) -> DiskSpec:
    """Parse one disk spec as ``xlu_disk_parse`` does; SpecError if it fails.

    With ``xen417``, read it as Xen 4.17's libxlu does, which does not know
    the words ``trusted``, ``untrusted`` and ``grant_usage=``, so that a
    linter can tell which specs older hosts read differently.
    """
    state = _DiskParse(SpecContext("disk", text, location))
    for token in disk_tokens(text, xen417):
        state.apply(token)
    return state.finish()


def format_disk(spec: DiskSpec) -> str:
    """The canonical ``key=value`` text for ``spec``, target last.

    libxlu reads it back to an equal spec. Ignored xm prefixes are written
    in front (``phy:format=raw, ...``), which libxlu accepts, since there is
    no key for them. ValueError for a value libxlu's syntax cannot carry: a
    comma anywhere but in the target, a newline in the target.
    """
    items = [f"format={spec.format}", f"vdev={spec.vdev}",
             f"access={'rw' if spec.readwrite else 'ro'}"]
    if spec.is_cdrom:
        items.append("devtype=cdrom")
    items += _keyed((("backendtype", spec.backendtype), ("backend", spec.backend),
                     ("specification", spec.specification), ("script", spec.script)))
    if spec.direct_io_safe:
        items.append("direct-io-safe")
    for value, on, off in ((spec.discard, "discard", "no-discard"),
                           (spec.colo, "colo", "no-colo"),
                           (spec.trusted, "trusted", "untrusted")):
        if value is not None:
            items.append(on if value else off)
    if spec.grant_usage is not None:
        items.append(f"grant_usage={int(spec.grant_usage)}")
    items += _keyed((("colo-host", spec.colo_host), ("colo-port", spec.colo_port),
                     ("colo-export", spec.colo_export), ("active-disk", spec.active_disk),
                     ("hidden-disk", spec.hidden_disk)))
    for item in items:
        if "," in item:
            raise ValueError(f"a disk spec value cannot contain a comma: {item!r}")
    if spec.target is not None:
        if "\n" in spec.target:
            raise ValueError(f"disk target cannot contain a newline: {spec.target!r}")
        # target= eats the rest of the spec but drops one trailing comma.
        items.append(f"target={spec.target}" + ("," if spec.target.endswith(",") else ""))
    prefixes = "".join(f"{prefix}:" for prefix in spec.legacy_prefixes)
    return prefixes + ", ".join(items)


def _keyed(pairs: tuple[tuple[str, object], ...]) -> list[str]:
    return [f"{key}={value}" for key, value in pairs if value is not None]


# DiskSpec's fields before the scan; format stays None until finish().
_UNSET_DISK: dict[str, Any] = {
    field.name: None if field.default is MISSING else field.default
    for field in fields(DiskSpec)} | {"format": None}


class _DiskParse:
    """libxlu's parse context and the ``libxl_device_disk`` it fills in."""

    def __init__(self, ctx: SpecContext):
        self.ctx = ctx
        # The disk: DiskSpec's fields, with None for what libxlu has yet to
        # set (vdev, format); finish() applies libxlu's defaults.
        self.disk: dict[str, Any] = dict(_UNSET_DISK, legacy_prefixes=[])
        self.had_prefix = False
        self.access_set = False

    def apply(self, token: DiskToken) -> None:
        """Do what the flex action of ``token.rule`` does."""
        rule, text = token.rule, token.text
        value = _strip_comma(text.partition("=")[2])
        if rule in _STRING_RULES:
            self._save(_STRING_RULES[rule], rule, value)
        elif rule in _FLAG_RULES:
            name, flag = _FLAG_RULES[rule]
            self.disk[name] = flag
        elif rule in _ENUMS:
            self._set_enum(rule, value)
        elif rule == "access":
            self._set_access(value)
        elif rule == "grant_usage":
            self.disk["grant_usage"] = value == "1"
        elif rule == "colo-port":
            self._set_colo_port(value)
        elif rule == "devtype-bad":
            raise self.ctx.error("unknown value for devtype", value)
        elif rule == "unknown":
            item = self.ctx.text[token.start:].split(",")[0]
            raise self.ctx.error("unknown parameter", item)
        elif rule.startswith("prefix-"):
            self._prefix(rule, text)
        elif rule == "positional":
            self._positional(_strip_comma(text))
        elif rule == "bad":
            self._bad_syntax(token.start)

    def finish(self) -> DiskSpec:
        """libxlu's checks after the scan, then the spec."""
        disk = self.disk
        disk["format"] = disk["format"] or "raw"
        if disk["is_cdrom"]:
            disk["readwrite"] = False
            if not disk["target"]:
                disk["format"] = "empty"
        if disk["vdev"] is None:
            raise self.ctx.error("no vdev specified")
        if disk["target"] is None and not disk["is_cdrom"]:
            raise self.ctx.error("no target specified (and device not removable)")
        return DiskSpec(**{**disk, "legacy_prefixes": tuple(disk["legacy_prefixes"])})

    def _save(self, name: str, what: str, value: str) -> None:
        # libxlu overwrites an empty string silently but not a non-empty one.
        if self.disk[name]:
            raise self.ctx.error(f"{what} respecified", value)
        self.disk[name] = value

    def _set_enum(self, what: str, text: str) -> None:
        value = "raw" if what == "format" and text == "" else text
        if value not in _ENUMS[what]:
            raise self.ctx.error(f"unknown value for {what}", text)
        if self.disk[what] is not None and self.disk[what] != value:
            raise self.ctx.error(f"{what} respecified", text)
        self.disk[what] = value

    def _set_access(self, text: str) -> None:
        if text in ("r", "ro"):
            self.disk["readwrite"] = False
        elif text in ("rw", "w", ""):
            self.disk["readwrite"] = True
        else:
            raise self.ctx.error("unknown value for access", text)

    def _set_colo_port(self, text: str) -> None:
        port = _atoi(text)
        if not port:
            raise self.ctx.error("unknown value for colo-port", text)
        self.disk["colo_port"] = port

    def _prefix(self, rule: str, text: str) -> None:
        name = text[:-1]
        if rule == "prefix-unknown":
            raise self.ctx.error("unknown deprecated disk prefix", text)
        self.had_prefix = True
        if rule == "prefix-format":
            self._set_enum("format", name)
        elif rule == "prefix-script":
            self._save("script", "script", f"block-{name}")
        else:
            self.disk["legacy_prefixes"].append(name)

    def _bad_syntax(self, start: int) -> None:
        """libxlu's error state: it reports the rest of the line, if any.

        A bad last character is ignored: flex meets the end of input before
        the error rule runs. One before a newline makes flex itself abort
        the whole of xl ("flex scanner jammed").
        """
        rest = self.ctx.text[start:]
        if len(rest) == 1:
            return
        problem = "bad disk syntax near"
        if rest[1] == "\n":
            problem = "bad disk syntax (xl aborts: flex scanner jammed) near"
        raise self.ctx.error(problem, rest.split("\n")[0])

    def _positional(self, text: str) -> None:
        """Fill the next free slot of target, format, vdev, access."""
        disk = self.disk
        if disk["target"] is None:
            disk["target"] = text
        elif not self.had_prefix and disk["format"] is None:
            # xm's ",hdc:cdrom,r": an empty target, then vdev:devtype.
            if disk["target"] == "" and self._vdev_and_devtype(text):
                disk["format"] = "empty"
            else:
                self._set_enum("format", text)
        elif disk["vdev"] is None:
            if not self._vdev_and_devtype(text):
                disk["vdev"] = text
        elif not self.access_set:
            self.access_set = True
            self._set_access(text)
        else:
            raise self.ctx.error("too many positional parameters", text)

    def _vdev_and_devtype(self, text: str) -> bool:
        """Take xm's ``vdev:cdrom`` / ``vdev:disk``; False if no colon."""
        vdev, colon, devtype = text.rpartition(":")
        if not colon:
            return False
        self._save("vdev", "vdev", vdev)
        if devtype not in ("cdrom", "disk"):
            raise self.ctx.error("unknown deprecated type", devtype)
        self.disk["is_cdrom"] = devtype == "cdrom"
        return True


def _strip_comma(text: str) -> str:
    """libxlu's STRIP(','): drop one trailing comma."""
    return text[:-1] if text.endswith(",") else text


def _atoi(text: str) -> int:
    """C ``atoi``: optional blanks and sign, then leading digits, else 0."""
    match = _ATOI.match(text)
    return int(match.group(1)) if match else 0


def with_vdev(text: str, spec: DiskSpec, vdev: str) -> str:
    """``text`` (the spec ``spec`` was read from) naming ``vdev`` instead.

    Only the vdev item changes, so the admin's spelling of the rest stays;
    if that item cannot be found unambiguously, the canonical form of the
    renamed spec is returned instead. Either way the result parses to
    ``spec`` with the new vdev.
    """
    head, sep, tail = text.partition("target=")
    items = head.split(",")
    hits = [i for i, item in enumerate(items)
            if _names_vdev(item.strip(), spec.vdev)]
    candidate = None
    if len(hits) == 1:
        item = items[hits[0]]
        core = item.strip()
        items[hits[0]] = item.replace(core, core.replace(spec.vdev, vdev, 1), 1)
        candidate = ",".join(items) + sep + tail
    return _respelled(candidate, replace(spec, vdev=vdev))


def with_image(text: str, spec: DiskSpec, target: str, fmt: DiskFormat) -> str:
    """``text`` (the spec ``spec`` was read from) pointing at image file
    ``target`` in format ``fmt``: a converted disk replacing the source.

    A keyed ``target=`` (always last) and ``format=`` are rewritten in
    place; other spellings get the canonical form. Markers of a block
    device (``phy:``, ``backendtype=phy``) go, since the target is a file.
    """
    backendtype = None if spec.backendtype == "phy" else spec.backendtype
    wanted = replace(spec, target=target, format=fmt, legacy_prefixes=(),
                     backendtype=backendtype)
    head, sep, _ = text.partition("target=")
    candidate = None
    if sep and not spec.legacy_prefixes and backendtype == spec.backendtype:
        formats = re.findall(r"(?:^|,)\s*format=[a-z0-9]+", head)
        if len(formats) == 1:
            head = re.sub(r"format=[a-z0-9]+", f"format={fmt}", head, count=1)
        elif not formats:
            head = f"format={fmt}, {head.lstrip()}"
        candidate = head + sep + target + ("," if target.endswith(",") else "")
    return _respelled(candidate, wanted)


def _respelled(candidate: str | None, wanted: DiskSpec) -> str:
    """``candidate`` if libxlu reads it back as ``wanted``, else the canonical text."""
    if candidate is not None:
        try:
            if parse_disk(candidate) == wanted:
                return candidate
        except SpecError:
            pass
    return format_disk(wanted)


def _names_vdev(item: str, vdev: str) -> bool:
    """Whether a spec item names ``vdev`` (``xvda``, ``vdev=xvda``, ``xvda:cdrom``)."""
    return item in (vdev, f"vdev={vdev}", f"{vdev}:cdrom", f"{vdev}:disk")
