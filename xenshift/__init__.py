"""xenshift: move Xen guests out of PV mode, off Xen, or between Xen hosts."""

__version__ = "0.1.0"
