"""Reading the guest to convert: an xl/xm config or a Xen domain's libvirt XML.

Every input becomes a :class:`~xenshift.config.model.DomainConfig`; libvirt
XML is first written as the equivalent xl config, so one set of converters
serves all three inputs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path, PurePath

from xenshift.config.document import decode, parse_config, parse_xl
from xenshift.config.domain import build_domain
from xenshift.config.model import DomainConfig
from xenshift.convert.libvirt import xen_xml_to_xl
from xenshift.convert.libxl_json import libxl_json_to_xl
from xenshift.inputs import read_input


@dataclass
class Guest:
    """A guest read for conversion, with remarks about the reading itself."""

    config: DomainConfig
    notes: list[str] = field(default_factory=list)


def _is_xml(path: PurePath, data: bytes) -> bool:
    return path.suffix.lower() == ".xml" or data.lstrip().startswith(b"<")


def load_guest(path: str | Path) -> Guest:
    """Read ``path`` as an xl/xm config or libvirt XML; raise on any error."""
    p = Path(path)
    return guest_from_bytes(read_input(p), p)


def guest_from_bytes(data: bytes, p: PurePath) -> Guest:
    """The guest in ``data``, the content of file ``p``; raise on any error."""
    if _is_xml(p, data):
        text, notes = xen_xml_to_xl(decode(data), str(p))
        return Guest(build_domain(parse_xl(text, str(p)).check()),
                     [f"read from libvirt XML: {n}" for n in notes])
    return Guest(build_domain(parse_config(decode(data), str(p)).check()))


def guest_from_libxl_json(data: bytes, source: str) -> Guest:
    """The guest in libxl's domain record ``data`` (``xl list -l NAME``)."""
    text, notes = libxl_json_to_xl(decode(data), source)
    return Guest(build_domain(parse_xl(text, source).check()),
                 [f"read from libxl's domain record: {n}" for n in notes])
