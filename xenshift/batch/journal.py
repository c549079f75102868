"""The batch journal: each guest's state, in SQLite, safe against ``kill -9``.

The journal sits in the job's output directory (``xen-batch.journal``) in
WAL mode; every state change is one committed transaction, so after a
crash it holds exactly the changes that finished. The runner is its only
writer; ``xen-batch status`` and ``report`` read it through a read-only
connection, which WAL lets run beside the writer. A guest moves
``pending → running → done | failed``; ``running`` left behind by a killed
runner is resolved by :mod:`xenshift.batch.runner` from what is on disk.
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

JOURNAL_NAME = "xen-batch.journal"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS guests (
    key         TEXT PRIMARY KEY,   -- the guest's config file, absolute
    name        TEXT NOT NULL,      -- its output directory's name
    target      TEXT NOT NULL,
    state       TEXT NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    completions INTEGER NOT NULL DEFAULT 0,
    started     REAL,
    finished    REAL,
    seconds     REAL,
    error       TEXT,
    result      TEXT,               -- the conversion's result, JSON
    worker      TEXT,               -- the cluster worker that converted it
    location    TEXT                -- where its output directory is
);
CREATE TABLE IF NOT EXISTS events (
    id      INTEGER PRIMARY KEY,
    time    REAL NOT NULL,
    key     TEXT NOT NULL,
    event   TEXT NOT NULL,
    detail  TEXT
);
"""


class State(Enum):
    """Where a guest is in the job."""

    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True)
class GuestRow:
    """One guest as the journal records it."""

    key: str
    name: str
    target: str
    state: State
    attempts: int
    completions: int
    started: float | None
    finished: float | None
    seconds: float | None
    error: str | None
    result: dict | None
    worker: str | None = None       # None: converted by a local run
    location: str | None = None


# Columns added after the first journals were written: (name, type).
_ADDED_COLUMNS = (("worker", "TEXT"), ("location", "TEXT"))


class Journal:
    """The journal of one job's output directory.

    ``read_only`` opens it for reading beside a running writer; it must
    exist then.
    """

    def __init__(self, output: Path, read_only: bool = False):
        self.path = output / JOURNAL_NAME
        if read_only:
            self.db = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro",
                                      uri=True, isolation_level=None, timeout=30)
        else:
            # isolation_level=None: transactions are explicit (BEGIN IMMEDIATE).
            self.db = sqlite3.connect(self.path, isolation_level=None, timeout=30)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")
            self.db.executescript(_SCHEMA)
        columns = {r[1] for r in self.db.execute("PRAGMA table_info(guests)")}
        for name, kind in _ADDED_COLUMNS:
            if name not in columns and not read_only:
                self.db.execute(f"ALTER TABLE guests ADD COLUMN {name} {kind}")
                columns.add(name)
        # An older journal read read-only lacks the added columns: NULL.
        added = ", ".join(name if name in columns else "NULL"
                          for name, _ in _ADDED_COLUMNS)
        self._select = ("SELECT key, name, target, state, attempts, completions, "
                        f"started, finished, seconds, error, result, {added} FROM guests")

    def close(self) -> None:
        """Close the database."""
        self.db.close()

    def _change(self, key: str, event: str, detail: str | None,
                sql: str, params: tuple) -> None:
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            self.db.execute(sql, params)
            self.db.execute("INSERT INTO events (time, key, event, detail) "
                            "VALUES (?, ?, ?, ?)", (time.time(), key, event, detail))

    def add(self, key: str, name: str, target: str) -> None:
        """Record a guest as pending, unless the journal already knows it."""
        self._change(key, "added", name,
                     "INSERT OR IGNORE INTO guests (key, name, target, state) "
                     "VALUES (?, ?, ?, ?)", (key, name, target, State.PENDING.value))

    def start(self, key: str) -> None:
        """A conversion of ``key`` begins."""
        self.start_many([key])

    def start_many(self, keys: list[str]) -> None:
        """Conversions of ``keys`` begin: one transaction for them all."""
        now = time.time()
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            self.db.executemany(
                "UPDATE guests SET state=?, attempts=attempts+1, started=?, "
                "finished=NULL, error=NULL WHERE key=?",
                [(State.RUNNING.value, now, key) for key in keys])
            self.db.executemany("INSERT INTO events (time, key, event) VALUES (?, ?, ?)",
                                [(now, key, "started") for key in keys])

    def finish(self, key: str, seconds: float, result: dict,
               worker: str | None = None, location: str | None = None) -> None:
        """A conversion of ``key`` completed and its output is published
        (at ``location``, by cluster worker ``worker`` if not locally)."""
        self._change(key, "done", worker,
                     "UPDATE guests SET state=?, completions=completions+1, "
                     "finished=?, seconds=?, error=NULL, result=?, worker=?, "
                     "location=? WHERE key=?",
                     (State.DONE.value, time.time(), seconds, json.dumps(result),
                      worker, location, key))

    def fail(self, key: str, seconds: float | None, error: str,
             worker: str | None = None) -> None:
        """A conversion of ``key`` failed; nothing of it is published."""
        self._change(key, "failed", error,
                     "UPDATE guests SET state=?, finished=?, seconds=?, error=?, "
                     "worker=? WHERE key=?", (State.FAILED.value, time.time(), seconds,
                                              error, worker, key))

    def reset(self, key: str, why: str) -> None:
        """Make ``key`` pending again (interrupted, or asked to retry)."""
        self._change(key, "reset", why, "UPDATE guests SET state=? WHERE key=?",
                     (State.PENDING.value, key))

    @staticmethod
    def _row(r: tuple) -> GuestRow:
        return GuestRow(r[0], r[1], r[2], State(r[3]), r[4], r[5], r[6], r[7],
                        r[8], r[9], json.loads(r[10]) if r[10] else None, r[11], r[12])

    def rows(self) -> list[GuestRow]:
        """Every guest, in the order they were added."""
        return [self._row(r) for r in self.db.execute(self._select + " ORDER BY rowid")]

    def row(self, key: str) -> GuestRow | None:
        """One guest, or None."""
        found = self.db.execute(self._select + " WHERE key=?", (key,)).fetchone()
        return self._row(found) if found else None

    def events(self, key: str | None = None) -> list[tuple[float, str, str, str | None]]:
        """The event log (time, key, event, detail), oldest first."""
        sql = "SELECT time, key, event, detail FROM events"
        params: tuple = ()
        if key is not None:
            sql += " WHERE key=?"
            params = (key,)
        return list(self.db.execute(sql + " ORDER BY id", params))

    def check(self) -> list[str]:
        """Inconsistencies, if any: a done guest converted other than once."""
        problems = []
        for row in self.rows():
            if row.state is State.DONE and row.completions != 1:
                problems.append(f"{row.name}: done with {row.completions} completions")
            if row.state is not State.DONE and row.completions:
                problems.append(f"{row.name}: {row.state.value} but completed before")
        return problems
