"""The SQLite backend makes one process's writers take turns (serving/sqlite_backend).

Every writer waits for the turn: transactions (create_scored, revise) and
single autocommit statements (a network check's save). Readers do not, and
a turn always ends: at commit, rollback and close.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from django.db import connection, connections, transaction

from network_check.models import NetworkCheck
from questionnaire.models import Assessment
from serving.handlers import RequestThreads
from serving.sqlite_backend.base import _turns
from tests.network_check.measurements import measurement

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "sqlite", reason="turns are SQLite's"),
]


def turn() -> threading.Lock:
    return _turns[str(connection.settings_dict["NAME"])]


def in_thread(work: Callable[[], object]) -> tuple[threading.Thread, threading.Event]:
    done = threading.Event()

    def run() -> None:
        try:
            work()
            done.set()
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, done


def check_saved() -> None:
    NetworkCheck.objects.create(measurement=measurement())


@pytest.fixture
def saved(chat_answers) -> Assessment:
    assessment, _ = Assessment.create_scored("Team chat", chat_answers)
    return assessment


@pytest.mark.parametrize("writer", ["network check", "create", "revise"])
def test_every_writer_waits_for_the_turn(writer, saved, chat_answers, dashboard_answers):
    work = {
        "network check": check_saved,
        "create": lambda: Assessment.create_scored("Other", chat_answers),
        "revise": lambda: saved.revise("Team chat", dashboard_answers),
    }[writer]
    connection.take_turn()
    try:
        thread, done = in_thread(work)
        # SQLite's own lock is free (this thread holds a turn, no transaction):
        # only the turn holds the writer back.
        assert not done.wait(0.3)
    finally:
        connection.end_turn()
    thread.join(10)

    assert done.is_set()
    assert not turn().locked()


def test_a_transaction_holds_the_turn_until_commit():
    with transaction.atomic():
        check_saved()
        assert turn().locked()
    assert not turn().locked()


def test_a_failed_transaction_ends_the_turn():
    with pytest.raises(RuntimeError), transaction.atomic():
        check_saved()
        raise RuntimeError("the view failed")

    assert not turn().locked()
    assert NetworkCheck.objects.count() == 0


def test_closing_in_a_transaction_ends_the_turn():
    with transaction.atomic():
        check_saved()
        connection.close()
    assert not turn().locked()


def test_a_single_statement_holds_the_turn_no_longer_than_itself():
    check_saved()

    assert not turn().locked()
    assert NetworkCheck.objects.count() == 1


def test_readers_do_not_wait_for_the_turn(saved):
    connection.take_turn()
    try:
        thread, done = in_thread(lambda: list(Assessment.objects.all()))
        thread.join(10)
    finally:
        connection.end_turn()

    assert done.is_set()


def test_a_turn_left_held_outside_a_transaction_ends_with_the_request():
    # A request thread's connection is kept from one request to the next
    # (serving/handlers.py): a turn some statement left held must not outlive
    # its request, or every other writer of the process would wait for it.
    def request_on_a_kept_thread() -> tuple[bool, bool]:
        connection.ensure_connection()
        connection.take_turn()
        held = turn().locked()
        # What Django runs at each request's start and end (close_old_connections).
        connection.close_if_unusable_or_obsolete()
        return held, connection.connection is not None

    thread = RequestThreads().lend()
    held, kept = thread.submit(request_on_a_kept_thread).result(timeout=10)
    assert held
    assert not turn().locked()
    assert kept
    thread.submit(connections.close_all).result(timeout=10)
    thread.shutdown()
