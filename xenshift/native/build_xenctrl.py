"""cffi (API mode) builder for ``xenshift.native._xenctrl``.

Compiled against Debian's libxen-dev 4.17 headers and linked with
libxenctrl, libxenguest (xc_domain_resume), libxenforeignmemory and
libxenstore (the suspend request); setup.py only lists it where
``/usr/include/xenctrl.h`` exists.
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
ffibuilder.cdef(declarations(HERE / "xenctrl_shim.h"))
ffibuilder.set_source(
    "xenshift.native._xenctrl",
    "#define __XEN_TOOLS__ 1\n#include <xenctrl.h>\n#include <xenforeignmemory.h>\n#include <xenguest.h>\n"
    '#include "xenctrl_shim.h"\n',
    sources=[str(REL / "xenctrl_shim.c")],
    include_dirs=[str(REL)],
    libraries=["xenctrl", "xenguest", "xenforeignmemory", "xenstore"],
    # Xen's public headers use anonymous unions, a GNU extension.
    extra_compile_args=["-std=gnu99", "-O2", "-Wall"],
)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
