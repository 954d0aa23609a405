from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from asgiref.sync import SyncToAsync
from channels.testing.live import make_application
from daphne.testing import DaphneProcess
from django.core.cache import caches
from django.core.cache.backends.locmem import LocMemCache
from django.db import connections

from advisor.clients import writes
from operations import health
from questionnaire import render_pool
from questionnaire.cases import get_library
from questionnaire.catalogue import Catalogue, get_catalogue

# The fault tests start the whole production topology (nginx, supervisor,
# their own PostgreSQL and Redis) and kill parts of it: `make test-topology`
# runs them once, on its own, rather than in both passes of the suite.
collect_ignore = [] if os.environ.get("ADVISOR_TOPOLOGY_TESTS") else ["topology"]

# Helpers that test modules share: their asserts explain a failure as a test's do.
pytest.register_assert_rewrite("tests.frames")

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(autouse=True)
def full_write_allowance() -> None:
    """Each test starts with its client's whole burst of writes (advisor/clients.py).

    The suite writes from one address all along: without this, a test's
    writes would depend on how many the tests before it made.
    """
    writes.clear()


@pytest.fixture(autouse=True)
def fresh_renders() -> None:
    """No cached rendering from an earlier test (the test database reuses revision ids).

    Only the in-memory cache is emptied: on Redis, clearing would flush the
    whole database, and keys there name the assessment's random id anyway.
    """
    if isinstance(caches["renders"], LocMemCache):
        caches["renders"].clear()


@pytest.fixture(autouse=True)
def readiness_connection_closed() -> Iterator[None]:
    """/readyz keeps a database connection of its own: closed after each test,
    or PostgreSQL could not drop the test database at the end of the run."""
    yield
    health.database_probe.close()


@pytest.fixture(autouse=True, scope="session")
def report_workers() -> Iterator[None]:
    """The PDF render workers, started by the first test that needs them, stopped at the end."""
    yield
    render_pool.shutdown()


@pytest.fixture
def catalogue() -> Catalogue:
    return get_catalogue()


# Test-only catalogue versions, never shipped: see ``catalogue_v4``.
TEST_CATALOGUES = Path(__file__).resolve().parent / "questionnaire" / "catalogues"


@pytest.fixture
def catalogue_v4(monkeypatch: pytest.MonkeyPatch) -> Iterator[Catalogue]:
    """Catalogue version 4 published as the current one, for this test only.

    It is version 3 (the newest shipped) with the weight of mobile clients
    raised (the chat preset turns to SSE), a required question (``origin``)
    and a caveat (``replay-window``) added.
    """
    monkeypatch.setattr("questionnaire.catalogue.EXTRA_CATALOGUE_DIRS", [TEST_CATALOGUES])
    _clear_catalogue_caches()
    yield get_catalogue()
    monkeypatch.undo()
    _clear_catalogue_caches()


def _clear_catalogue_caches() -> None:
    from questionnaire import api

    get_catalogue.cache_clear()
    api._catalogue_json.cache_clear()
    # The closest cases kept per library hold the catalogue's questions.
    get_library.cache_clear()


@pytest.fixture
def chat_answers(catalogue: Catalogue) -> dict[str, str]:
    return dict(catalogue.preset("chat").answers)


@pytest.fixture
def dashboard_answers(catalogue: Catalogue) -> dict[str, str]:
    return dict(catalogue.preset("dashboard").answers)


@pytest.fixture(autouse=True)
def _request_threads_forget_the_test():
    """After each test, the kept request threads end with their connections.

    A request thread keeps its SQLite connection from one request to the
    next (serving/handlers.py): a later test without database access would
    be refused the check Django makes of it at each request's start.
    """
    yield
    from advisor.asgi import django_asgi_app

    django_asgi_app.threads.end_idle()


def start_daphne() -> tuple[DaphneProcess, str]:
    """The real ASGI application (HTTP and WebSocket) served by daphne in a child process.

    The child is forked: it inherits the settings as they are now (tests
    override them before calling this), but must not share the parent's open
    database connections, pooled ones included.
    """
    connections.close_all()
    # Nor the kept request threads' SQLite connections (a child must not use
    # a connection opened before the fork).
    from advisor.asgi import django_asgi_app

    django_asgi_app.threads.end_idle()
    # PostgreSQL's pool keeps its idle connections open: a child forked with
    # them would talk on the parent's sockets, and a query of each could read
    # the other's answer (psycopg: "the last operation didn't produce
    # records"). Closed here, the parent opens a new pool at its next query.
    for connection in connections.all():
        if connection.alias in getattr(type(connection), "_connection_pools", {}):
            connection.close_pool()
    server = DaphneProcess(
        "127.0.0.1", partial(make_application, static_wrapper=None), setup=_after_fork
    )
    server.start()
    if not server.ready.wait(timeout=20):
        server.terminate()
        raise RuntimeError("daphne did not start within 20 s")
    return server, f"http://127.0.0.1:{server.port.value}"


def _after_fork() -> None:
    """Give the child its own thread for thread-sensitive sync code.

    asgiref runs it on one class-level executor. Once an in-process test has
    used it, the executor believes it has a worker thread, which a forked
    child does not get: the child's sync work (Channels' session and user
    look-up) would wait forever and every WebSocket handshake time out.
    """
    SyncToAsync.single_thread_executor = ThreadPoolExecutor(max_workers=1)


def off_loop(query: Callable[[], Any]) -> Any:
    """Run a database query in a thread of its own, for a test whose thread runs an event loop.

    (Playwright runs one, and Django's ORM refuses to query in such a thread.)
    The thread's connection is closed after: with PostgreSQL's pool it would
    otherwise stay checked out, and a few such queries would exhaust the pool.
    """

    def run() -> Any:
        try:
            return query()
        finally:
            connections.close_all()

    with ThreadPoolExecutor(1) as thread:
        return thread.submit(run).result()


def stop_daphne(server: DaphneProcess) -> None:
    server.terminate()
    server.join(timeout=10)


@pytest.fixture
def daphne_servers() -> Iterator[Callable[[], str]]:
    """Start as many live servers as a test needs (no database); all stop after it."""
    servers = []

    def start() -> str:
        server, url = start_daphne()
        servers.append(server)
        return url

    yield start
    for server in servers:
        stop_daphne(server)


@pytest.fixture
def serve(settings, daphne_servers) -> Callable[..., str]:
    """Start daphne with these LIVE_DEMO options (the demo's and the probes' limits)."""

    def start(**options: Any) -> str:
        settings.LIVE_DEMO = {**settings.LIVE_DEMO, **options}
        return daphne_servers()

    return start


@pytest.fixture
def live_server_url(transactional_db) -> Iterator[str]:
    """A live server for tests that use the database."""
    server, url = start_daphne()
    yield url
    stop_daphne(server)


class BrowserProblems:
    """What the browser reports that no page of ours may cause.

    Content-Security-Policy violations (Chromium says them on the console:
    "Refused to ... because it violates the following Content Security
    Policy directive") and uncaught errors, from every page of every context
    that browser_context_factory makes. A test that causes some on purpose
    takes them with ``take()``; any left fail the test when it ends.
    """

    def __init__(self) -> None:
        self.seen: list[str] = []

    def watch(self, context) -> None:
        # On the context, not a page: pages opened later and popups count too.
        context.on("console", self._console)
        context.on("weberror", self._page_error)

    def _console(self, message) -> None:
        if "Content Security Policy" in message.text:
            where = message.page.url if message.page else "?"
            self.seen.append(f"{message.type} on {where}: {message.text}")

    def _page_error(self, error) -> None:
        where = error.page.url if error.page else "?"
        self.seen.append(f"uncaught error on {where}: {error.error}")

    def take(self) -> list[str]:
        taken, self.seen = self.seen, []
        return taken


@pytest.fixture
def browser_problems(request) -> BrowserProblems:
    problems = BrowserProblems()

    def fail_on_problems() -> None:
        # Runs after browser_context_factory's teardown (it depends on this
        # fixture), when the browser is closed and every event delivered.
        if problems.seen:
            pytest.fail(
                "the browser reported a policy violation or an uncaught error:\n"
                + "\n".join(problems.seen),
                pytrace=False,
            )

    request.addfinalizer(fail_on_problems)
    return problems


@pytest.fixture
def browser_context_factory(live_server_url, browser_problems):
    """Browser contexts of Debian's Chromium, driven by Playwright, on the live server.

    Playwright's own browser download does not work here. Playwright runs an
    event loop in this thread while it is started, which Django's ORM refuses
    to share, so it is started per test and stopped before the database is
    flushed. Every context is watched by browser_problems: a test fails on
    any Content-Security-Policy violation or uncaught error in its pages.
    """
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)

        def new_context(**options):
            context = browser.new_context(base_url=live_server_url, **options)
            context.set_default_timeout(10_000)
            browser_problems.watch(context)
            return context

        yield new_context
        browser.close()


@pytest.fixture
def page(browser_context_factory):
    return browser_context_factory().new_page()
