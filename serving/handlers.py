"""Django's ASGI handler, with each request's sync code on a thread kept for later requests.

Django's ``ASGIHandler`` runs each request inside asgiref's
``ThreadSensitiveContext()``: the request's sync code (middleware hooks that
touch the database, the view, ``close_old_connections``) runs on a thread
made for that request and ended with it. So every request started a thread
and joined it, and, database connections being per thread, opened a
database connection and closed it: on SQLite about a quarter of the CPU of
a cached result page (docs/caching.md, "What a cached page still costs").

Here each request borrows a one-thread executor from a small stack of idle
ones and hands it back when it ends: the same one-request-at-a-time thread
as before (asgiref's ``ThreadSensitiveContext(executor=...)``, made for
this), kept for the next request. On SQLite its connection is kept too
(``serving/sqlite_backend``: on these threads only, as if ``CONN_MAX_AGE``
were unlimited; other threads, such as Channels' and the management
commands', close theirs as before), checked by Django at each request's
start and end like a WSGI server's persistent connections
(``close_old_connections``: a connection left in a transaction, or unusable
after an error, is closed). PostgreSQL keeps using psycopg's pool, whose
connections go back to the pool at each request's end.

- As many threads as requests in flight, as before: a request never waits
  for a thread. At most ``IDLE_THREADS`` are kept between bursts; the
  others end, and their connections with them.
- The most recently used thread is lent first (a stack): under light load
  the same few threads, with warm connections, serve everything.
- A request whose client went away: Django cancels the view, and its sync
  code already running goes on to its end on the thread, as before;
  Django's ``request_finished`` waits for it on that same thread, so the
  thread goes back to the stack idle.
- A request cut short by the server (daphne ends a request 10 s after its
  client went away, and every request at shutdown): its thread may still be
  running the request's sync code. It goes back to the stack only when that
  is done, with its connection closed, or returned to PostgreSQL's pool, by
  Django's ``close_old_connections``: never lent busy to the next request,
  which would wait behind it.
- At shutdown a cancelled request may leave a task of Django's handler
  behind, whose next sync call asgiref refuses (``RuntimeError``: the
  context has exited); Django's own handler made it a new thread instead.
  Only logged, as the process is ending.
"""

from __future__ import annotations

import os
import threading
import weakref
from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import ThreadSensitiveContext
from django.core.handlers.asgi import ASGIHandler
from django.db import close_old_connections, connections

from serving.threads import mark_kept

# Idle request threads kept between bursts (and their SQLite connections).
IDLE_THREADS = 16

# Every stack of idle threads, each forgotten in a forked child (below).
_stacks: weakref.WeakSet[RequestThreads] = weakref.WeakSet()


def _forget_in_child() -> None:
    for threads in list(_stacks):
        threads._forget()


os.register_at_fork(after_in_child=_forget_in_child)


class RequestThreads:
    """A stack of idle one-thread executors, lent to one request at a time."""

    def __init__(self, keep: int = IDLE_THREADS) -> None:
        self.keep = keep
        self._idle: list[ThreadPoolExecutor] = []
        self._lock = threading.Lock()
        # A forked child (the test suite's servers) has none of its parent's
        # threads: an executor whose thread is gone would take a request's
        # work and never run it.
        _stacks.add(self)

    def _forget(self) -> None:
        self._idle = []
        self._lock = threading.Lock()

    def lend(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._idle:
                return self._idle.pop()
        return ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="request", initializer=mark_kept
        )

    def give_back(self, executor: ThreadPoolExecutor) -> None:
        with self._lock:
            if len(self._idle) < self.keep:
                self._idle.append(executor)
                return
        # Its thread ends after whatever it is still running.
        executor.shutdown(wait=False)

    @property
    def idle(self) -> int:
        return len(self._idle)

    def end_idle(self) -> None:
        """End the idle threads, their database connections closed first (tests, shutdown)."""
        with self._lock:
            idle, self._idle = self._idle, []
        for executor in idle:
            executor.submit(connections.close_all)
            executor.shutdown(wait=True)


class ReusedThreadsASGIHandler(ASGIHandler):
    """``ASGIHandler`` whose requests run their sync code on threads lent by ``RequestThreads``."""

    def __init__(self, threads: RequestThreads | None = None) -> None:
        super().__init__()
        self.threads = threads or RequestThreads()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            # Django's own refusal.
            return await super().__call__(scope, receive, send)
        executor = self.threads.lend()
        try:
            async with ThreadSensitiveContext(executor=executor):
                await self.handle(scope, receive, send)
        except BaseException:
            # Cut short: lent again once its thread is done with this request.
            executor.submit(close_old_connections).add_done_callback(
                lambda _: self.threads.give_back(executor)
            )
            raise
        self.threads.give_back(executor)


def get_asgi_application() -> ReusedThreadsASGIHandler:
    """``django.core.asgi.get_asgi_application``, with request threads kept."""
    import django

    django.setup(set_prefix=False)
    return ReusedThreadsASGIHandler()
