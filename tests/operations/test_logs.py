"""Request ids and log lines (operations/requests.py, operations/logs.py)."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from unittest.mock import patch

import pytest

from operations import logs as operations_logs
from operations.logs import JsonFormatter, RequestIdFilter
from tests.advisor.test_settings import PRODUCTION, read_settings, run_settings

from .asgi import request

HEX_ID = re.compile(r"[0-9a-f]{32}")


@pytest.fixture
def access_lines(caplog):
    """The access log's records, with the request id filter a real handler has."""
    caplog.handler.addFilter(RequestIdFilter())
    caplog.set_level(logging.INFO, logger="advisor.access")
    yield lambda: [record for record in caplog.records if record.name == "advisor.access"]
    caplog.handler.removeFilter(caplog.handler.filters[-1])


# The request id ---------------------------------------------------------------


@pytest.fixture
def behind_proxy(settings):
    # The test requests come from 127.0.0.1: the proxy.
    settings.TRUSTED_PROXIES = ["127.0.0.1"]


@pytest.mark.asyncio
async def test_request_id_from_proxy_echoed(behind_proxy):
    answer = await request("/healthz", headers={"X-Request-ID": "nginx-7f3a.91_b"})
    assert answer.headers["x-request-id"] == "nginx-7f3a.91_b"


@pytest.mark.asyncio
async def test_request_id_from_a_client_not_believed(behind_proxy):
    answer = await request("/healthz", client="203.0.113.9", headers={"X-Request-ID": "mine"})
    assert HEX_ID.fullmatch(answer.headers["x-request-id"])


@pytest.mark.asyncio
async def test_request_id_not_believed_without_trusted_proxies(settings):
    settings.TRUSTED_PROXIES = []
    answer = await request("/healthz", headers={"X-Request-ID": "mine"})
    assert HEX_ID.fullmatch(answer.headers["x-request-id"])


@pytest.mark.asyncio
async def test_request_id_made_when_absent():
    first = (await request("/healthz")).headers["x-request-id"]
    second = (await request("/healthz")).headers["x-request-id"]
    assert HEX_ID.fullmatch(first)
    assert first != second


@pytest.mark.asyncio
@pytest.mark.parametrize("given", ["two words", "x" * 129, "", "id\u00e9", 'a"b', "a/b"], ids=repr)
async def test_request_id_malformed_replaced(behind_proxy, given):
    answer = await request("/healthz", headers={"X-Request-ID": given})
    assert HEX_ID.fullmatch(answer.headers["x-request-id"])


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_request_id_on_django_views_too(behind_proxy):
    answer = await request("/demo/stats/", headers={"X-Request-ID": "abc-123"})
    assert answer.status == 200
    assert answer.headers["x-request-id"] == "abc-123"


# The access log ------------------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_access_line_per_request(access_lines):
    answer = await request(
        "/demo/stats/",
        headers={"X-Request-ID": "req-1", "X-Forwarded-For": "198.51.100.4"},
        client="203.0.113.9",
    )
    [record] = access_lines()
    line = json.loads(JsonFormatter().format(record))
    assert line["level"] == "INFO"
    assert line["logger"] == "advisor.access"
    # The id the response carried; an untrusted peer's own X-Request-ID is not believed.
    assert line["request_id"] == answer.headers["x-request-id"] != "req-1"
    assert line["method"] == "GET"
    assert line["path"] == "/demo/stats/"
    assert line["status"] == 200
    assert line["route"] == "live_demo:stats"
    # An untrusted peer's X-Forwarded-For is not believed (advisor/clients.py).
    assert line["client"] == "203.0.113.9"
    assert isinstance(line["duration_ms"], float)
    assert line["message"].startswith("GET /demo/stats/ 200 ")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", line["time"])


@pytest.mark.asyncio
async def test_access_line_client_through_trusted_proxy(access_lines, settings):
    settings.TRUSTED_PROXIES = ["127.0.0.1"]
    await request("/healthz", headers={"X-Forwarded-For": "198.51.100.4"})
    [record] = access_lines()
    assert record.client == "198.51.100.4"


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_other_log_lines_of_the_request_carry_its_id(caplog, settings, behind_proxy):
    caplog.handler.addFilter(RequestIdFilter())
    settings.REDIS_URL = "redis://127.0.0.1:1/6"
    await request("/readyz", headers={"X-Request-ID": "probe-42"})
    [warning] = [r for r in caplog.records if r.name == "operations.health"]
    assert warning.getMessage().startswith("readyz: not ready: redis: ConnectionError")
    assert warning.request_id == "probe-42"


def test_json_formatter_one_line_with_exception():
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed\nbadly", (), None)
    try:
        raise ValueError("boom")
    except ValueError:
        import sys

        record.exc_info = sys.exc_info()
    text = JsonFormatter().format(record)
    assert "\n" not in text
    line = json.loads(text)
    assert line["message"] == "failed\nbadly"
    assert "ValueError: boom" in line["exception"]
    assert line["request_id"] == "-"


# The settings --------------------------------------------------------------------


def test_log_format_json_in_production_text_in_development():
    assert read_settings("ADVISOR_LOG_FORMAT", **PRODUCTION) == {"ADVISOR_LOG_FORMAT": "json"}
    assert read_settings("ADVISOR_LOG_FORMAT", DJANGO_DEBUG="1") == {"ADVISOR_LOG_FORMAT": "text"}
    chosen = read_settings("ADVISOR_LOG_FORMAT", ADVISOR_LOG_FORMAT="text", **PRODUCTION)
    assert chosen == {"ADVISOR_LOG_FORMAT": "text"}


def test_log_format_unknown_refused():
    done = run_settings("print('started')", ADVISOR_LOG_FORMAT="xml", DJANGO_DEBUG="1")
    assert done.returncode != 0
    assert "ADVISOR_LOG_FORMAT must be json or text, not 'xml'" in done.stderr


def test_metrics_allow_malformed_refused():
    done = run_settings(
        "print('started')", ADVISOR_METRICS_ALLOW="10.0.0.0/8,intranet", DJANGO_DEBUG="1"
    )
    assert done.returncode != 0
    assert "ADVISOR_METRICS_ALLOW: 'intranet' is not an IP address or network" in done.stderr


SERVE_ONE = """
import asyncio
from asgiref.testing import ApplicationCommunicator
from advisor.asgi import application

async def main():
    scope = {"type": "http", "http_version": "1.1", "method": "GET", "scheme": "http",
             "path": "/healthz", "raw_path": b"/healthz", "query_string": b"",
             "headers": [(b"host", b"10.0.0.7"), (b"x-request-id", b"from-nginx-1")],
             "client": ("127.0.0.1", 5000), "server": ("127.0.0.1", 8000)}
    app = ApplicationCommunicator(application, scope)
    await app.send_input({"type": "http.request", "body": b""})
    await app.receive_output(5)
    await app.receive_output(5)
    await app.wait(5)

asyncio.run(main())
"""


def test_production_server_writes_json_lines_with_the_request_id():
    done = run_settings(SERVE_ONE, DJANGO_TRUSTED_PROXIES="127.0.0.1", **PRODUCTION)
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stderr.splitlines()]
    [access] = [line for line in lines if line["logger"] == "advisor.access"]
    assert access["request_id"] == "from-nginx-1"
    assert access["path"] == "/healthz"
    assert access["status"] == 200
    # From the proxy itself, with no X-Forwarded-For: the proxy is the client.
    assert access["client"] == "127.0.0.1"


def test_access_log_can_be_turned_off():
    done = run_settings(SERVE_ONE, ADVISOR_ACCESS_LOG="0", **PRODUCTION)
    assert done.returncode == 0, done.stderr
    assert "advisor.access" not in done.stderr


def test_access_log_off_in_development_unless_asked():
    done = run_settings(SERVE_ONE, DJANGO_DEBUG="1", DJANGO_ALLOWED_HOSTS="10.0.0.7")
    assert done.returncode == 0, done.stderr
    assert "advisor.access" not in done.stderr
    done = run_settings(
        SERVE_ONE,
        DJANGO_DEBUG="1",
        DJANGO_ALLOWED_HOSTS="10.0.0.7",
        ADVISOR_ACCESS_LOG="1",
        DJANGO_TRUSTED_PROXIES="127.0.0.1",
    )
    assert done.returncode == 0, done.stderr
    # Readable text in development, with the request id.
    assert "INFO advisor.access [from-nginx-1] GET /healthz 200" in done.stderr


@pytest.mark.asyncio
async def test_feed_started_in_a_request_logs_outside_it(caplog):
    from live_demo.feed import Feed
    from operations.logs import request_id

    caplog.handler.addFilter(RequestIdFilter())
    feed = Feed({"HISTORY": 5, "FEED_RATE": 50.0, "MAX_BACKLOG_EVENTS": 5})
    token = request_id.set("first-request")
    with patch.object(Feed, "publish", side_effect=RuntimeError("tick")):
        await feed.start()
        request_id.reset(token)
        await asyncio.sleep(0.1)
        await feed.aclose()
    failures = [r for r in caplog.records if r.getMessage() == "live demo feed: tick failed"]
    assert failures
    assert {record.request_id for record in failures} == {"-"}


# No secrets in the logs ------------------------------------------------------------

SHARE_SECRET = "SHARESECRET123abc"


@pytest.fixture
def log_lines():
    """Lines as the configured handler writes them, for the loggers a request writes to."""
    import io

    from operations.logs import SecretPathFilter, TextFormatter

    buffers = []
    handlers = []
    names = ["django.request", "django.security.csrf", "advisor.access"]

    def lines(log_format: str = "json") -> io.StringIO:
        buffer = io.StringIO()
        handler = logging.StreamHandler(buffer)
        handler.addFilter(RequestIdFilter())
        handler.addFilter(SecretPathFilter())
        text = TextFormatter(operations_logs.TEXT_FORMAT)
        handler.setFormatter(JsonFormatter() if log_format == "json" else text)
        for name in names:
            logging.getLogger(name).addHandler(handler)
        buffers.append(buffer)
        handlers.append(handler)
        return buffer

    levels = {name: logging.getLogger(name).level for name in names}
    for name in names:
        logging.getLogger(name).setLevel(logging.INFO)
    yield lines
    for name in names:
        logger = logging.getLogger(name)
        logger.setLevel(levels[name])
        for handler in handlers:
            logger.removeHandler(handler)


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_not_found_line_without_query_string(log_lines):
    buffer = log_lines()
    await request("/nope/", query="token=SUPERSECRET&code=OIDC-CODE")
    text = buffer.getvalue()
    assert "SUPERSECRET" not in text and "OIDC-CODE" not in text
    warning = next(json.loads(line) for line in text.splitlines() if "Not Found" in line)
    assert warning["request"] == "GET /nope/"
    assert warning["status_code"] == 404


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_csrf_refusal_line_without_query_string(log_lines, settings):
    settings.ADVISOR_ANONYMOUS = True
    buffer = log_lines()
    answer = await request(
        "/assessments/new/",
        method="POST",
        query="token=SUPERSECRET2",
        headers={"Cookie": "sessionid=SESSIONVALUE"},
    )
    assert answer.status == 403
    text = buffer.getvalue()
    assert "Forbidden (CSRF" in text
    assert "SUPERSECRET2" not in text and "SESSIONVALUE" not in text


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_share_link_secret_redacted(log_lines):
    buffer = log_lines()
    await request(f"/shared/{SHARE_SECRET}/")
    await request(f"/shared/{SHARE_SECRET}/report.pdf")
    await request(f"/shared/{SHARE_SECRET}/no/such/page/")
    text = buffer.getvalue()
    assert SHARE_SECRET not in text
    paths = [json.loads(line).get("path") for line in text.splitlines()]
    assert "/shared/…/" in paths
    assert "/shared/…/report.pdf" in paths


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_assessment_ids_redacted_when_anonymous(log_lines, settings):
    settings.ADVISOR_ANONYMOUS = True
    buffer = log_lines()
    await request("/assessments/00000000-0000-4000-8000-000000000000/")
    await request("/api/assessments/00000000-0000-4000-8000-000000000000/")
    text = buffer.getvalue()
    assert "00000000-0000-4000-8000-000000000000" not in text
    assert '"path": "/assessments/…/"' in text


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_assessment_ids_kept_with_sign_in(log_lines, settings):
    # An id opens nothing without a member's sign-in: it stays, for tracing.
    settings.ADVISOR_ANONYMOUS = False
    buffer = log_lines()
    await request("/assessments/00000000-0000-4000-8000-000000000000/")
    assert "/assessments/00000000-0000-4000-8000-000000000000/" in buffer.getvalue()


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_text_lines_cannot_be_forged_by_a_path(log_lines):
    buffer = log_lines("text")
    await request("/x\n2026-01-01 INFO advisor.access [fake] GET /admin/ 200")
    lines = buffer.getvalue().splitlines()
    assert lines
    assert not any(line.startswith("2026-01-01 INFO") for line in lines)
    assert any("/x\\x0a2026-01-01" in line for line in lines)


def test_json_formatter_request_extra_that_is_not_a_request_kept():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "note", (), None)
    record.request = "a label"
    assert json.loads(JsonFormatter().format(record))["request"] == "a label"
