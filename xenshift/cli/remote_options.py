"""The options of the commands that read a guest from its Xen host: ``-ic``, ``-ip``, ssh's."""

from __future__ import annotations

import functools
from typing import Callable, TypeVar

import click

from xenshift.remote.session import RemoteSource
from xenshift.sshhost import HOST_KEY_CHECKING, SshOptions, SshTarget

F = TypeVar("F", bound=Callable)

_OPTIONS = (
    click.option("-ic", "input_conn", metavar="ssh://[USER@]HOST[:PORT]",
                 help="Read GUEST from this Xen host: GUEST is a domain name there "
                      "(its config from xl list -l, or /etc/xen/NAME.cfg) or a config "
                      "path there. Its disks are read over ssh; nothing is written there."),
    click.option("-ip", "password_file", type=click.Path(dir_okay=False),
                 help="With -ic: a file holding the ssh password (first line)."),
    click.option("--ssh-identity", type=click.Path(dir_okay=False),
                 help="With -ic: the ssh private key to log in with (default: ssh's)."),
    click.option("--ssh-known-hosts", type=click.Path(dir_okay=False),
                 help="With -ic: the known_hosts file (default: ssh's)."),
    click.option("--ssh-host-key-checking", type=click.Choice(HOST_KEY_CHECKING),
                 default="yes", show_default=True,
                 help="With -ic: accept-new records the key of a host not yet in "
                      "known_hosts (as ssh's StrictHostKeyChecking); a changed key is "
                      "always refused."),
)


def remote_options(func: F) -> F:
    """Add the remote-input options; the command receives ``remote`` (None: local)."""

    @functools.wraps(func)
    def wrapper(*args, input_conn: str | None, password_file: str | None,
                ssh_identity: str | None, ssh_known_hosts: str | None,
                ssh_host_key_checking: str, **kwargs):
        remote = None
        if input_conn is not None:
            SshTarget.parse(input_conn)
            remote = RemoteSource(input_conn, SshOptions(
                ssh_identity, ssh_known_hosts, password_file, ssh_host_key_checking))
        kwargs["remote"] = remote
        return func(*args, **kwargs)

    for option in reversed(_OPTIONS):
        wrapper = option(wrapper)
    return wrapper  # type: ignore[return-value]
