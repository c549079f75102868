"""Why a guest is not converted: it needs its admin first."""

from __future__ import annotations

from xenshift.errors import InputError, Location


class GuestRefusedError(InputError):
    """A guest that cannot boot on the target until its admin acts.

    ``reasons`` are the readiness verdict's blocking findings (each says
    what to do, e.g. which kernel package to install).
    """

    def __init__(self, target: str, reasons: list[str], sources: tuple[str, ...]):
        self.target = target
        self.reasons = list(reasons)
        message = (f"cannot convert this guest to {target}: " + "; ".join(reasons))
        super().__init__(message, Location(", ".join(sources)) if sources else None)
