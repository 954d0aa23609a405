"""An unreachable database: 503 with a clear message, never a 500 or a hang; back
without a restart when it returns (advisor/views.py, operations/requests.py)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from contextlib import contextmanager
from unittest.mock import patch

import pytest
from django.conf import settings as django_settings
from django.db import OperationalError, connections

from tests.advisor.test_settings import PRODUCTION, environment

from .asgi import request

UNREACHABLE = "The database is unreachable; try again in a moment."
TOKEN = {"Authorization": "Bearer adv_0123456789abcdef"}  # well formed, so it is looked up
MISSING = "00000000-0000-4000-8000-000000000000"


@contextmanager
def database_down():
    """Every query fails as with a database that refuses connections."""
    error = OperationalError('connection to server at "127.0.0.1", port 5432 failed: refused')
    with patch.object(type(connections["default"]), "cursor", side_effect=error):
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
    # Not a hang: each answer within the pool's wait (DATABASE_POOL_TIMEOUT, 3 s) and a bit.
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
        ADVISOR_ANONYMOUS="1",
        ADVISOR_ACCESS_LOG="0",
        **PRODUCTION,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    [(status, body, seconds)] = json.loads(done.stdout.strip().splitlines()[-1])["down"]
    assert status == 503
    assert json.loads(body) == {"errors": {"database": UNREACHABLE}}
    assert seconds < 5
