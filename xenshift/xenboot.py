"""Boot a converted guest on a real Xen host over ssh (``--boot-on``).

Where ``bootcheck`` boots the result under plain QEMU, this check boots it
where it will live: ``xl create`` of the converted config on the Xen host,
under a name of its own so it never meets the guest it was converted from,
then its console (an HVM guest's serial port, a PVH guest's PV console)
read through ``xl console`` until userspace shows, as the QEMU check reads
ttyS0.  The host must see the converted images at the paths they have here
(shared storage, or the host itself): nothing is copied, and a path the
host cannot read is named before anything starts.  The domain and its
config file are removed when the check ends, whatever the outcome.
"""

from __future__ import annotations

import shlex
import subprocess

from xenshift.bootcheck import BootCheckError, BootResult, run_boot
from xenshift.sshhost import SshTarget

BOOT_SUFFIX = "--xenshift-boot"
SSH_TIMEOUT = 120
# What the boot domain gets besides its converted config: no restart (a
# crash ends the check), no display, and for HVM a serial port xl console
# can attach to.
_OVERRIDES = {"on_reboot": "destroy", "on_crash": "destroy", "on_poweroff": "destroy"}
_HVM_OVERRIDES = {"serial": "pty", "vnc": "0", "sdl": "0"}


def _ssh(target: SshTarget, ssh_command: str, remote: str,
         input: bytes | None = None) -> subprocess.CompletedProcess:
    try:
        proc = subprocess.run(target.argv(ssh_command, remote), input=input,
                              capture_output=True, timeout=SSH_TIMEOUT,
                              stdin=None if input is not None else subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise BootCheckError(f"{target}: {err}") from None
    if proc.returncode == 255:
        raise BootCheckError(f"{target}: ssh failed: "
                             f"{proc.stderr.decode(errors='replace').strip()}")
    return proc


def _assign(key: str, value: str) -> str:
    return shlex.quote(f'{key}="{value}"')


def xen_boot_check(target: SshTarget, ssh_command: str, config: bytes, name: str,
                   guest_type: str, images: list[str], timeout: float) -> BootResult:
    """Boot ``config`` (an xl config whose disks are ``images``) on the
    Xen host as ``guest_type`` and wait for userspace on its console."""
    if guest_type not in ("hvm", "pvh"):
        raise BootCheckError(f"--boot-on boots Xen guests (hvm, pvh), not {guest_type}")
    paths = " ".join(shlex.quote(p) for p in images)
    missing = _ssh(target, ssh_command, f"for f in {paths}; do test -r \"$f\" || echo \"$f\"; "
                                        "done").stdout.decode(errors="replace").split()
    if missing:
        raise BootCheckError(
            f"the Xen host {target} cannot read {', '.join(missing)}: --boot-on needs the "
            "output directory at the same path there (shared storage, or convert on that "
            "host)")
    made = _ssh(target, ssh_command, 'f=$(mktemp /tmp/xenshift-boot-XXXXXX.cfg) && '
                                     'cat > "$f" && echo "$f"', input=config)
    if made.returncode:
        raise BootCheckError(f"{target}: cannot write the boot config: "
                             f"{made.stderr.decode(errors='replace').strip()}")
    remote_config = made.stdout.decode().strip()
    domain = f"{name}{BOOT_SUFFIX}"
    overrides = {"name": domain, **_OVERRIDES, **(_HVM_OVERRIDES if guest_type == "hvm" else {})}
    console = "serial" if guest_type == "hvm" else "pv"
    create = " ".join(["xl", "create", shlex.quote(remote_config),
                       *(_assign(k, v) for k, v in overrides.items())])
    remote = f"{create} && exec xl console -t {console} {shlex.quote(domain)}"
    try:
        return run_boot(target.argv(ssh_command, remote, tty=True), timeout)
    finally:
        # Best effort: a failure here must not hide the boot's own outcome.
        subprocess.run(target.argv(ssh_command, f"xl destroy {shlex.quote(domain)}; "
                                                f"rm -f {shlex.quote(remote_config)}"),
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=SSH_TIMEOUT,
                       check=False)
