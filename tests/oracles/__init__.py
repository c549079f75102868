"""Xen's own parsers, called through cffi, to test ours against."""
