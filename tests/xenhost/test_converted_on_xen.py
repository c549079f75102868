"""The project's PV fixtures on a real Xen host: as they are, started with
pygrub or PV GRUB, to their login prompts; fixture (a) after ``xen2hvm`` as
an HVM and as a PVH domain, each booted to userspace by ``xen2hvm
--verify-boot --boot-on ssh://…`` (a login prompt, or systemd's
multi-user target: under TCG a PVH guest's udev may announce hvc0 after
systemd stopped waiting for its getty).

The conversions run here (libguestfs); their outputs go to the run's share,
which dom0 sees at the same path, so the Xen host reads the staged images
where they are.
"""

from __future__ import annotations

import shutil
import subprocess
import time

import pytest

from tests.convert.guest.test_convert_disks import command, converted, sha256, source_hashes  # noqa: F401
from fixtures.xenhost.counter import CPUID
from tests.xenhost.guests import console_text
from xenshift.bootcheck import USERSPACE

pytestmark = pytest.mark.slow
BOOT_TIMEOUT = 900
# An HVM guest boots GRUB from its emulated IDE disk: SeaBIOS reads the
# kernel and initrd by port I/O, each access a trip from the nested guest
# through Xen to the device model in dom0.  Measured on a quiet machine:
# GRUB's menu 37 s after xl create, the kernel and initrd loaded at about
# 180 s, a login prompt at 333 s; under load it took 14 minutes.
HVM_BOOT_TIMEOUT = 1800
LOGIN = "login: "


def boot_ssh(host) -> str:
    """``--boot-ssh``: the run's key and dom0's pinned host key."""
    return (f"ssh -i {host.rundir}/id_ed25519 -o UserKnownHostsFile={host.rundir}/known_hosts "
            "-o StrictHostKeyChecking=yes -o BatchMode=yes")


# Every Debian fixture a real PV guest: pygrub boots (a) and the families,
# Debian's PV GRUB the EC2 layout (i), and the stand-in for SUSE's PV GRUB
# in dom0 the btrfs guest (g) (fixtures/xenhost/dom0.py).  make test keeps
# (a): the families' builds and boots (about a minute and a half each on a
# quiet machine) are extended, like their conversions.
@pytest.mark.parametrize("shape", ["a", *(pytest.param(s, marks=pytest.mark.extended)
                                          for s in "defghi")])
def test_fixture_boots_as_a_pv_guest_on_xen(xen, pv_guest, shape, record_boot):
    record_boot(shape, "xen-pv")
    guest = pv_guest(shape)
    copy = xen.rundir / f"fixture-{shape}"
    copy.mkdir(exist_ok=True)
    text = guest.config.read_text()
    for vdev, path in guest.disks.items():
        # A sparse copy: the cache's images stay untouched.
        subprocess.run(["cp", "--sparse=always", str(path), str(copy / path.name)], check=True)
        text = text.replace(str(path), str(copy / path.name))
    config = copy / f"{shape}.cfg"
    config.write_text(text)
    xen.a.xl("create", str(config), timeout=300)
    deadline = time.monotonic() + BOOT_TIMEOUT
    while LOGIN not in console_text(xen.a, guest.name):
        assert time.monotonic() < deadline, console_text(xen.a, guest.name)[-3000:]
        assert guest.name in xen.a.domains(), console_text(xen.a, guest.name)[-3000:]
        time.sleep(5)
    xen.a.xl("destroy", guest.name)
    shutil.rmtree(copy)


# (a) to HVM and to PVH in make test; every family to PVH, extended with its
# build: pygrub boots them, the PVH GRUB beside Debian's PV GRUB the EC2
# layout (i), and the PVH stand-in beside SUSE's PV GRUB the btrfs guest (g).
@pytest.mark.parametrize("shape, target", [
    ("a", "hvm"), ("a", "pvh"),
    *(pytest.param(s, "pvh", marks=pytest.mark.extended) for s in "defghi")])
def test_xen2hvm_result_boots_on_xen(xen, pv_guest, source_hashes, shape,  # noqa: F811
                                     target, record_boot):
    record_boot(shape, f"xen-{target}")
    guest = pv_guest(shape)
    out = xen.rundir / f"{shape}-{target}"
    # The emulated hosts' own need (xen-test-host.md): HVM and PVH user
    # space takes #UD on VEX code under TCG, so the source says what an
    # admin of such hosts writes; xen2hvm carries cpuid over.
    config = xen.rundir / f"{shape}-{target}.cfg"
    config.write_text(guest.config.read_text() + f'cpuid = "{CPUID}"\n')
    port = xen.a.ssh_port
    timeout = HVM_BOOT_TIMEOUT if target == "hvm" else BOOT_TIMEOUT
    # Raw output: pygrub reads a qcow2 disk only through dom0's qdisk
    # backend, which these hosts do not run.
    result = converted(command(
        "xen2hvm", str(config), "--to", target, "-o", str(out), "-of", "raw", "--json",
        "--verify-boot", "--boot-timeout", str(timeout),
        "--boot-on", f"ssh://root@127.0.0.1:{port}", "--boot-ssh", boot_ssh(xen.a),
        timeout=timeout + 1200))
    evidence = result["boot"]["evidence"]
    assert USERSPACE.search(evidence), evidence
    assert {v: sha256(p) for v, p in guest.disks.items()} == source_hashes(shape)
    assert not [d for d in xen.a.domains() if "xenshift-boot" in d]
    shutil.rmtree(out)
