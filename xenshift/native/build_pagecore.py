"""cffi (API mode) builder for ``xenshift.native._pagecore``.

Run by setuptools through ``cffi_modules`` in setup.py; links libzstd.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from cffi import FFI

HERE = Path(__file__).resolve().parent
# setuptools wants source paths relative to the project root it runs in.
REL = Path(os.path.relpath(HERE))
sys.path.insert(0, str(HERE))
from cdef import declarations  # noqa: E402  (the builder runs as a script)

ffibuilder = FFI()
ffibuilder.cdef(declarations(HERE / "pagecore.h", HERE / "simdomain.h", HERE / "pvpage.h"))
ffibuilder.set_source(
    "xenshift.native._pagecore",
    '#include "pagecore.h"\n#include "simdomain.h"\n#include "pvpage.h"\n',
    sources=[str(REL / "pagecore.c"), str(REL / "simdomain.c"), str(REL / "pvpage.c")],
    include_dirs=[str(REL)],
    libraries=["zstd"],
    extra_compile_args=["-std=c99", "-O2", "-Wall", "-Wextra"],
)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
