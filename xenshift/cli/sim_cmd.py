"""``xenshift sim``: simulated domains for tests, demos and capacity planning."""

from __future__ import annotations

import click

from xenshift.cli.errors import report_errors
from xenshift.migrate.backend.sim import SimBackend
from xenshift.migrate.backend.sim_files import PATTERNS, Workload
from xenshift.migrate.backend.sim_pool import PoolStatus
from xenshift.migrate.errors import OptionError
from xenshift.migrate.units import format_bytes, parse_percent, parse_rate, parse_size
from xenshift.native import PAGE_SIZE


def parse_pattern(text: str) -> tuple[str, float]:
    """``uniform``, ``sequential`` or ``hot:10%`` (hot set size)."""
    name, _, size = text.partition(":")
    if name not in PATTERNS or (name == "hot") != bool(size):
        raise OptionError(f"bad pattern {text!r}: use uniform, sequential or hot:PERCENT")
    return name, parse_percent(size) if size else 0.1


def parse_pages(text: str, option: str) -> int:
    """Pages in a size that must be a whole number of 4 KiB pages."""
    size = parse_size(text)
    if size % PAGE_SIZE:
        raise OptionError(f"{option} must be a multiple of 4 KiB")
    return size // PAGE_SIZE


@click.group("sim")
def sim_group() -> None:
    """Simulated domains under $XENSHIFT_STATE_DIR (default /run/xenshift).

    A simulated host may hold a memory pool ('sim pool --size 4G'): memory
    made resident ahead of time, like a Xen host's free heap.  'sim start'
    and incoming migrations take their domain's memory from it when it has
    room, else allocate fresh memory; a stopped or migrated-away domain's
    memory goes back to it, scrubbed.
    """


@sim_group.command("start")
@click.argument("name")
@click.option("--memory", default="256M", show_default=True, help="Guest memory, e.g. 1G.")
@click.option("--vcpus", type=int, default=1, show_default=True)
@click.option("--fill", type=click.Choice(["random", "zero", "mixed"]), default="random",
              show_default=True, help="Initial memory contents.")
@click.option("--dirty-rate", default="0", show_default=True, help="Bytes dirtied per second, e.g. 40M/s.")
@click.option("--pattern", default="uniform", show_default=True,
              help="uniform, sequential or hot:PERCENT (writes confined to a hot set).")
@click.option("--seed", type=int, help="Seed of the memory contents (default random).")
@report_errors
def sim_start(name, memory, vcpus, fill, dirty_rate, pattern, seed):
    """Create domain NAME and start its vCPU.

    Its memory is a region of the host's pool when the pool has room,
    else fresh memory.
    """
    size = parse_pages(memory, "--memory") * PAGE_SIZE
    if not size:
        raise OptionError("--memory must be a positive multiple of 4 KiB")
    if vcpus < 1:
        raise OptionError("--vcpus must be at least 1")
    kind, hot = parse_pattern(pattern)
    dom = SimBackend().start(name, size // PAGE_SIZE, vcpus, fill,
                             Workload(parse_rate(dirty_rate), kind, hot), seed)
    click.echo(f"{dom.name}: started, {format_bytes(size)}, pid {dom.pid()}")


@sim_group.command("list")
@report_errors
def sim_list():
    """List the simulated domains of this host."""
    click.echo(f"{'Name':<32} {'ID':>4} {'Mem':>10} {'VCPUs':>5}  State")
    for d in SimBackend().list_domains():
        click.echo(f"{d.name:<32} {d.domid:>4} {format_bytes(d.pages * PAGE_SIZE):>10} "
                   f"{d.vcpus:>5}  {d.state}")


@sim_group.command("checksum")
@click.argument("name")
@report_errors
def sim_checksum(name):
    """Print the checksum of NAME's memory and context."""
    click.echo(SimBackend().open_source(name).checksum())


@sim_group.command("stop")
@click.argument("name")
@report_errors
def sim_stop(name):
    """Destroy domain NAME."""
    SimBackend().open_source(name).destroy()


@sim_group.command("pause")
@click.argument("name")
@report_errors
def sim_pause(name):
    """Stop NAME's vCPU."""
    SimBackend().open_source(name).suspend()


@sim_group.command("unpause")
@click.argument("name")
@report_errors
def sim_unpause(name):
    """Start NAME's vCPU again."""
    SimBackend().open_source(name).unpause()


@sim_group.command("pool")
@click.option("--size", help="Make the pool this big, e.g. 4G: growing pre-faults the new "
              "memory now; shrinking frees memory no domain holds; 0 removes the pool.")
@click.option("--show", is_flag=True, help="Print the pool (the default without --size).")
@report_errors
def sim_pool(size, show):
    """Show, create or resize the host's memory pool.

    The pool is memory made resident before any domain needs it, as a Xen
    host's free heap is: domains started or migrated here take a region of
    it when it has room, and give it back zeroed when they stop or migrate
    away.  Domains that hold pool memory keep it until they go; the pool
    cannot shrink below them.  When the state dir is a tmpfs mounted with
    huge=within_size the pool is in 2 MiB pages, as a Xen guest's memory is
    in superpages, and receiving a guest into it is much faster.
    """
    pool = SimBackend().pool
    status = pool.resize(parse_pages(size, "--size")) if size is not None else pool.status()
    if size is None or show or status.pages:
        click.echo(format_pool(status))


def format_pool(status: PoolStatus) -> str:
    """The ``sim pool --show`` text."""
    if not status.pages:
        return "no memory pool: domains get fresh memory"
    held = status.pages - status.free
    lines = [f"pool: {format_bytes(status.pages * PAGE_SIZE)} ({status.pages} pages), "
             f"{format_bytes(status.resident)} resident, in "
             + ("2 MiB pages" if status.huge else
                "4 KiB pages (a tmpfs mounted with huge=within_size on the state dir "
                "gives 2 MiB pages)"),
             f"held: {format_bytes(held * PAGE_SIZE)} by {len(status.held)} domain(s)"]
    for name, region in status.held.items():
        lines.append(f"  {name:<32} {format_bytes(region.count * PAGE_SIZE):>10}  "
                     f"pages {region.first}-{region.end - 1}")
    lines.append(f"free: {format_bytes(status.free * PAGE_SIZE)} ("
                 f"{format_bytes(status.clean * PAGE_SIZE)} zeroed, "
                 f"{format_bytes(status.dirty * PAGE_SIZE)} to scrub on first use)")
    return "\n".join(lines)
