"""Reading input files with errors that name the file and say what is wrong."""

from __future__ import annotations

import os
from pathlib import Path

from xenshift.errors import InputError


def read_input(path: str | os.PathLike, what: str = "file") -> bytes:
    """The bytes of ``path``; InputError naming it if it cannot be read.

    ``what`` names the kind of input in the message ("job file", ...).
    """
    p = Path(path)
    try:
        return p.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{p}: no such {what}") from None
    except IsADirectoryError:
        raise InputError(f"{p}: is a directory, not a {what}") from None
    except OSError as err:
        raise InputError(f"{p}: cannot read: {err.strerror}") from None
