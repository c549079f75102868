"""Carrying out a :class:`GuestPlan` in a writable session over the work images.

Files are written only if they still hold what the plan was made from;
commands run chrooted into the guest (libguestfs binds ``/dev``, ``/proc``
and ``/sys`` for them); an initrd is listed after its rebuild to prove it
holds the target's drivers. What the commands changed (the regenerated
boot entries, the initrd's drivers) is added to the report, so it shows
the result and not only the intent.
"""

from __future__ import annotations

import posixpath
import shlex

from xenshift.convert.guest.draft import shell_assignment
from xenshift.convert.guest.plan import (FileEdit, GrubInstall, GuestCommand, GuestPlan,
                                         LinkEdit, RebuildInitrd, SetDefaultEntry, Step)
from xenshift.convert.report import ChangeReport
from xenshift.inspect.bootloader import parse_grub2_cfg
from xenshift.inspect.errors import GuestUpdateError
from xenshift.inspect.files import read_text
from xenshift.inspect.initrd import drivers_in, read_image
from xenshift.inspect.session import GuestSession
from xenshift.inspect.shellvars import parse_shell_vars
from xenshift.progress import Progress

SYSROOT = "/sysroot"
_BIN_DIRS = ("/usr/bin", "/usr/sbin", "/bin", "/sbin")
_EXIT_MARK = "xenshift-exit="


def _write_file(session: GuestSession, edit: FileEdit) -> None:
    g = session.handle
    current = read_text(session.files, edit.path)
    if current != edit.before:
        raise GuestUpdateError("the file changed since the plan was made; nothing "
                               "written to it", edit.path)
    if edit.after is None:
        g.rm(edit.path)
        return
    g.mkdir_p(posixpath.dirname(edit.path))
    g.write(edit.path, edit.after.encode())


def _write_link(session: GuestSession, link: LinkEdit) -> None:
    g = session.handle
    if session.files.readlink(link.path) != link.before:
        raise GuestUpdateError("the link changed since the plan was made", link.path)
    if link.before is not None:
        g.rm(link.path)
    if link.after is not None:
        g.mkdir_p(posixpath.dirname(link.path))
        g.ln_s(link.after, link.path)


def _command(session: GuestSession, argv: tuple[str, ...]) -> str:
    try:
        return session.handle.command(list(argv))
    except RuntimeError as err:
        raise GuestUpdateError(f"{' '.join(argv)} failed in the guest: {err}") from None


def _grub_install(session: GuestSession, step: GrubInstall) -> None:
    # grub-install has, rarely and only under heavy load, found neither a
    # partition table nor a file system on a disk that has both, and kept
    # failing in that appliance; in a fresh appliance it succeeds. One more
    # try there; a real problem fails both times.
    try:
        _grub_install_once(session, step)
    except GuestUpdateError:
        session.relaunch()
        _grub_install_once(session, step)


def _grub_install_once(session: GuestSession, step: GrubInstall) -> None:
    device = session.appliance_device(f"/dev/{step.vdev}")
    if step.tool is not None:
        _command(session, (step.tool, "--target=i386-pc", device))
        return
    # The guest has GRUB's modules but no grub-install: the appliance's
    # builds the core image from the guest's modules into the guest's /boot.
    argv = ["grub-install", "--target=i386-pc", f"--directory={SYSROOT}{step.modules_dir}",
            f"--boot-directory={SYSROOT}{step.boot_directory}", device]
    _appliance_sh(session, " ".join(shlex.quote(a) for a in argv), step.vdev)


def _appliance_sh(session: GuestSession, command: str, vdev: str) -> None:
    """Run ``command`` in the libguestfs appliance; its failure names ``vdev``."""
    script = f'{command} 2>&1; echo "{_EXIT_MARK}$?"'
    what = command.split()[0]
    try:
        output = session.handle.debug("sh", [script])
    except RuntimeError as err:
        raise GuestUpdateError(f"{what} failed: {err}", vdev) from None
    status = output.rsplit(_EXIT_MARK, 1)[-1].strip()
    if status != "0":
        detail = output.rsplit(_EXIT_MARK, 1)[0].strip().splitlines()
        raise GuestUpdateError(f"{what} failed: {detail[-1] if detail else status}", vdev)


def _rebuild_initrd(session: GuestSession, step: RebuildInitrd, report: ChangeReport) -> None:
    files = session.files
    before = read_image(files, step.initrd, step.version) if files.is_file(step.initrd) else None
    _command(session, step.argv)
    after = read_image(files, step.initrd, step.version)
    missing = [d for d in step.drivers if d not in after.drivers]
    if after.problem or missing:
        raise GuestUpdateError(after.problem or f"the rebuilt initrd lacks {', '.join(missing)}",
                               step.initrd)
    checked = _listed_by_tool(session, step)
    report.changed(f"guest {step.initrd}",
                   ", ".join(before.drivers) if before else "(none)",
                   ", ".join(after.drivers), f"drivers in the rebuilt initrd "
                   f"({after.module_count} modules{checked})")


def _listed_by_tool(session: GuestSession, step: RebuildInitrd) -> str:
    """Check the rebuilt image with the initrd tool's own lister too.

    Returns a note for the report: which lister agreed, or that the guest
    has none.  Our reader and the tool disagreeing is a failure.
    """
    if step.lister is None:
        return ""
    tool = step.lister[0]
    if not any(session.files.is_file(f"{d}/{tool}") for d in _BIN_DIRS):
        return f"; the guest has no {tool} to list it"
    listing = _command(session, step.lister)
    # lsinitramfs prints paths, lsinitrd ls -l lines: the path comes last.
    listed = drivers_in([line.split()[-1] for line in listing.splitlines() if line.split()])
    missing = [d for d in step.drivers if d not in listed]
    if missing:
        raise GuestUpdateError(f"{tool} shows the rebuilt initrd without "
                               f"{', '.join(missing)}", step.initrd)
    return f"; {tool} agrees"


def _default_cmdline(text: str) -> str:
    parsed = parse_grub2_cfg(text)
    if parsed.default_entry is None:
        return "(no default entry)"
    entry = parsed.entries[parsed.default_entry]
    return f"{entry.title}: {entry.kernel} {' '.join(entry.cmdline.args)}"


def _run_command(session: GuestSession, step: GuestCommand, report: ChangeReport) -> None:
    before = {p: read_text(session.files, p) for p in step.produces}
    _command(session, step.argv)
    for path, old in before.items():
        report.changed(f"guest {path}", _default_cmdline(old or ""),
                       _default_cmdline(read_text(session.files, path) or ""),
                       f"default boot entry, regenerated by {step.describe()}")


def _set_default(session: GuestSession, step: SetDefaultEntry, report: ChangeReport) -> None:
    files = session.files
    parsed = parse_grub2_cfg(read_text(files, step.config) or "")
    wanted = posixpath.basename(step.kernel)
    entry = next((e for e in parsed.entries
                  if e.kernel and posixpath.basename(e.kernel) == wanted), None)
    if entry is None or entry.menu_path is None:
        raise GuestUpdateError(f"the regenerated config has no entry for {step.kernel}",
                               step.config)
    text = read_text(files, step.defaults_file) or ""
    found = [v for v in parse_shell_vars(text) if v.name == "GRUB_DEFAULT"]
    lines = text.splitlines(keepends=True)
    new = shell_assignment("GRUB_DEFAULT", entry.menu_path) + "\n"
    if found:
        before = lines[found[-1].line - 1].rstrip("\n")
        lines[found[-1].line - 1] = new
    else:
        before = None
        lines.append(new)
    session.handle.write(step.defaults_file, "".join(lines).encode())
    subject, after = f"guest {step.defaults_file}", new.rstrip("\n")
    if before is None:
        report.added(subject, after, step.reason)
    else:
        report.changed(subject, before, after, step.reason)
    _run_command(session, step.regenerate, report)


def run_step(session: GuestSession, step: Step, report: ChangeReport) -> None:
    """Run one step of a plan in the guest."""
    if isinstance(step, RebuildInitrd):
        _rebuild_initrd(session, step, report)
    elif isinstance(step, GrubInstall):
        _grub_install(session, step)
    elif isinstance(step, SetDefaultEntry):
        _set_default(session, step, report)
    else:
        _run_command(session, step, report)


def apply_files(session: GuestSession, plan: GuestPlan) -> None:
    """Write the plan's file and link edits into the guest."""
    if session.unmounted:
        raise GuestUpdateError("cannot change a guest whose file systems are not all "
                               "mounted: " + "; ".join(session.unmounted))
    for edit in plan.files:
        _write_file(session, edit)
    for link in plan.links:
        _write_link(session, link)


def run_steps(session: GuestSession, steps: tuple[Step, ...], report: ChangeReport,
              progress: Progress) -> None:
    """Run ``steps`` in order, each under a progress bar, then flush to disk."""
    for step in steps:
        with progress.step(step.describe()):
            run_step(session, step, report)
    session.handle.sync()
