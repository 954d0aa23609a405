"""Worker processes that make PDF reports, so that renders run side by side.

A render is a quarter of a second of mostly pure Python (WeasyPrint's
layout): in threads, renders would take turns on the GIL and take it from
the event loop too. Each worker process sets Django up once, parses the
report stylesheet and loads the fonts once, then makes PDFs of the HTML the
view sends it (``report.render_pdf``); it never touches the database.

- ``ADVISOR_REPORT_WORKERS`` processes (default: cores - 1, at least 1),
  all started at the first render, not at start-up.
- At most ``ADVISOR_REPORT_QUEUE`` renders wait for a free worker; one more
  raises ``Busy``, which the view answers with 503 and Retry-After, rather
  than an ever longer wait.
- Requests for the same PDF at the same moment share one render.
- A request that goes away (Django cancels the view when the client
  disconnects) cancels its render if it has not started and nobody else
  waits for it; a started render runs to its end.
"""

from __future__ import annotations

import asyncio
import math
import multiprocessing
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from functools import partial

from django.conf import settings

# A render's usual length, for the Retry-After of a refusal.
RENDER_SECONDS = 0.3
# How often a worker checks that the server that started it is still there.
PARENT_CHECK_SECONDS = 1.0


class Busy(Exception):
    """Every worker is rendering and the queue is full."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"the report renderers are busy; retry after {retry_after} s")
        self.retry_after = retry_after


@dataclass(eq=False)
class _Flight:
    """One render, and how many requests wait for it."""

    key: str
    function: Callable
    args: tuple
    # Ours, not the executor's: it exists before the render is handed to a worker.
    future: Future = field(default_factory=Future)
    waiters: int = 0
    started: bool = False


def _start_worker(settings_module: str) -> None:
    # A worker outlives a server killed without its clean exit (SIGKILL, a
    # test's os._exit) unless it notices, as nothing else tells it.
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True).start()
    os.environ["DJANGO_SETTINGS_MODULE"] = settings_module
    import django

    django.setup()
    from . import report

    report.warm_up()


def _ready() -> None:
    pass


def _exit_with_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(PARENT_CHECK_SECONDS)
    os._exit(0)


class RenderPool:
    def __init__(self, workers: int, queue: int) -> None:
        self.workers = max(1, workers)
        self.queue = max(0, queue)
        self._executor: ProcessPoolExecutor | None = None
        self._flights: dict[str, _Flight] = {}
        self._waiting: deque[_Flight] = deque()
        self._running = 0
        # Reentrant: cancel() runs the done callback, which takes it too.
        self._lock = threading.RLock()

    @property
    def pending(self) -> int:
        """Renders asked for and not finished: running and waiting."""
        return len(self._flights)

    def _pool(self) -> ProcessPoolExecutor:
        if self._executor is None:
            # spawn: a worker starts from a clean process, not a copy of a
            # server with threads, open sockets and database connections
            # (forkserver's one server would be shared with a forked child).
            self._executor = ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_start_worker,
                initargs=(os.environ.get("DJANGO_SETTINGS_MODULE", "advisor.settings"),),
            )
            # The executor starts a process only when a task finds none idle:
            # one no-op per worker starts them all now, rather than one in
            # the middle of a burst of downloads (a start takes seconds).
            for _ in range(self.workers):
                self._executor.submit(_ready)
        return self._executor

    async def run(self, key: str, function: Callable, *args) -> bytes:
        """``function(*args)`` in a worker; callers with the same ``key`` share one run."""
        with self._lock:
            flight = self._flights.get(key)
            if flight is None:
                if len(self._flights) >= self.workers + self.queue:
                    raise Busy(self.retry_after())
                flight = self._flights[key] = _Flight(key, function, args)
                self._waiting.append(flight)
                self._dispatch()
            flight.waiters += 1
        try:
            # Shielded: one waiter that goes away must not cancel the others' render.
            return await asyncio.shield(asyncio.wrap_future(flight.future))
        finally:
            with self._lock:
                flight.waiters -= 1
                if flight.waiters == 0 and not flight.started:
                    # Nobody wants it and no worker has it yet: it never runs.
                    # A started render ends, and its PDF is dropped.
                    self._waiting.remove(flight)
                    del self._flights[key]
                    flight.future.cancel()

    def _dispatch(self) -> None:
        # Called with the lock held. Renders wait here, not in the executor:
        # the executor marks what it has taken as running at once (it feeds
        # its workers ahead), and a running future cannot be cancelled.
        while self._running < self.workers and self._waiting:
            flight = self._waiting.popleft()
            flight.started = True
            try:
                submitted = self._pool().submit(flight.function, *flight.args)
            except BrokenProcessPool as error:
                self._executor = None
                del self._flights[flight.key]
                flight.future.set_exception(error)
                continue
            self._running += 1
            submitted.add_done_callback(partial(self._landed, flight))

    def _landed(self, flight: _Flight, submitted: Future) -> None:
        with self._lock:
            self._running -= 1
            self._flights.pop(flight.key, None)
            error = None if submitted.cancelled() else submitted.exception()
            if isinstance(error, BrokenProcessPool):
                # A worker died (killed, out of memory): the next render starts new ones.
                self._executor = None
            self._dispatch()
        if submitted.cancelled():
            flight.future.cancel()
        elif error is not None:
            flight.future.set_exception(error)
        else:
            flight.future.set_result(submitted.result())

    def retry_after(self) -> int:
        """Seconds until the queue has likely drained."""
        return max(1, math.ceil((self.workers + self.queue) / self.workers * RENDER_SECONDS))

    def shutdown(self) -> None:
        """Stop the workers, after the renders they have; waiting ones never run."""
        with self._lock:
            for flight in self._waiting:
                self._flights.pop(flight.key, None)
                flight.future.cancel()
            self._waiting.clear()
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)


_pool: RenderPool | None = None


def pool() -> RenderPool:
    """The process's render pool, sized by the settings at its first use."""
    global _pool
    if _pool is None:
        _pool = RenderPool(settings.ADVISOR_REPORT_WORKERS, settings.ADVISOR_REPORT_QUEUE)
    return _pool


def shutdown() -> None:
    """Stop the workers (tests; a server's end stops them with it)."""
    global _pool
    if _pool is not None:
        _pool.shutdown()
        _pool = None


def _forget_after_fork() -> None:
    # A forked child (a test's live server) must not share its parent's workers.
    global _pool
    _pool = None


os.register_at_fork(after_in_child=_forget_after_fork)
