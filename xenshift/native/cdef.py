"""Turning the project's C headers into cffi declarations.

The headers are the single source of the native API: this drops what cffi's
cdef cannot read (include guards, includes, macros that are not plain
integers) and keeps the declarations and integer ``#define``s.
"""

from __future__ import annotations

import re
from pathlib import Path

_INT_DEFINE = re.compile(r"^#define\s+\w+\s+(0x[0-9a-fA-F]+|\d+)\b")


def declarations(*headers: Path) -> str:
    """The cffi ``cdef`` text for the given headers, in order."""
    kept = []
    for header in headers:
        for line in header.read_text().splitlines():
            if line.startswith("#") and not _INT_DEFINE.match(line):
                continue
            kept.append(line)
    return "\n".join(kept)
