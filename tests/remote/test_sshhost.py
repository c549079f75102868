"""ssh:// URLs, ssh's failures told apart, and a password kept off command lines."""

from __future__ import annotations

import subprocess

import pytest

from xenshift.errors import InputError
from xenshift.sshhost import (AuthenticationError, HostKeyError, HostUnreachableError,
                              RemoteError, SshHost, SshOptions, SshTarget, ssh_failure)


@pytest.mark.parametrize("url, parsed", [
    ("ssh://xen1", SshTarget("xen1")),
    ("ssh://root@xen1.example.com:2222", SshTarget("xen1.example.com", "root", 2222)),
    ("ssh://admin@198.18.0.2/", SshTarget("198.18.0.2", "admin")),
])
def test_urls(url, parsed):
    assert SshTarget.parse(url) == parsed
    assert SshTarget.parse(str(parsed)) == parsed


@pytest.mark.parametrize("url", ["xen1", "ssh://", "ssh://a@b@c", "ssh://h:0", "ssh://h:70000",
                                 "http://h", "ssh://h/etc/xen"])
def test_bad_urls_name_the_option(url):
    with pytest.raises(InputError, match="^-ic "):
        SshTarget.parse(url)


TARGET = SshTarget("xen1", "root")


@pytest.mark.parametrize("stderr, kind, words", [
    ("No ED25519 host key is known for xen1 and you have requested strict checking.\n"
     "Host key verification failed.\n", HostKeyError, "not in known_hosts"),
    ("@@@@@\n@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\n"
     "Host key verification failed.\n", HostKeyError, "not the one known_hosts holds"),
    ("root@xen1: Permission denied (publickey).\n", AuthenticationError,
     "authentication failed"),
    ("ssh: connect to host xen1 port 22: Connection refused\n", HostUnreachableError,
     "cannot reach"),
    ("ssh: Could not resolve hostname xen1: Name or service not known\n",
     HostUnreachableError, "cannot reach"),
    ("something else\n", RemoteError, "ssh failed: something else"),
])
def test_ssh_failures_are_told_apart(stderr, kind, words):
    err = ssh_failure(TARGET, stderr)
    assert type(err) is kind and words in str(err) and str(err).startswith("root@xen1: ")


def test_password_reaches_ssh_through_askpass_only(tmp_path):
    secret = "s3cr3t-passw0rd"
    password = tmp_path / "password"
    password.write_text(secret + "\nsecond line\n")
    with SshHost(TARGET, SshOptions(password_file=str(password))) as host:
        argv = host.command("xl", "list")
        env = host.env()
        assert not any(secret in a for a in argv)
        assert "BatchMode=no" in argv and env["SSH_ASKPASS_REQUIRE"] == "force"
        helper = env["SSH_ASKPASS"]
        assert secret not in open(helper).read()
        assert subprocess.run([helper], capture_output=True, text=True).stdout == secret + "\n"
    with pytest.raises(FileNotFoundError):
        open(helper)


def test_strict_checking_and_batch_mode_by_default(tmp_path):
    host = SshHost(SshTarget("xen1", port=2222), SshOptions(known_hosts=str(tmp_path)))
    argv = host.ssh_argv()
    assert "StrictHostKeyChecking=yes" in argv and "BatchMode=yes" in argv
    assert argv[-2:] == ["--", "xen1"] and ["-p", "2222"] == argv[-4:-2]


def test_unreadable_option_files_are_named(tmp_path):
    with pytest.raises(InputError, match=r"^-ip .*/nope: no such readable file"):
        SshHost(TARGET, SshOptions(password_file=str(tmp_path / "nope")))
