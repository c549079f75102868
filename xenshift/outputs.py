"""Where converted guests go: output directories written all or nothing.

A conversion's files are first written into a hidden staging directory next
to the destination and moved into place only when every file is complete,
so an interrupted or failed run leaves nothing behind, and an existing file
is never overwritten. Disk images are staged the same way (published by a
rename or a hard link, never copied); their intermediate work files live
in a scratch directory beside the stage that is always removed.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path

from xenshift.atomic import write_atomic
from xenshift.errors import XenshiftError

_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]+")


class OutputError(XenshiftError):
    """An output that cannot be written without overwriting or losing data."""


def safe_name(name: str | None) -> str:
    """A domain name as a file name: no slashes, no leading dots, not empty."""
    cleaned = _UNSAFE.sub("_", name or "").lstrip(".")
    return cleaned or "guest"


def default_outdir(source: Path, name: str | None, suffix: str) -> Path:
    """``NAME-SUFFIX/`` beside the source file (``web-hvm/``, ``web-kvm/``)."""
    return source.resolve().parent / f"{safe_name(name)}-{suffix}"


class OutputDir:
    """Stage files, then publish them into ``path`` at once.

    Use as a context manager: files added with :meth:`write` (or written
    to a :meth:`file` path) are published when the block ends without an
    exception and discarded otherwise; :meth:`scratch` paths never are.
    """

    def __init__(self, path: Path):
        self.path = path
        self.staged: dict[str, Path] = {}
        self._stage: Path | None = None
        self._scratch: Path | None = None

    def __enter__(self) -> "OutputDir":
        # Stage on the same file system as the destination, so publishing
        # is a rename or a hard link, never a copy.
        if self.path.is_dir():
            where = self.path
        elif self.path.exists():
            raise OutputError(f"{self.path} exists and is not a directory")
        elif not self.path.parent.is_dir():
            raise OutputError(f"{self.path.parent}: no such directory for "
                              "the output")
        else:
            where = self.path.parent
        self._stage = Path(tempfile.mkdtemp(prefix=f".{self.path.name}.partial-",
                                            dir=where))
        self._scratch = Path(tempfile.mkdtemp(prefix=f".{self.path.name}.work-",
                                              dir=where))
        return self

    def file(self, name: str) -> Path:
        """The staging path of output file ``name`` (for writers that need one)."""
        target = self.path / name
        if target.exists():
            raise OutputError(f"{target} exists; xenshift does not overwrite "
                              "outputs (remove it or choose another -o)")
        assert self._stage is not None
        staged = self._stage / name
        self.staged[name] = staged
        return staged

    def final(self, name: str) -> Path:
        """Where output file ``name`` will be once published."""
        return self.path / name

    def scratch(self, name: str) -> Path:
        """A path for a work file on the output's file system, never published."""
        assert self._scratch is not None
        return self._scratch / name

    def write(self, name: str, data: bytes, private: bool = False) -> Path:
        """Stage ``data`` as output file ``name``; return its final path.

        A ``private`` file (one holding a password) is readable by its
        owner only.
        """
        write_atomic(self.file(name), data, mode=0o600 if private else 0o644)
        return self.path / name

    def __exit__(self, exc_type, exc, tb) -> None:
        assert self._stage is not None and self._scratch is not None
        try:
            shutil.rmtree(self._scratch, ignore_errors=True)
            if exc_type is None:
                self._publish()
        finally:
            shutil.rmtree(self._stage, ignore_errors=True)

    def _publish(self) -> None:
        assert self._stage is not None
        if not self.path.exists():
            # A new directory appears complete, in one rename.
            os.chmod(self._stage, 0o755)
            os.rename(self._stage, self.path)
            self._stage.mkdir()  # so the cleanup in __exit__ has a target
            return
        moved: list[Path] = []
        try:
            for name, staged in self.staged.items():
                target = self.path / name
                if target.exists():
                    raise OutputError(f"{target} appeared during the run; "
                                      "not overwritten")
                os.link(staged, target)  # fails rather than replace a file
                moved.append(target)
        except BaseException:
            for target in moved:
                target.unlink(missing_ok=True)
            raise
