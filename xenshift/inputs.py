"""Reading input files with errors that name the file and say what is wrong."""

from __future__ import annotations

import os
from pathlib import Path

from xenshift.errors import InputError, Location
from xenshift.limits import MAX_INPUT_BYTES, check_input_size


def read_input(path: str | os.PathLike, what: str = "file") -> bytes:
    """The bytes of ``path``; InputError naming it if it cannot be read.

    ``what`` names the kind of input in the message ("job file", ...).
    An input larger than the input size limit is refused unread.
    """
    p = Path(path)
    try:
        # Read one byte more than the limit: a pipe or a device has no size
        # to check beforehand.
        with p.open("rb") as f:
            data = f.read(MAX_INPUT_BYTES + 1)
    except FileNotFoundError:
        raise InputError(f"{p}: no such {what}") from None
    except IsADirectoryError:
        raise InputError(f"{p}: is a directory, not a {what}") from None
    except OSError as err:
        raise InputError(f"{p}: cannot read: {err.strerror}") from None
    check_input_size(len(data), Location(str(p)))
    return data
