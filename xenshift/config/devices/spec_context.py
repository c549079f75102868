"""The spec being parsed, so that every error can name it and where it is."""

from __future__ import annotations

from dataclasses import dataclass

from xenshift.errors import Location, SpecError, excerpt

# Longer specs and items are cut short in messages (real ones are shorter).
_QUOTED = 200


@dataclass(frozen=True)
class SpecContext:
    """One device spec string under parse: its kind, text and location."""

    kind: str
    text: str
    location: Location | None = None

    def error(self, problem: str, item: str | None = None) -> SpecError:
        """A SpecError naming the spec kind, the whole spec and the item.

        The message reads ``disk spec 'phy:/dev/sda,xvda,w,foo': too many
        positional parameters 'foo'``; ``item`` is left out only for
        problems with no single culprit, such as a missing vdev.
        """
        message = f"{self.kind} spec '{excerpt(self.text, _QUOTED)}': {problem}"
        if item is not None:
            message += f" '{excerpt(item, _QUOTED)}'"
        return SpecError(message, self.location, spec=self.kind, item=item)
