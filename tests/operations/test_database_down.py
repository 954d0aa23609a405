"""An unreachable database: 503 with a clear message, never a 500 or a hang; back
without a restart when it returns (advisor/views.py, operations/requests.py)."""

from __future__ import annotations

import json
import socket
import sqlite3
import subprocess
import sys
from contextlib import contextmanager
from unittest.mock import patch

import psycopg
import pytest
from django.conf import settings as django_settings
from django.db import OperationalError, connections

from tests.advisor.test_settings import PRODUCTION, environment

from .asgi import request

UNREACHABLE = "The database is unreachable; try again in a moment."
TOKEN = {"Authorization": "Bearer adv_0123456789abcdef"}  # well formed, so it is looked up
MISSING = "00000000-0000-4000-8000-000000000000"


def failing(driver_error: Exception):
    """A cursor that raises as Django does: its OperationalError, the driver's as the cause."""

    def cursor(*args, **kwargs):
        raise OperationalError(str(driver_error)) from driver_error

    return patch.object(type(connections["default"]), "cursor", cursor)


@contextmanager
def database_down():
    """Every query fails as with a database that refuses connections."""
    refused = psycopg.OperationalError(
        'connection to server at "127.0.0.1", port 5432 failed: Connection refused'
    )
    with failing(refused):
        yield


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_page_503_with_clear_message(settings):
    settings.ADVISOR_ANONYMOUS = True
    with database_down():
        answer = await request(f"/assessments/{MISSING}/")
    assert answer.status == 503
    assert answer.headers["retry-after"] == "5"
    assert answer.headers["content-type"].startswith("text/html")
    assert b"The database is unreachable; try again in a moment" in answer.body


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_api_503_json_with_retry_after(settings):
    settings.ADVISOR_ANONYMOUS = True
    with database_down():
        answer = await request(f"/api/assessments/{MISSING}/")
    assert answer.status == 503
    assert answer.headers["retry-after"] == "5"
    assert answer.json() == {"errors": {"database": UNREACHABLE}}


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_api_token_check_with_database_down_503_not_401():
    with database_down():
        answer = await request("/api/assessments/", headers=TOKEN)
    assert answer.status == 503
    assert answer.json() == {"errors": {"database": UNREACHABLE}}


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_decision_stream_503_json():
    with database_down():
        answer = await request("/decisions/stream/", headers=TOKEN)
    assert answer.status == 503
    assert answer.headers["retry-after"] == "5"
    assert answer.json() == {"errors": {"database": UNREACHABLE}}


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_other_errors_still_500(settings):
    settings.ADVISOR_ANONYMOUS = True
    with patch.object(type(connections["default"]), "cursor", side_effect=RuntimeError("a bug")):
        answer = await request(f"/api/assessments/{MISSING}/")
    assert answer.status == 500


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_database_down_counted_as_503(settings):
    from prometheus_client import REGISTRY

    settings.ADVISOR_ANONYMOUS = True
    labels = {"route": "questionnaire:api-assessment", "method": "GET", "status": "503"}
    before = REGISTRY.get_sample_value("advisor_http_requests_total", labels) or 0
    with database_down():
        await request(f"/api/assessments/{MISSING}/")
    assert REGISTRY.get_sample_value("advisor_http_requests_total", labels) == before + 1


# A real PostgreSQL ------------------------------------------------------------------

POSTGRES = ("127.0.0.1", 5432)
DATABASE = "advisor_ops"

# In a fresh server process: the app's PostgreSQL reached through a TCP relay
# that the script cuts and restores, as a database that stops and comes back.
OUTAGE = """
import asyncio, json, socket, threading, time
from asgiref.testing import ApplicationCommunicator

class Relay:
    def __init__(self, port, target):
        self.port, self.target, self.server, self.links = port, target, None, set()
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, daemon=True).start()

    async def _pipe(self, reader, writer):
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except Exception:
            pass
        finally:
            writer.close()

    async def _link(self, reader, writer):
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self.links.update({writer, up_writer})
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))

    async def _up(self):
        self.server = await asyncio.start_server(self._link, "127.0.0.1", self.port,
                                                 reuse_address=True)

    async def _down(self):
        self.server.close()
        for writer in list(self.links):
            writer.transport.abort()
        self.links.clear()

    def up(self):
        asyncio.run_coroutine_threadsafe(self._up(), self.loop).result()

    def down(self):
        asyncio.run_coroutine_threadsafe(self._down(), self.loop).result()

relay = Relay(PORT, ("127.0.0.1", 5432))
if not OUTAGE_ONLY:
    relay.up()

import django
django.setup()
from advisor.asgi import application

async def get(path):
    scope = {"type": "http", "http_version": "1.1", "method": "GET", "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"",
             "headers": [(b"host", b"advisor.example")], "client": ("127.0.0.1", 5000),
             "server": ("127.0.0.1", 8000)}
    app = ApplicationCommunicator(application, scope)
    started = time.monotonic()
    await app.send_input({"type": "http.request", "body": b""})
    start = await app.receive_output(15)
    body = await app.receive_output(15)
    await app.wait(15)
    return start["status"], body["body"].decode(), round(time.monotonic() - started, 2)

async def main():
    seen = {}
    if not OUTAGE_ONLY:
        seen["up"] = [await get(path) for path in PATHS]
        relay.down()
    seen["down"] = [await get(path) for path in PATHS]
    if not OUTAGE_ONLY:
        relay.up()
        back = time.monotonic()
        while True:
            seen["back"] = [await get(path) for path in PATHS]
            if all(status != 503 for status, _, _ in seen["back"]) or time.monotonic() > back + 20:
                break
            await asyncio.sleep(0.2)
        seen["back_after"] = round(time.monotonic() - back, 2)
    print(json.dumps(seen))

asyncio.run(main())
"""


def postgres_available() -> bool:
    try:
        socket.create_connection(POSTGRES, timeout=1).close()
    except OSError:
        return False
    return True


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run(code: str, **variables: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=django_settings.BASE_DIR,
        env=environment(**variables),
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def ops_database() -> str:
    """advisor_ops on the local PostgreSQL, created and migrated if need be."""
    if not postgres_available():
        pytest.skip("no PostgreSQL at 127.0.0.1:5432")
    import psycopg

    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as db:
        if not db.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE]).fetchone():
            db.execute(f"CREATE DATABASE {DATABASE}")
    url = f"postgres://postgres@127.0.0.1:5432/{DATABASE}"
    done = run(
        "import django, sys\ndjango.setup()\nfrom django.core.management import call_command\n"
        "call_command('migrate', verbosity=0)",
        DJANGO_SETTINGS_MODULE="advisor.settings",
        DATABASE_URL=url,
        **PRODUCTION,
    )
    assert done.returncode == 0, done.stderr
    return url


def test_postgres_outage_503_then_recovers_without_restart(ops_database):
    port = free_port()
    paths = [f"/assessments/{MISSING}/", f"/api/assessments/{MISSING}/", "/readyz"]
    code = f"PORT = {port}\nPATHS = {paths!r}\nOUTAGE_ONLY = False\n" + OUTAGE
    done = run(
        code,
        DJANGO_SETTINGS_MODULE="advisor.settings",
        DATABASE_URL=f"postgres://postgres@127.0.0.1:{port}/{DATABASE}",
        # The pool's wait, cut to 1 s: the bound below is a hang's, not a speed.
        DATABASE_POOL_TIMEOUT="1",
        ADVISOR_ANONYMOUS="1",
        ADVISOR_ACCESS_LOG="0",
        **PRODUCTION,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    page, api, ready = seen["up"]
    assert (page[0], api[0], ready[0]) == (404, 404, 200)

    page, api, ready = seen["down"]
    assert page[0] == 503
    assert "The database is unreachable; try again in a moment" in page[1]
    assert api[0] == 503
    assert json.loads(api[1]) == {"errors": {"database": UNREACHABLE}}
    assert ready[0] == 503
    assert json.loads(ready[1])["reason"].startswith("database: unreachable")
    # Not a hang: each answer within the pool's wait (1 s here) and a margin for a busy machine.
    assert all(seconds < 5 for _, _, seconds in seen["down"]), seen["down"]

    page, api, ready = seen["back"]
    assert (page[0], api[0], ready[0]) == (404, 404, 200), seen


def test_postgres_not_listening_at_all_503(ops_database):
    # The relay never listens: nothing answers on the port at all.
    port = free_port()
    code = f"PORT = {port}\nPATHS = ['/api/assessments/{MISSING}/']\nOUTAGE_ONLY = True\n" + OUTAGE
    done = run(
        code,
        DJANGO_SETTINGS_MODULE="advisor.settings",
        DATABASE_URL=f"postgres://postgres@127.0.0.1:{port}/{DATABASE}",
        # The pool's wait, cut to 1 s: the bound below is a hang's, not a speed.
        DATABASE_POOL_TIMEOUT="1",
        ADVISOR_ANONYMOUS="1",
        ADVISOR_ACCESS_LOG="0",
        **PRODUCTION,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    [(status, body, seconds)] = json.loads(done.stdout.strip().splitlines()[-1])["down"]
    assert status == 503
    assert json.loads(body) == {"errors": {"database": UNREACHABLE}}
    # Not a hang: within the pool's wait and a margin for a busy machine.
    assert seconds < 5


# Busy, not down; faults, not outages (operations/outages.py) -------------------------

BUSY = "The server is busy; try again in a moment."


def pool_timeout():
    from psycopg_pool import PoolTimeout

    return failing(PoolTimeout("couldn't get a connection after 3.00 sec"))


@pytest.fixture
def fresh_probe():
    from operations import health

    health.forget()
    yield health
    health.forget()


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_pool_busy_while_the_database_answers_is_busy_not_down(settings, fresh_probe):
    settings.ADVISOR_ANONYMOUS = True
    with pool_timeout(), patch.object(fresh_probe.database_probe, "check", lambda: None):
        page = await request(f"/assessments/{MISSING}/")
        api = await request(f"/api/assessments/{MISSING}/")
        stream = await request("/decisions/stream/", headers=TOKEN)
        ready = await request("/readyz")
    assert (page.status, page.headers["retry-after"]) == (503, "2")
    assert b"The server is busy; try again in a moment" in page.body
    assert b"unreachable" not in page.body
    assert (api.status, api.json()) == (503, {"errors": {"database": BUSY}})
    assert (stream.status, stream.json()) == (503, {"errors": {"database": BUSY}})
    # A busy process stays in the load balancer.
    assert ready.status == 200


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_pool_timeout_with_the_database_gone_is_unreachable(settings, fresh_probe):
    settings.ADVISOR_ANONYMOUS = True

    def refuse() -> None:
        raise psycopg.OperationalError("connection refused")

    with pool_timeout(), patch.object(fresh_probe.database_probe, "check", refuse):
        api = await request(f"/api/assessments/{MISSING}/")
    assert (api.status, api.json()) == (503, {"errors": {"database": UNREACHABLE}})


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "error",
    [
        sqlite3.OperationalError("no such table: questionnaire_assessment"),
        sqlite3.OperationalError("database is locked"),
        psycopg.errors.DeadlockDetected("deadlock detected"),
        psycopg.errors.SerializationFailure("could not serialize access"),
        psycopg.errors.QueryCanceled("canceling statement due to statement timeout"),
        psycopg.errors.UndefinedTable('relation "x" does not exist'),
    ],
    ids=["no-such-table", "locked", "deadlock", "serialization", "statement-timeout", "no-table"],
)
async def test_database_faults_are_500_not_an_outage(settings, error):
    settings.ADVISOR_ANONYMOUS = True
    with failing(error):
        api = await request(f"/api/assessments/{MISSING}/")
        page = await request(f"/assessments/{MISSING}/")
    assert api.status == 500
    assert page.status == 500


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "error",
    [
        psycopg.OperationalError("consuming input failed: server closed the connection"),
        psycopg.errors.AdminShutdown("terminating connection due to administrator command"),
        psycopg.errors.lookup("08006")("connection failure"),
    ],
    ids=["closed", "admin-shutdown", "class-08"],
)
async def test_connection_failures_are_an_outage(settings, error):
    settings.ADVISOR_ANONYMOUS = True
    with failing(error):
        api = await request(f"/api/assessments/{MISSING}/")
    assert (api.status, api.json()) == (503, {"errors": {"database": UNREACHABLE}})


# In a fresh server process on the real PostgreSQL: requests to the served
# application (advisor/asgi.py), each answered as status, body and seconds.
SERVED = """
import asyncio, json, time
import django
django.setup()
from django.db import connections
from asgiref.testing import ApplicationCommunicator
from advisor.asgi import application

async def get(path):
    scope = {"type": "http", "http_version": "1.1", "method": "GET", "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"",
             "headers": [(b"host", b"advisor.example")], "client": ("127.0.0.1", 5000),
             "server": ("127.0.0.1", 8000)}
    app = ApplicationCommunicator(application, scope)
    started = time.monotonic()
    await app.send_input({"type": "http.request", "body": b""})
    start = await app.receive_output(15)
    body = await app.receive_output(15)
    await app.wait(15)
    seconds = round(time.monotonic() - started, 2)
    return start["status"], body["body"].decode(errors="replace"), seconds
"""

# Every connection of the pool held, as by requests that are slow to finish.
BUSY_POOL = (
    SERVED
    + """
pool = connections["default"].pool
pool.open(wait=True)
held = [pool.getconn() for _ in range(pool.max_size)]
seen = {"max_size": pool.max_size}
async def main():
    seen["busy"] = [await get(path) for path in PATHS]
asyncio.run(main())
for connection in held:
    pool.putconn(connection)
print(json.dumps(seen))
"""
)


def test_postgres_pool_busy_503_busy_and_still_ready(ops_database):
    paths = [f"/api/assessments/{MISSING}/", "/readyz"]
    done = run(
        f"PATHS = {paths!r}\n" + BUSY_POOL,
        DJANGO_SETTINGS_MODULE="advisor.settings",
        DATABASE_URL=ops_database,
        DATABASE_POOL_TIMEOUT="1",
        ADVISOR_ANONYMOUS="1",
        ADVISOR_ACCESS_LOG="0",
        **PRODUCTION,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["max_size"] == 10
    api, ready = seen["busy"]
    assert api[0] == 503
    assert json.loads(api[1]) == {"errors": {"database": BUSY}}
    assert ready[0] == 200, ready


# Downloads whose renders are held (the render queue), more of them than the
# pool has connections; then a request that needs one.
RENDERS_HELD = (
    SERVED
    + """
from questionnaire import report_cache
from questionnaire.catalogue import get_catalogue
from questionnaire.models import Assessment

pk = Assessment.create_scored("Held", dict(get_catalogue().preset("chat").answers))[0].pk
connections.close_all()
waiting = []

async def held(key, html):
    waiting.append(key)
    await gate.wait()
    return b"%PDF-held"

report_cache._render = held

async def main():
    global gate
    gate = asyncio.Event()
    path = f"/assessments/{pk}/report.pdf"
    downloads = [asyncio.create_task(get(path)) for _ in range(DOWNLOADS)]
    for _ in range(100):
        if len(waiting) == DOWNLOADS or all(task.done() for task in downloads):
            break
        await asyncio.sleep(0.05)
    seen["waiting"] = len(waiting)
    seen["meanwhile"] = await get(f"/api/assessments/{pk}/")
    gate.set()
    seen["downloads"] = [status for status, _, _ in await asyncio.gather(*downloads)]

seen = {}
asyncio.run(main())
print(json.dumps(seen))
"""
)


def test_postgres_downloads_waiting_for_renders_hold_no_connection(ops_database):
    # Twice as many downloads waiting for their renders as the pool has
    # connections: each gave its connection back after its reads, so all
    # reach the render queue and a request meanwhile gets one at once.
    done = run(
        "DOWNLOADS = 4\n" + RENDERS_HELD,
        DJANGO_SETTINGS_MODULE="advisor.settings",
        DATABASE_URL=ops_database,
        DATABASE_POOL_MAX_SIZE="2",
        DATABASE_POOL_TIMEOUT="1",
        ADVISOR_ANONYMOUS="1",
        ADVISOR_ACCESS_LOG="0",
        **PRODUCTION,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["waiting"] == 4, seen
    status, _, _ = seen["meanwhile"]
    assert status == 200, seen["meanwhile"]
    assert seen["downloads"] == [200] * 4
