"""The check every device test makes of a SpecError."""

from __future__ import annotations

from typing import Any, Callable

import pytest

from xenshift.errors import Location, SpecError


def assert_spec_error(parse: Callable[..., Any], given: Any, kind: str, problem: str,
                      item: str | None, text: str | None = None) -> None:
    """``parse(given, location)`` fails naming the spec and the item.

    The message must read ``KIND spec 'TEXT': PROBLEM 'ITEM'`` (TEXT is
    ``given`` unless said otherwise) and the error must carry the kind, the
    item and the location it was given.
    """
    where = Location("guest.cfg", 4, 7)
    with pytest.raises(SpecError) as caught:
        parse(given, where)
    error = caught.value
    expected = f"{kind} spec '{given if text is None else text}': {problem}"
    if item is not None:
        expected += f" '{item}'"
    assert error.message == expected
    assert (error.spec, error.item, error.location) == (kind, item, where)
    assert str(error) == f"guest.cfg:4:7: {expected}"
