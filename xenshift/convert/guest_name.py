"""The guest's name, checked before a target domain or a file is named after it."""

from __future__ import annotations

from xenshift.config.model import DomainConfig
from xenshift.convert.retarget import ConversionError
from xenshift.errors import Location
from xenshift.limits import name_problem

# libvirt's virDomainDefParseXML refuses these in <name>.
_LIBVIRT_REFUSES = {"/": "a '/'", "\n": "a line break"}


def check_guest_name(config: DomainConfig, target: str) -> None:
    """Raise ConversionError when the ``target`` domain cannot take the name.

    Every output file is named after the guest, so the name length limit
    holds for every target; libvirt also refuses an empty name and a few
    characters, which xl accepts.
    """
    settings = config.document.settings
    where = settings.location("name") if "name" in settings \
        else Location(config.path)
    name = config.name or ""
    too_long = name_problem(name)
    if too_long is not None:
        raise ConversionError(too_long, where)
    if target != "kvm":
        return
    if not name:
        raise ConversionError("the guest has no name, and libvirt refuses a "
                              "domain without one: set name = \"...\"", where)
    for char, what in _LIBVIRT_REFUSES.items():
        if char in name:
            raise ConversionError(f"libvirt refuses a domain name with {what} "
                                  f"in it ({name!r}): rename the guest", where)
