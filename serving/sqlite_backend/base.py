"""Django's SQLite backend, with the file kept open and the process's writers taking turns.

The file kept open. Connections come and go: Django's management commands
open and close theirs, and under ASGI a request thread beyond the ones kept
(serving/handlers.py) ends with its connection. In WAL
mode, the last connection to close checkpoints the write-ahead log into the
database, syncs it and deletes the log: when each request had a connection
of its own (before request threads were kept), with requests one at a time
every request was the last, and a write cost a checkpoint (1 to 5 ms, see
docs/benchmarks.md). One idle connection held open makes every other one
not the last; SQLite still checkpoints as the log grows (wal_autocheckpoint),
as it would anyway.

Writers take turns. SQLite has one write lock per file, and a connection
that finds it taken sleeps and retries (its busy handler: 1, 2, 5 ... 100
ms), however soon the lock is free again: under concurrent requests a write
waited up to seconds for a lock held a millisecond. Here the connections of
one process also queue on a thread lock per file, taken just before SQLite's
lock and released just after it, so the next writer starts the moment the
last one commits. It covers

- transactions (``atomic``, which settings begin with BEGIN IMMEDIATE, so
  they take SQLite's lock at once): taken at BEGIN, released at COMMIT,
  ROLLBACK or close;
- single statements in autocommit (``objects.create()`` of a model without
  parents): taken for INSERT, UPDATE, DELETE and REPLACE, released when the
  statement is done (with RETURNING, when its cursor is closed).

Not covered, and then no worse off than without it: another process's
writers, and a transaction begun by turning autocommit off by hand (Python's
sqlite3 begins that one lazily; Django's ``atomic`` never does this). The
wait for a turn is bounded by the connection's ``timeout`` (SQLite's busy
timeout); past it the writer goes on to SQLite's own lock as before.

POST /api/assessments/ under daphne, 20 concurrent clients, one process, a
fresh SQLite file (2026-11-30, 2 cores shared with the load client):
medians of 11 runs of 3 s, each on a fresh server and file, the three
variants alternated; the machine is shared, so single runs vary by 30%.

- no turns: 116 requests/s, p50 149 ms, p99 357 ms (the worst run's p99
  745 ms, the slowest request 1130 ms);
- turns in the models (the lock create_scored took, which revisions and
  network checks did not): 123/s, p50 121 ms, p99 338 ms (527, 537 ms);
- turns here: 134/s, p50 133 ms, p99 287 ms (499, 584 ms).

With 10 of the 20 clients posting network checks instead: 138, 153 and
155 requests/s, p99 277, 273 and 236 ms (worst run's p99 693, 1118 and
600 ms). Server CPU is the same within noise (4.5-5.9 ms a request). The
gain is modest and single runs overlap, but the medians are better with
turns in every figure, most in the tail, so they stay.
"""

from __future__ import annotations

import os
import sqlite3
import threading

from django.db.backends.sqlite3 import base

from serving.threads import on_kept_thread

_held: dict[str, sqlite3.Connection] = {}
_holding = threading.Lock()
# One lock per database file: whose turn it is to write.
_turns: dict[str, threading.Lock] = {}
WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")


def _forget_turns() -> None:
    # A forked child has none of its parent's threads: a lock one of them
    # held would stay held for ever in the child.
    global _holding
    _holding = threading.Lock()
    _turns.clear()


os.register_at_fork(after_in_child=_forget_turns)


class DatabaseWrapper(base.DatabaseWrapper):
    _has_turn: threading.Lock | None = None
    _turn_timeout: float = 5.0

    def connect(self) -> None:
        super().connect()
        if on_kept_thread():
            # Kept from one request to the next, like CONN_MAX_AGE = None, on
            # the request threads the ASGI handler keeps (serving/handlers.py);
            # Django still closes one left in a transaction, or unusable after
            # an error, when a request ends. Elsewhere CONN_MAX_AGE (0) holds.
            self.close_at = None

    def get_new_connection(self, conn_params: dict) -> sqlite3.Connection:
        connection = super().get_new_connection(conn_params)
        if not self.is_in_memory_db():
            _hold_open(conn_params["database"])
        self._turn_timeout = conn_params.get("timeout", 5.0)
        return connection

    def create_cursor(self, name=None):
        cursor = self.connection.cursor(factory=TurnTakingCursor)
        cursor.database = self
        return cursor

    def take_turn(self) -> None:
        """Wait for this process's other writers to the file to finish (at most ``timeout``)."""
        if self._has_turn is not None or self.is_in_memory_db():
            return
        name = str(self.settings_dict["NAME"])
        turn = _turns.get(name)
        if turn is None:
            with _holding:
                turn = _turns.setdefault(name, threading.Lock())
        if turn.acquire(timeout=self._turn_timeout):
            self._has_turn = turn

    def end_turn(self) -> None:
        if self._has_turn is not None:
            turn, self._has_turn = self._has_turn, None
            turn.release()

    def _start_transaction_under_autocommit(self) -> None:
        self.take_turn()
        try:
            super()._start_transaction_under_autocommit()
        except BaseException:
            self.end_turn()
            raise

    def _commit(self) -> None:
        # A failed COMMIT leaves the transaction open: atomic() rolls it back
        # next, and that ends the turn.
        super()._commit()
        self.end_turn()

    def _rollback(self) -> None:
        try:
            super()._rollback()
        finally:
            self.end_turn()

    def close_if_unusable_or_obsolete(self) -> None:
        # Called at each request's start and end. A turn belongs to one
        # transaction or statement: with connections kept from one request to
        # the next (connect(), above), one still held outside a transaction (a
        # cursor of a RETURNING statement never closed) would keep every
        # other writer of the process waiting.
        super().close_if_unusable_or_obsolete()
        if not self.in_atomic_block:
            self.end_turn()

    def _close(self) -> None:
        # Closing ends any transaction (SQLite rolls it back).
        try:
            super()._close()
        finally:
            self.end_turn()


class TurnTakingCursor(base.SQLiteCursorWrapper):
    """Takes a turn for a write outside a transaction, for as long as the statement runs."""

    database: DatabaseWrapper
    _ends_turn = False

    def execute(self, query, params=None):
        if not self._takes_turn(query):
            return super().execute(query, params)
        return self._in_turn(super().execute, query, params)

    def executemany(self, query, param_list):
        if not self._takes_turn(query):
            return super().executemany(query, param_list)
        return self._in_turn(super().executemany, query, param_list)

    def close(self):
        try:
            super().close()
        finally:
            if self._ends_turn:
                self._ends_turn = False
                self.database.end_turn()

    def _takes_turn(self, query: str) -> bool:
        # In a transaction, the transaction has the turn (or was begun by
        # hand, and SQLite's own lock decides, as without turns).
        return (
            not self.database.connection.in_transaction
            and self.database._has_turn is None
            and query.lstrip()[:7].upper().startswith(WRITES)
        )

    def _in_turn(self, execute, query, params):
        self.database.take_turn()
        try:
            result = execute(query, params)
        except BaseException:
            self.database.end_turn()
            raise
        if self.description is None:
            self.database.end_turn()
        else:
            # RETURNING: the statement, and SQLite's lock, last until its
            # rows are read; Django reads them and closes the cursor.
            self._ends_turn = True
        return result


def _hold_open(database: str) -> None:
    if database in _held:
        return
    with _holding:
        if database not in _held:
            held = sqlite3.connect(database, uri=True, check_same_thread=False)
            # A read attaches it to the log's shared memory, as a reader.
            held.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
            _held[database] = held
