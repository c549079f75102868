"""``config lint``: what xl would reject, ignore or misread in a config.

Errors are what makes xl refuse the file (syntax, invalid specs, values it
exits on). Warnings are what xl silently ignores or reads differently from
what the author meant: unknown and xm-only keys, deprecated spellings,
octal numbers, ``+=`` on numbers, values of the wrong shape, duplicate keys
(xl takes the last, libvirt's converter the first).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from xenshift.config import keys
from xenshift.config.document import Dialect, Document
from xenshift.config.domain import build_domain
from xenshift.config.model import DomainConfig, GuestType
from xenshift.config.numbers import is_octal_trap, number_problem, strtol0
from xenshift.config.syntax import ListValue, Op, Scalar, Value
from xenshift.errors import ConfigError, ConfigErrors, Location


class Severity(Enum):
    """How bad a finding is; only errors make ``lint`` exit non-zero."""

    ERROR = "error"
    WARNING = "warning"
    NOTE = "note"


@dataclass(frozen=True)
class Diagnostic:
    """One finding, printed as ``FILE:LINE:COL: severity: message``."""

    severity: Severity
    location: Location
    message: str
    code: str

    def __str__(self) -> str:
        return f"{self.location}: {self.severity.value}: {self.message}"

    def to_json(self) -> dict:
        """The finding as a JSON object."""
        return {"file": self.location.file, "line": self.location.line,
                "column": self.location.column,
                "severity": self.severity.value, "code": self.code,
                "message": self.message}


class _Linter:
    def __init__(self, doc: Document):
        self.doc = doc
        self.found: list[Diagnostic] = []

    def add(self, severity: Severity, location: Location, message: str,
            code: str) -> None:
        self.found.append(Diagnostic(severity, location, message, code))

    def at(self, line: int, column: int) -> Location:
        return Location(self.doc.path, line, column)

    def from_error(self, severity: Severity, err: ConfigError, code: str) -> None:
        self.add(severity, err.location or self.at(1, 1), err.message, code)

    # -- file level -------------------------------------------------------

    def dialect(self) -> None:
        doc = self.doc
        if doc.dialect is not Dialect.XM:
            return
        first = min(doc.pythonisms + doc.skipped,
                    key=lambda p: (p.line, p.column))
        self.add(Severity.ERROR, self.at(first.line, first.column),
                 "xl cannot read this file: it is a legacy xm (Python) "
                 "config; `xenshift config show` reads it, and the Python "
                 "below needs rewriting for xl", "xm-config")
        for ism in doc.pythonisms:
            self.add(Severity.WARNING, self.at(ism.line, ism.column),
                     ism.message, "python")
        for ism in doc.skipped:
            self.add(Severity.WARNING, self.at(ism.line, ism.column),
                     ism.message, "python-skipped")

    # -- values -----------------------------------------------------------

    def numbers(self) -> None:
        for stmt in self.doc.statements:
            for scalar in _scalars(stmt.value):
                if not scalar.is_number:
                    continue
                where = self.at(scalar.line, scalar.column)
                problem = number_problem(scalar.text)
                if problem is not None and self.doc.dialect is Dialect.XL:
                    self.add(Severity.WARNING, where,
                             f"{stmt.key}: {problem}; xl ignores the value "
                             "where it needs a number", "bad-number")
                elif is_octal_trap(scalar.text) and scalar.text.strip("0"):
                    self.add(Severity.WARNING, where,
                             f"{stmt.key} = {scalar.text} is octal to xl: it "
                             f"means {strtol0(scalar.text)}; write "
                             f"{scalar.text.lstrip('0')} for decimal", "octal")

    def settings(self) -> None:
        for setting in self.doc.settings:
            stmt = setting.statement
            where = self.at(stmt.line, stmt.column)
            info = keys.lookup(setting.key)
            dups = setting.duplicates
            if dups:
                lines = ", ".join(str(d.line) for d in dups)
                self.add(Severity.WARNING, where,
                         f"{setting.key} is also set on line(s) {lines}; xl "
                         f"uses this last one (libvirt's converter would use "
                         "the first)", "duplicate")
            if setting.op is Op.APPEND and len(setting.history) == 1:
                self.add(Severity.NOTE, where,
                         f"'{setting.key} +=' with no earlier value acts as "
                         "'='", "append-unset")
            self.key(setting.key, where, info)
            if info is not None:
                self.shape(setting.key, setting.value, setting.op, where, info)

    def key(self, name: str, where: Location, info: keys.KeyInfo | None) -> None:
        if info is None:
            xm_only = keys.XM_ONLY_KEYS.get(name)
            if xm_only is not None:
                instead = (f"; use {xm_only.xl_equivalent}"
                           if xm_only.xl_equivalent else "")
                self.add(Severity.WARNING, where,
                         f"{name} is an xm/xend key that xl ignores: "
                         f"{xm_only.note}{instead}", "xm-key")
                return
            hint = keys.suggest(name)
            self.add(Severity.WARNING, where,
                     f"unknown key {name!r}: xl ignores it silently"
                     + (f"; did you mean {hint!r}?" if hint else ""),
                     "unknown-key")
            return
        if info.deprecated:
            why = info.deprecated
            message = (f"{name} is {why}" if why.startswith("deprecated")
                       else f"{name} is deprecated: {why}")
            if info.replacement and info.replacement not in why:
                message += f"; use {info.replacement}"
            self.add(Severity.WARNING, where, message, "deprecated")

    def shape(self, name: str, value: Value, op: Op, where: Location,
              info: keys.KeyInfo) -> None:
        kind = info.kind
        if isinstance(value, ListValue) and not kind.list_ok:
            self.add(Severity.WARNING, where,
                     f"{name} must be a single value, not a list; xl ignores "
                     "it", "shape")
        elif isinstance(value, Scalar) and not kind.scalar_ok:
            self.add(Severity.WARNING, where,
                     f"{name} must be a list [ ... ], not a single value; xl "
                     "ignores it", "shape")
        elif isinstance(value, Scalar) and kind in (keys.ValueKind.NUMBER,
                                                    keys.ValueKind.BOOL):
            if op is Op.APPEND:
                self.add(Severity.WARNING, where,
                         f"'{name} +=' on a number: xl refuses += for "
                         f"numbers and ignores {name}", "append-number")
            elif value.text in ("True", "False", "yes", "no", "true",
                                "false"):
                self.add(Severity.WARNING, where,
                         f"{name} = {value.text!r} is not an xl boolean: "
                         "write 1 or 0", "python")
            elif strtol0(value.text) is None and not value.is_number:
                self.add(Severity.WARNING, where,
                         f"{name} = {value.text!r} is not a number; xl "
                         "ignores it", "bad-number")
        if isinstance(value, Scalar) and info.deprecated_form is not None \
                and _has_form(value, info.deprecated_form):
            self.add(Severity.WARNING, where,
                     f"{name} as {info.deprecated_form_note}", "deprecated")
        # type= and builder= are prefix-matched by xl; the model checks them.
        if isinstance(value, Scalar) and info.values and \
                name not in ("type", "builder") and \
                value.text not in info.values and not value.is_number:
            self.add(Severity.ERROR, where,
                     f"{name} = {value.text!r} is not one of "
                     + ", ".join(sorted(info.values)), "bad-value")

    # -- model ------------------------------------------------------------

    def model(self) -> DomainConfig | None:
        try:
            config = build_domain(self.doc)
        except ConfigErrors as errs:
            for err in errs.errors:
                self.from_error(Severity.ERROR, err, "invalid")
            return None
        said = {d.location for d in self.found}
        for warning in config.warnings:
            # The value checks may already have flagged the same statement.
            if warning.location not in said:
                self.from_error(Severity.WARNING, warning, "xl-warning")
        return config

    def _items(self, key: str) -> list[Scalar]:
        # build_domain succeeded, so the list and its items are well formed
        # and in the same order as the parsed specs.
        return self.doc.settings.get_string_list(key) or []

    def devices(self, config: DomainConfig) -> None:
        seen: dict[int, str] = {}
        for disk, item in zip(config.disks, self._items("disk")):
            vdev = disk.vdev_info
            if vdev is None:
                continue
            other = seen.get(vdev.number)
            if other is not None:
                self.add(Severity.ERROR, self.at(item.line, item.column),
                         f"two disks on one virtual device: {disk.vdev} and "
                         f"{other}", "duplicate-vdev")
            seen[vdev.number] = disk.vdev
        for vif, item in zip(config.vifs, self._items("vif")):
            for unknown in vif.unknown:
                what = ("invalid value for type" if unknown == vif.ignored_type
                        else "unrecognized argument")
                self.add(Severity.WARNING, self.at(item.line, item.column),
                         f"vif spec '{item.text}': {what} {unknown!r} "
                         "(xl prints a warning and ignores it)", "vif-key")

    def vnuma(self, config: DomainConfig) -> None:
        # xl sums the nodes' sizes and vcpus and then insists that maxmem=
        # and maxvcpus=, when given, say exactly the same (xl_parse.c).
        settings = self.doc.settings
        size = sum(node.size_mib or 0 for node in config.vnuma)
        vcpus = sum(len(node.vcpus or ()) for node in config.vnuma)
        if config.maxmem is not None and config.maxmem != size:
            self.add(Severity.ERROR, settings.location("maxmem"),
                     f"maxmem ({config.maxmem}) is not the vnuma nodes' total size "
                     f"({size}); xl refuses the file (\"maxmem and vnuma memory size "
                     "mismatch\")", "vnuma")
        if config.maxvcpus is not None and config.maxvcpus != vcpus:
            self.add(Severity.ERROR, settings.location("maxvcpus"),
                     f"maxvcpus ({config.maxvcpus}) is not the number of vnuma vcpus "
                     f"({vcpus}); xl refuses the file (\"vnuma vcpus and maxvcpus= "
                     "mismatch\")", "vnuma")

    def sizes(self, config: DomainConfig) -> None:
        settings = self.doc.settings
        if config.vcpus is not None and config.maxvcpus is not None \
                and config.maxvcpus < config.vcpus:
            self.add(Severity.ERROR, settings.location("maxvcpus"),
                     f"maxvcpus ({config.maxvcpus}) is below vcpus "
                     f"({config.vcpus}); xl refuses the file", "vcpus")
        if config.memory is not None and config.maxmem is not None \
                and config.maxmem < config.memory:
            self.add(Severity.WARNING, settings.location("maxmem"),
                     f"maxmem ({config.maxmem}) is below memory "
                     f"({config.memory})", "memory")
        if config.vnuma:
            self.vnuma(config)
        if config.guest_type is not GuestType.HVM:
            boot = config.boot
            if boot.kernel and boot.firmware:
                self.add(Severity.ERROR, settings.location("firmware"),
                         "both kernel= and firmware= are set; xl refuses "
                         "the file", "boot")
            if not (boot.kernel or boot.bootloader or boot.firmware):
                self.add(Severity.ERROR, self.at(1, 1),
                         f"a {config.guest_type.value.upper()} guest needs "
                         "kernel= or bootloader= (xl: \"Neither kernel nor "
                         "bootloader specified\")", "boot")


def _has_form(value: Scalar, form: keys.ValueKind) -> bool:
    """Whether a scalar is written in the shape ``form`` names."""
    is_number = strtol0(value.text) is not None
    if form is keys.ValueKind.NUMBER:
        return is_number
    return not is_number


def _scalars(value: Value):
    # Depth first with a stack of our own: lists may nest thousands deep.
    pending = [value]
    while pending:
        node = pending.pop()
        if isinstance(node, Scalar):
            yield node
        else:
            pending.extend(reversed(node.items))


def lint(doc: Document) -> list[Diagnostic]:
    """Every finding for one document, sorted by position."""
    linter = _Linter(doc)
    for err in doc.errors:
        linter.from_error(Severity.ERROR, err, "syntax")
    for quirk in doc.ignored:
        linter.from_error(Severity.WARNING, quirk, "ignored")
    linter.dialect()
    if doc.ok:
        linter.numbers()
        linter.settings()
        config = linter.model()
        if config is not None:
            linter.devices(config)
            linter.sizes(config)
    return sorted(linter.found, key=lambda d: (d.location.line or 0,
                                               d.location.column or 0))
