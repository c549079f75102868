"""Fixtures for the conversion tests."""

from tests.config.devices.conftest import libxlu  # noqa: F401  (Xen's parsers)
