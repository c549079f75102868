"""Xen's own parsers (Debian's libxlutil), called from Python to test ours against."""
