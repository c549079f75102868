"""Build hook for the native modules; everything else is in pyproject.toml.

``pip install -e .`` runs the cffi builders listed here.  The Xen binding
needs Debian's libxen-dev headers; without them it is left out and the xen
backend reports that it is unavailable.
"""

from pathlib import Path

from setuptools import setup

CFFI_MODULES = ["xenshift/native/build_pagecore.py:ffibuilder"]
if Path("/usr/include/xenctrl.h").exists():
    CFFI_MODULES.append("xenshift/native/build_xenctrl.py:ffibuilder")

setup(cffi_modules=CFFI_MODULES)
