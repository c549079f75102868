"""Backends behind one interface (``base``): ``xen`` for a dom0, ``sim`` for
simulated domains; ``select_backend`` picks one by name or, for ``auto``,
by whether this machine is a Xen host."""

from __future__ import annotations

from typing import TYPE_CHECKING

from xenshift.migrate.errors import OptionError

if TYPE_CHECKING:  # a simulated domain's process imports this package: keep it light
    from xenshift.migrate.backend.base import Backend

BACKENDS = ("auto", "xen", "sim")


def select_backend(name: str) -> Backend:
    """The backend called ``name``; ``auto`` is ``xen`` on a dom0, else ``sim``."""
    from xenshift.migrate.backend import sim, xen

    if name == "auto":
        return xen.XenBackend() if xen.is_xen_host() else sim.SimBackend()
    if name == "xen":
        return xen.XenBackend()
    if name == "sim":
        return sim.SimBackend()
    raise OptionError(f"unknown backend {name!r}: use one of {', '.join(BACKENDS)}")
