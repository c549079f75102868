"""Xen's disk-spec parser (``xlu_disk_parse``) as a Python function."""

from __future__ import annotations

from typing import Any

from tests.oracles.libxlu_build import Libxlu, OracleResult


def xlu_parse_disk(libxlu: Libxlu, spec: str) -> OracleResult:
    """Parse one disk spec with libxlu, as xl does for each ``disk=`` item."""
    ffi, lib = libxlu.ffi, libxlu.lib
    keep = ffi.new("char[]", spec.encode(errors="surrogateescape"))
    specs = ffi.new("const char *[1]", [keep])
    return libxlu.parse("disk", lambda cfg, disk: lib.xlu_disk_parse(cfg, 1, specs, disk),
                        lambda disk: _disk_fields(libxlu, disk))


def _disk_fields(libxlu: Libxlu, disk: Any) -> dict[str, Any]:
    lib = libxlu.lib
    return {
        "target": libxlu.text(disk.pdev_path),
        "vdev": libxlu.text(disk.vdev),
        "format": libxlu.text(lib.libxl_disk_format_to_string(disk.format)),
        "readwrite": bool(disk.readwrite),
        "is_cdrom": bool(disk.is_cdrom),
        "removable": bool(disk.removable),
        "script": libxlu.text(disk.script),
        "backend_domain": libxlu.text(disk.backend_domname),
        "backendtype": _enum_name(libxlu, lib.libxl_disk_backend_to_string(disk.backend)),
        "specification": _enum_name(
            libxlu, lib.libxl_disk_specification_to_string(disk.specification)),
        "direct_io_safe": bool(disk.direct_io_safe),
        "discard": libxlu.defbool(disk.discard_enable),
        "colo": libxlu.defbool(disk.colo_enable),
        "colo_host": libxlu.text(disk.colo_host),
        "colo_port": disk.colo_port or None,
        "colo_export": libxlu.text(disk.colo_export),
        "active_disk": libxlu.text(disk.active_disk),
        "hidden_disk": libxlu.text(disk.hidden_disk),
        "trusted": libxlu.defbool(disk.trusted),
    }


def _enum_name(libxlu: Libxlu, pointer: Any) -> str | None:
    """libxl's enum name in lower case; None for its UNKNOWN value."""
    name = libxlu.text(pointer)
    return None if name in (None, "unknown") else name
