"""Whether a guest's converted config carries a secret (a console password)."""

from __future__ import annotations

from xenshift.config.model import DomainConfig

# HVM's own display keys that hold a password (PV ones live in vfb specs).
_PASSWORD_KEYS = ("vncpasswd", "spicepasswd")


def carries_secret(config: DomainConfig) -> bool:
    """True when ``config`` sets a VNC or SPICE password.

    Its converted config keeps the password, so the file is written for
    its owner only, as libvirt keeps its own domain XML.
    """
    return (any(vfb.vncpasswd for vfb in config.vfbs)
            or any(key in config.document.settings for key in _PASSWORD_KEYS))
