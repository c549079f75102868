"""grub-install's one retry in a fresh appliance (no appliance needed)."""

from __future__ import annotations

import pytest

from xenshift.convert.guest.plan import GrubInstall
from xenshift.inspect.errors import GuestUpdateError
from xenshift.inspect.rewrite import run_step

STEP = GrubInstall("bootloader", "xvda", "/usr/lib/grub/i386-pc", None, "/boot", "no MBR code")


class FakeHandle:
    def __init__(self, outputs: list[str]):
        self.outputs = outputs
        self.scripts: list[str] = []

    def debug(self, command: str, args: list[str]) -> str:
        assert command == "sh"
        self.scripts.append(args[0])
        return self.outputs.pop(0)


class FakeSession:
    def __init__(self, outputs: list[str]):
        self.handle = FakeHandle(outputs)
        self.launches = 1

    def appliance_device(self, device: str) -> str:
        assert device == "/dev/xvda"
        return "/dev/sda"

    def relaunch(self) -> None:
        self.launches += 1


FAILED = ("grub-install: error: unable to identify a filesystem in hostdisk//dev/sda; "
          "safety check can't be performed.\nxenshift-exit=1")


def test_success_needs_one_appliance() -> None:
    session = FakeSession(["Installation finished.\nxenshift-exit=0"])
    run_step(session, STEP, None)
    assert session.launches == 1
    assert session.handle.scripts[0].startswith(
        "grub-install --target=i386-pc --directory=/sysroot/usr/lib/grub/i386-pc "
        "--boot-directory=/sysroot/boot /dev/sda")


def test_a_failure_is_retried_once_in_a_fresh_appliance() -> None:
    session = FakeSession([FAILED, "Installation finished.\nxenshift-exit=0"])
    run_step(session, STEP, None)
    assert session.launches == 2
    assert len(session.handle.scripts) == 2


def test_a_second_failure_names_the_disk_and_grubs_reason() -> None:
    session = FakeSession([FAILED, FAILED])
    with pytest.raises(GuestUpdateError, match="unable to identify a filesystem") as err:
        run_step(session, STEP, None)
    assert "xvda" in str(err.value)
    assert session.launches == 2
