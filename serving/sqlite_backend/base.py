"""Django's SQLite backend, with the database file kept open for the life of the process.

Under ASGI each request runs its sync code in a thread of its own, so Django
opens and closes a connection per request. In WAL mode, the last connection
to close checkpoints the write-ahead log into the database, syncs it and
deletes the log: with requests one at a time, every request was the last,
and a write cost a checkpoint (1 to 5 ms, see docs/benchmarks.md). One idle
connection held open makes every other one not the last; SQLite still
checkpoints as the log grows (wal_autocheckpoint), as it would anyway.
"""

from __future__ import annotations

import sqlite3
import threading

from django.db.backends.sqlite3 import base

_held: dict[str, sqlite3.Connection] = {}
_holding = threading.Lock()


class DatabaseWrapper(base.DatabaseWrapper):
    def get_new_connection(self, conn_params: dict) -> sqlite3.Connection:
        connection = super().get_new_connection(conn_params)
        if not self.is_in_memory_db():
            _hold_open(conn_params["database"])
        return connection


def _hold_open(database: str) -> None:
    if database in _held:
        return
    with _holding:
        if database not in _held:
            held = sqlite3.connect(database, uri=True, check_same_thread=False)
            # A read attaches it to the log's shared memory, as a reader.
            held.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
            _held[database] = held
