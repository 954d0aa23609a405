"""Migrating the test database back to an old state and forward again, for migration tests."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from django.apps.registry import Apps
from django.db import connection
from django.db.migrations.executor import MigrationExecutor


def migrate(targets) -> MigrationExecutor:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return MigrationExecutor(connection)


def latest() -> list[tuple[str, str]]:
    return MigrationExecutor(connection).loader.graph.leaf_nodes()


@contextlib.contextmanager
def migrated_back(targets, state=None) -> Iterator[Apps]:
    """The apps as they were at ``targets`` (or ``state``); migrated forward afterwards."""
    executor = migrate(targets)
    try:
        yield executor.loader.project_state(state or targets).apps
    finally:
        migrate(latest())
