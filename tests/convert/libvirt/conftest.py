"""Fixtures for the libvirt tests: the corpus as KVM XML, and a real libvirtd.

The suite starts ``libvirtd -d`` itself when its socket is missing (as
root, Debian's libvirt-daemon-system) and waits a bounded time for it.
Domains are only defined and undefined, never started: guests hang under
this machine's KVM.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from xenshift.config.document import load_config, parse_config
from xenshift.config.domain import build_domain
from xenshift.config.model import DomainConfig
from xenshift.convert.libvirt import xen_xml_to_xl

ROOT = Path(__file__).resolve().parents[3]
CONFIGS = ROOT / "fixtures" / "configs"
XEN_XML = ROOT / "fixtures" / "libvirt-xen"
CORPUS = sorted(CONFIGS.glob("*.cfg")) + sorted((CONFIGS / "xm").glob("*.cfg"))
XEN_XML_FILES = sorted(XEN_XML.glob("*.xml"))
SOCKET = Path("/run/libvirt/libvirt-sock")
URI = "qemu:///system"
START_TIMEOUT_S = 30


def corpus_config(path: Path) -> DomainConfig:
    """The domain of one corpus file (xl, xm or libvirt Xen XML)."""
    if path.suffix == ".xml":
        text, _ = xen_xml_to_xl(path.read_text(), str(path))
        return build_domain(parse_config(text, str(path)))
    return build_domain(load_config(path))


def config_from_text(text: str) -> DomainConfig:
    """The domain of an xl config given inline."""
    return build_domain(parse_config(text, "test.cfg"))


@pytest.fixture(scope="session")
def libvirtd() -> str:
    """A running libvirtd's QEMU URI; started here if need be."""
    if shutil.which("libvirtd") is None or shutil.which("virsh") is None:
        pytest.fail("libvirtd/virsh missing: run scripts/install-debian-deps")
    if os.geteuid() != 0:
        pytest.skip("defining domains in qemu:///system needs root")
    if not _answers():
        subprocess.run(["libvirtd", "-d"], check=True, timeout=START_TIMEOUT_S)
        deadline = time.monotonic() + START_TIMEOUT_S
        while not _answers():
            if time.monotonic() > deadline:
                pytest.fail(f"libvirtd did not answer within {START_TIMEOUT_S} s")
            time.sleep(0.2)
    return URI


def _answers() -> bool:
    if not SOCKET.exists():
        return False
    done = subprocess.run(["virsh", "-c", URI, "version"], capture_output=True,
                          timeout=START_TIMEOUT_S)
    return done.returncode == 0


def virsh(*args: str) -> subprocess.CompletedProcess:
    """``virsh -c qemu:///system ARGS``, output captured."""
    return subprocess.run(["virsh", "-c", URI, *args], capture_output=True,
                          text=True, timeout=60)


def unique_name(base: str) -> str:
    """A domain name no other test run uses."""
    return f"xstest-{base[:40]}-{uuid.uuid4().hex[:8]}"
