"""Worker processes that make PDF reports, so that renders run side by side.

A render is a quarter of a second of mostly pure Python (WeasyPrint's
layout): in threads, renders would take turns on the GIL and take it from
the event loop too. Each worker process sets Django up once, parses the
report stylesheet and loads the fonts once, then makes PDFs of the HTML the
view sends it (``report.render_pdf``), with the garbage collector off during
each (``_run_in_worker``); it never touches the database.

- ``ADVISOR_REPORT_WORKERS`` processes (default: cores - 1, at least 1),
  all started in the background at a server's first request of any kind
  (``ADVISOR_REPORT_WORKERS_EARLY``, on by default), or else at the first
  render; never at import or start-up, which management commands share.
- At most ``ADVISOR_REPORT_QUEUE`` renders wait for a free worker; one more
  raises ``Busy``, which the view answers with 503 and Retry-After, rather
  than an ever longer wait.
- Requests for the same PDF at the same moment share one render.
- ``offer`` runs a render nobody waits for yet (prerender.py) only on a free
  worker with nothing queued: it never delays a download.
- A request that goes away (Django cancels the view when the client
  disconnects) cancels its render if it has not started and nobody else
  waits for it; a started render runs to its end.
- A worker that dies (killed, out of memory, a crash in a C library) breaks
  its executor: the renders it had fail with ``BrokenProcessPool`` and the
  next render starts new workers. Workers that cannot even start (no fonts,
  a missing stylesheet) would make every download wait for a start that
  fails: after ``START_FAILURES`` failed starts in a row the pool refuses
  renders (``Unavailable``) for ``BACKOFF_SECONDS`` before it tries again.
"""

from __future__ import annotations

import asyncio
import gc
import logging
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
# Failed starts in a row after which the pool stops starting workers for a while.
START_FAILURES = 2
BACKOFF_SECONDS = 30

logger = logging.getLogger(__name__)


class Refused(Exception):
    """No render now: the answer is 503 with Retry-After."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"{self.reason}; retry after {retry_after} s")
        self.retry_after = retry_after

    reason = "the report renderers cannot take this render"


class Busy(Refused):
    """Every worker is rendering and the queue is full."""

    reason = "the report renderers are busy"


class Unavailable(Refused):
    """The workers failed to start or were shut down."""

    reason = "the report renderers are not running"


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
    # Offered (``offer``): a render nobody asked for yet.
    offered: bool = False


def _start_worker(settings_module: str) -> None:
    # A worker outlives a server killed without its clean exit (SIGKILL, a
    # test's os._exit) unless it notices, as nothing else tells it.
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True).start()
    os.environ["DJANGO_SETTINGS_MODULE"] = settings_module
    import django

    django.setup()
    from . import report

    report.warm_up()
    # Django, the app, WeasyPrint and the fonts stay for the worker's life:
    # frozen, the collector no longer walks them at each full collection.
    gc.collect()
    gc.freeze()


def _run_in_worker(function: Callable, *args):
    """``function(*args)`` in a worker, with one collection of cyclic garbage, at its end.

    A render keeps some ten thousand objects (boxes, styles, text runs)
    alive until it ends, and the collector, run at every 700 new objects,
    walked them some 25 times per render while they were all still in use.
    Off during the render and run once after it (2 ms), it frees the same
    cycles. With the start-up objects frozen, a render costs about a tenth
    less CPU.
    """
    gc.disable()
    try:
        return function(*args)
    finally:
        gc.enable()
        gc.collect()


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
        # Whether the current executor has started a worker that answered.
        self._proven = False
        self._failed_starts = 0
        self._backoff_until = 0.0
        self._closed = False
        # When the current executor's workers were started (``wait_started``).
        self._start_began = 0.0
        # Reentrant: cancel() runs the done callback, which takes it too.
        self._lock = threading.RLock()
        # Told when a start ends: a worker answered, the start failed, or shutdown.
        self._start_ended = threading.Condition(self._lock)

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
            self._proven = False
            self._start_began = time.monotonic()
            try:
                for _ in range(self.workers):
                    self._executor.submit(_ready).add_done_callback(
                        partial(self._answered, self._executor)
                    )
            except BaseException:
                # No answer will come (the interpreter is exiting): not a start under way.
                self._executor = None
                self._start_ended.notify_all()
                raise
        return self._executor

    def _answered(self, executor: ProcessPoolExecutor, ready: Future) -> None:
        with self._lock:
            error = None if ready.cancelled() else ready.exception()
            if isinstance(error, BrokenProcessPool):
                self._broke(executor)
            elif error is None and executor is self._executor and not ready.cancelled():
                self._proven = True
                self._failed_starts = 0
            self._start_ended.notify_all()

    def _broke(self, executor: ProcessPoolExecutor) -> None:
        # Called with the lock held, once per failed future of ``executor``:
        # only the first clears it, and never a newer executor started since.
        if executor is not self._executor:
            return
        self._executor = None
        self._start_ended.notify_all()
        if self._proven:
            logger.warning("A report render worker died; new workers start at the next render.")
            return
        self._failed_starts += 1
        if self._failed_starts >= START_FAILURES:
            self._backoff_until = time.monotonic() + BACKOFF_SECONDS
            if self._failed_starts == START_FAILURES:
                # Once per run of failures, not once per refused download.
                logger.error(
                    "The report render workers failed to start %d times in a row; "
                    "reports are refused with 503, and a start is tried again "
                    "every %d s.",
                    self._failed_starts,
                    BACKOFF_SECONDS,
                )

    async def run(self, key: str, function: Callable, *args) -> bytes:
        """``function(*args)`` in a worker; callers with the same ``key`` share one run."""
        with self._lock:
            if self._closed:
                raise Unavailable(BACKOFF_SECONDS)
            flight = self._flights.get(key)
            if flight is None:
                backoff = self._backoff_until - time.monotonic()
                if self._executor is None and backoff > 0:
                    raise Unavailable(math.ceil(backoff))
                if self._taken() >= self.workers + self.queue:
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
                if flight.waiters == 0 and not flight.started and flight in self._waiting:
                    # Nobody wants it and no worker has it yet: it never runs.
                    # A started render ends, and its PDF is dropped. (Not
                    # waiting any more: shutdown() has dropped it already.)
                    self._waiting.remove(flight)
                    del self._flights[key]
                    flight.future.cancel()

    @property
    def idle(self) -> bool:
        """Whether a started worker is free and no render waits for one."""
        with self._lock:
            return self._idle()

    def _taken(self) -> int:
        # An offered render that no download waits for takes no download's place.
        flights = self._flights.values()
        return sum(not (flight.offered and flight.waiters == 0) for flight in flights)

    def _idle(self) -> bool:
        # Started means a worker has answered: one still starting (a second or
        # two after the first request, or after a crash) would make an offered
        # render go first, ahead of the downloads that arrive meanwhile.
        return (
            self._executor is not None
            and self._proven
            and not self._closed
            and not self._waiting
            and self._running < self.workers
        )

    @property
    def starting(self) -> bool:
        """Whether workers are starting and none has answered yet (after a start or a crash)."""
        with self._lock:
            return self._starting()

    def _starting(self) -> bool:
        return self._executor is not None and not self._proven and not self._closed

    def wait_started(self, timeout: float) -> bool:
        """Until a starting worker answers, or the start is ``timeout`` s old; whether one has.

        Returns at once when no start is under way, or when it has lasted
        ``timeout`` already: callers queued behind one another wait for the
        same deadline, not one each. For work that can wait for the workers
        (``offer``), never for a download, which queues.
        """
        with self._start_ended:
            while self._starting():
                left = self._start_began + timeout - time.monotonic()
                if left <= 0:
                    break
                self._start_ended.wait(left)
            return self._executor is not None and self._proven and not self._closed

    def offer(self, key: str, function: Callable, *args) -> Future | None:
        """``function(*args)`` in a worker now if one is idle and nothing waits; else None.

        For work nobody is waiting for yet (a report rendered when its
        revision is saved): it never starts workers, never waits in the
        queue and never takes a place a download could have. A download of
        the same ``key`` meanwhile shares it, as any render. The future
        holds the result, or the error.
        """
        with self._lock:
            if not self._idle() or key in self._flights:
                return None
            flight = self._flights[key] = _Flight(key, function, args, offered=True)
            self._waiting.append(flight)
            self._dispatch()
            return flight.future

    def _dispatch(self) -> None:
        # Called with the lock held. Renders wait here, not in the executor:
        # the executor marks what it has taken as running at once (it feeds
        # its workers ahead), and a running future cannot be cancelled.
        while self._running < self.workers and self._waiting:
            flight = self._waiting.popleft()
            flight.started = True
            executor = self._pool()
            try:
                submitted = executor.submit(_run_in_worker, flight.function, *flight.args)
            except BrokenProcessPool as error:
                self._broke(executor)
                del self._flights[flight.key]
                flight.future.set_exception(error)
                continue
            except RuntimeError:
                # The interpreter is exiting (the executor takes no more work):
                # answered as a pool shut down, never left waiting.
                del self._flights[flight.key]
                flight.future.set_exception(Unavailable(BACKOFF_SECONDS))
                continue
            self._running += 1
            submitted.add_done_callback(partial(self._landed, executor, flight))

    def _landed(self, executor: ProcessPoolExecutor, flight: _Flight, submitted: Future) -> None:
        with self._lock:
            self._running -= 1
            if self._flights.get(flight.key) is flight:
                del self._flights[flight.key]
            error = None if submitted.cancelled() else submitted.exception()
            if isinstance(error, BrokenProcessPool):
                # A worker died (killed, out of memory): the next render starts new ones.
                self._broke(executor)
            self._dispatch()
        if flight.future.done():
            return
        if submitted.cancelled():
            flight.future.cancel()
        elif error is not None:
            flight.future.set_exception(error)
        else:
            flight.future.set_result(submitted.result())

    def start(self) -> None:
        """Start the workers now rather than at the first render, which would wait for them."""
        with self._lock:
            ready_to_start = self._executor is None and not self._closed
            if ready_to_start and time.monotonic() >= self._backoff_until:
                self._pool()

    def retry_after(self) -> int:
        """Seconds until the queue has likely drained."""
        return max(1, math.ceil((self.workers + self.queue) / self.workers * RENDER_SECONDS))

    def shutdown(self) -> None:
        """Stop the workers, after the renders they have; waiting ones never run."""
        with self._lock:
            self._closed = True
            for flight in self._waiting:
                self._flights.pop(flight.key, None)
                # Its requests are answered 503, not left to a cancelled await.
                flight.future.set_exception(Unavailable(BACKOFF_SECONDS))
            self._waiting.clear()
            executor, self._executor = self._executor, None
            self._start_ended.notify_all()
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)


_pool: RenderPool | None = None
# The first request's background start and the first render may ask at once.
_pool_lock = threading.Lock()
EARLY_START = "render-workers-early-start"


def pool() -> RenderPool:
    """The process's render pool, sized by the settings at its first use."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = RenderPool(settings.ADVISOR_REPORT_WORKERS, settings.ADVISOR_REPORT_QUEUE)
        return _pool


def start_at_first_request(sender=None, **kwargs) -> None:
    """A ``request_started`` receiver: the first request starts the workers, in the background.

    Spawning the workers takes some milliseconds of the caller's thread and
    their start a second or two: a thread of its own pays for both, so the
    first download finds them ready. Connected by the app when
    ``ADVISOR_REPORT_WORKERS_EARLY`` is on; a server only, as management
    commands make no request.
    """
    from django.core.signals import request_started

    request_started.disconnect(dispatch_uid=EARLY_START)
    threading.Thread(target=lambda: pool().start(), name=EARLY_START, daemon=True).start()


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
