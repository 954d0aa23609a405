"""Request threads, and SQLite connections, kept from request to request (serving/handlers.py)."""

from __future__ import annotations

import asyncio
import os
import threading

import pytest
from channels.db import database_sync_to_async
from django.core.signals import request_started
from django.db import connection
from django.db.backends.signals import connection_created

from advisor.asgi import django_asgi_app as handler
from questionnaire.models import Assessment
from serving.handlers import RequestThreads, ReusedThreadsASGIHandler
from tests.operations.asgi import communicator, request

pytestmark = pytest.mark.django_db(transaction=True)

async_test = pytest.mark.asyncio


@pytest.fixture
def request_threads():
    """The thread each request's sync code starts on, in order."""
    seen: list[int] = []

    def record(**kwargs) -> None:
        # The kernel's id: Python's may be reused by a thread started later.
        seen.append(threading.get_native_id())

    request_started.connect(record)
    yield seen
    request_started.disconnect(record)


def test_the_served_application_keeps_its_request_threads():
    assert isinstance(handler, ReusedThreadsASGIHandler)


@async_test
async def test_requests_one_after_another_run_on_one_thread(request_threads):
    for _ in range(5):
        assert (await request("/cases/")).status == 200
    # Django's own handler starts (and ends) a thread for each.
    assert len(request_threads) == 5
    assert len(set(request_threads)) == 1
    assert threading.get_native_id() not in request_threads


@async_test
async def test_requests_at_the_same_time_each_have_a_thread(request_threads):
    # Each request's sync code waits for the other's: on one shared thread
    # the first would wait for ever (here: fail after 5 s).
    both = threading.Barrier(2, timeout=5)

    def meet(**kwargs) -> None:
        both.wait()

    request_started.connect(meet)
    try:
        answers = await asyncio.gather(request("/cases/"), request("/cases/"))
    finally:
        request_started.disconnect(meet)
    assert [answer.status for answer in answers] == [200, 200]
    assert len(set(request_threads)) == 2


@async_test
@pytest.mark.skipif(connection.vendor != "sqlite", reason="PostgreSQL's come from its pool")
async def test_sqlite_connections_are_kept_from_one_request_to_the_next(chat_answers):
    # An anonymous assessment's page: a request that reads the database.
    # (Made on a thread that closes its connection after: it must not be
    # the one counted, nor stay open for later tests.)
    made, _ = await database_sync_to_async(Assessment.create_scored)(
        "Chat", chat_answers, anonymous_owner="a" * 64
    )
    page = made.get_absolute_url()
    opened: list[int] = []

    def count(**kwargs) -> None:
        opened.append(threading.get_ident())

    connection_created.connect(count)
    try:
        for _ in range(5):
            answer = await request(page)
            assert answer.status == 200
            assert b"Chat" in answer.body
    finally:
        connection_created.disconnect(count)
    # One for the kept thread at most (it may have one from an earlier test);
    # Django's own handler opened one per request.
    assert len(opened) <= 1


@async_test
async def test_a_thread_still_busy_with_a_request_cut_short_is_not_lent(request_threads):
    # The server ends a request whose client went away 10 s earlier (and
    # every request at shutdown) while its sync code may still run.
    release = threading.Event()

    def busy(**kwargs) -> None:
        if len(request_threads) == 1:
            release.wait(5)

    request_started.connect(busy)
    try:
        cut = communicator("/cases/")
        await cut.send_input({"type": "http.request", "body": b""})
        while not request_threads:
            await asyncio.sleep(0.01)
        cut.future.cancel()
        await asyncio.wait([cut.future])
        # The next request is not lent the busy thread (it would wait there).
        answer = await asyncio.wait_for(request("/cases/"), 4)
        assert answer.status == 200
        assert request_threads[1] != request_threads[0]
        release.set()
        # Once its leftover is done, the thread is lent again.
        for _ in range(100):
            if handler.threads.idle >= 2:
                break
            await asyncio.sleep(0.02)
        await request("/cases/")
        assert request_threads[2] in request_threads[:2]
    finally:
        release.set()
        request_started.disconnect(busy)


def test_a_thread_is_lent_to_one_request_at_a_time():
    threads = RequestThreads(keep=2)
    lent = [threads.lend() for _ in range(3)]
    assert len(set(lent)) == 3
    for executor in lent:
        threads.give_back(executor)
    # Two kept, the third ended.
    assert threads.idle == 2
    # The last one given back is lent first: its connection is the warmest.
    assert threads.lend() is lent[1]
    assert threads.lend() is lent[0]
    assert threads.lend() not in lent


def test_a_forked_child_is_lent_threads_of_its_own():
    # The test suite's servers are forked from a process that served requests.
    threads = RequestThreads()
    executor = threads.lend()
    executor.submit(lambda: None).result()
    threads.give_back(executor)  # idle here, its thread alive in this process only
    child = os.fork()
    if child == 0:
        try:
            served = threads.lend().submit(lambda: True).result(timeout=5)
            os._exit(0 if served else 1)
        except BaseException:
            os._exit(1)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def test_idle_threads_end_with_their_connections():
    threads = RequestThreads()
    executor = threads.lend()
    executor.submit(lambda: None).result()
    threads.give_back(executor)
    threads.end_idle()
    assert threads.idle == 0
    with pytest.raises(RuntimeError):
        executor.submit(lambda: None)  # ended
