"""``xen-migrate``: live migration, save and restore, with xl's options.

Source:      xen-migrate [--live] DOMAIN HOST[:PORT] [options]
Destination: xen-migrate --receive --listen ADDR:PORT | --stdio
Save:        xen-migrate --save DOMAIN FILE
Restore:     xen-migrate --restore FILE
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import click

from xenshift.cli.errors import report_errors
from xenshift.migrate import extension, session
from xenshift.migrate.backend import BACKENDS, select_backend
from xenshift.migrate.errors import AuthenticationError, MigrationError, OptionError
from xenshift.migrate.policy import parse_policy
from xenshift.migrate.telemetry import Telemetry
from xenshift.migrate.transport import (
    IO_TIMEOUT, Listener, PipeConnection, TlsConfig, connect, parse_address, receiver_command,
    spawn_stdio)
from xenshift.migrate.units import parse_rate

DEFAULT_PORT = 8002


def _tls(cert: str | None, key: str | None, ca: str | None) -> TlsConfig | None:
    given = [x for x in (cert, key, ca) if x]
    if not given:
        return None
    if len(given) != 3:
        raise OptionError("mutual TLS needs all of --tls-cert, --tls-key and --tls-ca")
    return TlsConfig(Path(cert), Path(key), Path(ca))


def _telemetry(json_out: bool, stdio: bool = False) -> Telemetry:
    # Under --stdio, stdout is the migration channel: events go to stderr.
    stream = (sys.stderr if stdio else sys.stdout) if json_out else None
    return Telemetry(json_out=stream, bar=not json_out)


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("args", nargs=-1)
@click.option("--live", is_flag=True, help="Accepted for xl compatibility; migration is always live.")
@click.option("--policy", default="xen", show_default=True,
              help="When to stop pre-copy: xen, downtime=MS or max-iters=N.")
@click.option("--max-iters", type=int, help="Cap on live pre-copy rounds.")
@click.option("--bandwidth", help="Cap on the link, e.g. 100M/s or 1Gbit (lifted at switch-over).")
@click.option("--streams", type=int, default=1, show_default=True,
              help="Parallel TCP connections for page data (extension).")
@click.option("--compress", type=click.Choice(["zstd"]), help="Compress page data (extension).")
@click.option("--skip-zero-pages", is_flag=True, help="Send zero pages as pfns only (extension).")
@click.option("--debug", is_flag=True, help="Add Xen's VERIFY pass: all memory is sent twice and compared.")
@click.option("--verify", is_flag=True, help="Checksum memory and context on both sides; fail on a difference.")
@click.option("-p", "paused", is_flag=True, help="Leave the domain paused on the destination.")
@click.option("--save-stream", type=click.Path(dir_okay=False), help="Keep a copy of the xl stream as sent.")
@click.option("--json", "json_out", is_flag=True, help="Machine-readable events, one JSON object a line.")
@click.option("--backend", type=click.Choice(BACKENDS), default="auto", show_default=True)
@click.option("-s", "ssh_command", help="ssh command (xl's -s); '' runs HOST itself as the command.")
@click.option("--ssh", "use_ssh", is_flag=True, help="Use ssh stdio like xl (the default without TLS).")
@click.option("--tls-cert", type=click.Path(exists=True, dir_okay=False))
@click.option("--tls-key", type=click.Path(exists=True, dir_okay=False))
@click.option("--tls-ca", type=click.Path(exists=True, dir_okay=False))
@click.option("--insecure", is_flag=True, help="Plain TCP without TLS (trusted test links only).")
@click.option("--receive", is_flag=True, help="Run as the destination.")
@click.option("--listen", help="Destination: ADDR:PORT to listen on.")
@click.option("--stdio", is_flag=True, help="Destination: talk on stdin/stdout (under ssh).")
@click.option("--timeout", type=float, help="Destination: give up if no migration arrives in time.")
@click.option("--io-timeout", type=click.FloatRange(min=1.0), default=IO_TIMEOUT,
              show_default=True,
              help="Seconds the peer may stay silent mid-migration before the migration "
                   "is abandoned (the source's guest then runs on where it was).")
@click.option("--save", "save_mode", is_flag=True, help="Save DOMAIN to FILE, like xl save.")
@click.option("--restore", "restore_mode", is_flag=True, help="Restore a domain from FILE, like xl restore.")
@report_errors
def xen_migrate(args, live, policy, max_iters, bandwidth, streams, compress, skip_zero_pages,
                debug, verify, paused, save_stream, json_out, backend, ssh_command, use_ssh,
                tls_cert, tls_key, tls_ca, insecure, receive, listen, stdio, timeout,
                io_timeout, save_mode, restore_mode):
    """Migrate a domain live to HOST, or receive, save or restore one."""
    tls = _tls(tls_cert, tls_key, tls_ca)
    if sum(map(bool, (receive, save_mode, restore_mode))) > 1:
        raise OptionError("--receive, --save and --restore exclude each other")
    if receive:
        _receive(args, listen, stdio, tls, insecure, backend, paused, json_out, timeout,
                 io_timeout)
    elif save_mode:
        if len(args) != 2:
            raise OptionError("usage: xen-migrate --save DOMAIN FILE")
        tel = _telemetry(json_out)
        dom = select_backend(backend).open_source(args[0])
        tel.done(session.save(dom, Path(args[1]), tel, debug=debug))
    elif restore_mode:
        if len(args) != 1:
            raise OptionError("usage: xen-migrate --restore FILE")
        tel = _telemetry(json_out)
        tel.done(session.restore(Path(args[0]), select_backend(backend), paused))
    else:
        if len(args) != 2:
            raise OptionError("usage: xen-migrate [options] DOMAIN HOST[:PORT]")
        if not 1 <= streams <= extension.MAX_STREAMS:
            raise OptionError(f"--streams must be 1..{extension.MAX_STREAMS}")
        options = session.MigrateOptions(
            policy=parse_policy(policy, max_iters),
            bandwidth=parse_rate(bandwidth) if bandwidth else None, streams=streams,
            compress=compress, zero_pages=skip_zero_pages, debug=debug, verify=verify,
            paused=paused, save_stream=Path(save_stream) if save_stream else None)
        _send(args[0], args[1], options, tls, insecure, ssh_command, use_ssh, backend,
              json_out, io_timeout)


def _send(domain, host, options, tls, insecure, ssh_command, use_ssh, backend, json_out,
          io_timeout):
    tel = _telemetry(json_out)
    source = select_backend(backend).open_source(domain)
    if options.verify and not source.verifiable:
        raise OptionError(f"--verify cannot check {domain} on the destination: xl builds a PV "
                          "guest's copy without its p2m list until it runs (migrate it without "
                          "--verify; Xen's restore checks the stream's records itself)")
    if use_ssh or ssh_command is not None or (tls is None and not insecure):
        if options.streams > 1:
            raise OptionError("--streams needs TCP (--tls-* or --insecure), not ssh")
        remote = ["-p"] if options.paused else []
        command = receiver_command(host, ssh_command, remote)

        def open_control(limiter):
            return spawn_stdio(command, host, limiter, io_timeout)
        open_data = None
    else:
        addr, port = parse_address(host, DEFAULT_PORT)

        def open_control(limiter):
            return connect(addr, port, tls, limiter, io_timeout)
        open_data = open_control
    try:
        summary = session.migrate(source, open_control, open_data, options, tel)
    except Exception as err:
        tel.failed(err)
        raise
    tel.done(summary)


def _receive(args, listen, stdio, tls, insecure, backend, paused, json_out, timeout,
             io_timeout):
    if args:
        raise OptionError("--receive takes no DOMAIN or HOST")
    tel = _telemetry(json_out, stdio)
    dest_backend = select_backend(backend)
    if stdio:
        conn = PipeConnection(0, 1, "stdio", silence=io_timeout)
        dest_backend.expect_incoming()
        try:
            summary = session.receive(conn, dest_backend, None, paused)
        except Exception as err:
            tel.failed(err)
            raise
        finally:
            conn.close()
        tel.emit("received", **vars(summary))
        return
    if not listen:
        raise OptionError("--receive needs --listen ADDR:PORT or --stdio")
    if tls is None and not insecure:
        raise OptionError("a TCP receiver needs --tls-cert/--tls-key/--tls-ca "
                          "(or --insecure on a trusted test link)")
    addr, port = parse_address(listen, DEFAULT_PORT)
    listener = Listener(addr, port, tls, io_timeout)
    dest_backend.expect_incoming()
    try:
        summary = _serve(listener, dest_backend, paused, tel, timeout)
    finally:
        listener.close()
    tel.emit("received", **vars(summary))
    if not json_out:
        click.echo(f"received {summary.domain}: {summary.pages} pages in "
                   f"{summary.total_seconds:.2f} s (its state applied in "
                   f"{summary.restore_ms:.0f} ms after the stream's end)", err=True)


def _serve(listener, backend, paused, tel, timeout):
    """Accept until one authenticated peer has migrated a domain to us.

    Peers that fail TLS are refused and logged; the first authenticated
    migration decides the exit status.
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        try:
            conn = listener.accept(left)
        except AuthenticationError as err:
            click.echo(f"xen-migrate: {err}", err=True)
            tel.emit("refused", message=str(err))
            continue

        def accept_data(options):
            return _accept_data(listener, options, left)
        try:
            return session.receive(conn, backend, accept_data, paused)
        except Exception as err:
            tel.failed(err)
            raise
        finally:
            conn.close()


def _accept_data(listener, options, timeout):
    """The data connections of a multi-stream migration, in index order."""
    conns = {}
    while len(conns) < options.streams:
        conn = listener.accept(timeout or 30.0)
        try:
            conns[extension.read_data_hello(conn, options.token)] = conn
        except MigrationError as err:
            conn.close()
            click.echo(f"xen-migrate: refused a data connection: {err}", err=True)
    return [conns[i] for i in sorted(conns)]


def main() -> None:
    """Console-script entry point."""
    xen_migrate(prog_name=os.path.basename(sys.argv[0]) or "xen-migrate")
