"""The demo page and the HTTP endpoints of the SSE side: send, drop, stats."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import itertools
import json
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from urllib.parse import urlencode

import pytest
import redis
from django.templatetags.static import static
from django.test import AsyncClient, Client
from django.test.client import MULTIPART_CONTENT
from django.urls import reverse

from live_demo.feed import current_feed, get_feed
from live_demo.views import MAX_SEND_BODY

SEND = "/demo/send/"
DROP = "/demo/drop/"
STATS = "/demo/stats/"
MAX_BINARY = 1024 * 1024
# Nothing listens on port 1: a Redis server that is down.
REDIS_DOWN = "redis://127.0.0.1:1/0"
# The feed gives a Redis it cannot reach 10 s to answer before it gives up.
FEED_START_TIMEOUT = 15.0

_addresses = itertools.count(1)


def new_address() -> str:
    number = next(_addresses)
    return f"10.77.{number // 250 % 250}.{number % 250 + 1}"


class DemoClient(AsyncClient):
    """An async test client with an address of its own: /demo/send/ limits the rate per address,
    and the limiters outlive a test."""

    def __init__(self, address: str, **options) -> None:
        super().__init__(**options)
        self.address = address

    def _base_scope(self, **request) -> dict:
        return {**super()._base_scope(**request), "client": [self.address, 0]}


@pytest.fixture
def address() -> str:
    return new_address()


@pytest.fixture
def demo_client(address) -> DemoClient:
    return DemoClient(address)


async def post_json(client: AsyncClient, path: str, body: object):
    return await client.post(path, json.dumps(body), content_type="application/json")


async def post_form(client: AsyncClient, path: str, fields: dict[str, str]):
    """An HTML form's POST: application/x-www-form-urlencoded."""
    return await client.post(
        path, urlencode(fields), content_type="application/x-www-form-urlencoded"
    )


async def csrf_client() -> DemoClient:
    """A client that the CSRF check applies to, holding the page's csrftoken cookie."""
    client = DemoClient(new_address(), enforce_csrf_checks=True)
    await client.get("/demo/")
    return client


async def chat_event(ack_id: int):
    """The chat event a 201 acknowledged, read back from the feed's history."""
    feed = await get_feed()
    events = (await feed.history_after(ack_id - 1)).events
    assert events[0].id == ack_id
    return events[0]


@pytest.fixture
def redis_down(settings, demo_options) -> dict:
    """The feed on a Redis server that is not there."""
    settings.LIVE_DEMO = {**settings.LIVE_DEMO, "REDIS_URL": REDIS_DOWN}
    return settings.LIVE_DEMO


@pytest.fixture
def doomed_redis(settings, demo_options) -> Iterator[Callable[[], None]]:
    """The feed on a Redis server of its own, which the test stops (returns the stopper)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", ""],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            assert time.monotonic() < deadline, "redis-server did not start within 10 s"
            time.sleep(0.02)
    client.close()
    settings.LIVE_DEMO = {**settings.LIVE_DEMO, "REDIS_URL": url, "REDIS_PREFIX": "doomed"}

    def stop() -> None:
        server.terminate()
        server.wait(timeout=10)

    yield stop
    if server.poll() is None:
        stop()


async def feed_then_redis_gone(stop: Callable[[], None]) -> None:
    """A running feed whose Redis server then goes away."""
    await get_feed()
    stop()


# The page ------------------------------------------------------------------------


def test_demo_page_renders_both_panels(client):
    response = client.get("/demo/")

    assert response.status_code == 200
    content = response.content.decode()
    assert 'data-panel="websocket"' in content
    assert 'data-panel="sse"' in content


def test_demo_page_links_back_to_the_questionnaire(client):
    content = client.get("/demo/").content.decode()

    assert f'href="{reverse("questionnaire:new")}"' in content


def test_demo_page_sets_the_csrf_cookie(client):
    response = client.get("/demo/")

    assert response.cookies["csrftoken"].value


def test_demo_page_loads_demo_script(client):
    content = client.get("/demo/").content.decode()

    assert f'src="{static("js/demo.js")}"' in content


def test_events_without_asgi_router_is_unavailable(client):
    response = client.get("/demo/events/")

    assert response.status_code == 503
    assert "ASGI" in response.json()["errors"]["stream"]


# POST /demo/send/ -------------------------------------------------------------------


def test_send_without_csrf_token_forbidden(address):
    client = Client(enforce_csrf_checks=True, REMOTE_ADDR=address)

    response = client.post(SEND, {"type": "chat", "text": "hi"}, content_type="application/json")

    assert response.status_code == 403
    assert "X-CSRFToken" in response.json()["errors"]["csrf"]


@pytest.mark.asyncio
async def test_send_with_csrf_token_accepted(fresh_feed, address):
    client = DemoClient(address, enforce_csrf_checks=True)
    await client.get("/demo/")
    token = client.cookies["csrftoken"].value

    response = await client.post(
        SEND,
        {"type": "chat", "text": "hi"},
        content_type="application/json",
        headers={"X-CSRFToken": token},
    )

    assert response.status_code == 201


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        pytest.param("type=chat&text=hi", "application/x-www-form-urlencoded", id="form"),
        pytest.param({"type": "chat", "text": "hi"}, MULTIPART_CONTENT, id="multipart"),
    ],
)
def test_send_form_without_csrf_token_forbidden(address, body, content_type):
    client = Client(enforce_csrf_checks=True, REMOTE_ADDR=address)

    response = client.post(SEND, body, content_type=content_type)

    assert response.status_code == 403
    assert response["Content-Type"] == "application/json"
    assert response.json()["errors"]["csrf"]


@pytest.mark.asyncio
async def test_send_form_with_csrf_field_accepted(fresh_feed):
    client = await csrf_client()
    token = client.cookies["csrftoken"].value

    response = await post_form(
        client, SEND, {"type": "chat", "text": "hi", "csrfmiddlewaretoken": token}
    )

    assert response.status_code == 201


@pytest.mark.asyncio
async def test_send_multipart_form_with_csrf_field_accepted(fresh_feed):
    client = await csrf_client()
    token = client.cookies["csrftoken"].value

    response = await client.post(
        SEND, {"type": "chat", "text": "hi", "csrfmiddlewaretoken": token}
    )

    assert response.status_code == 201
    assert (await chat_event(response.json()["id"])).payload["text"] == "hi"


@pytest.mark.asyncio
async def test_send_multipart_form_binary_with_csrf_field_acknowledged(fresh_feed):
    client = await csrf_client()
    token = client.cookies["csrftoken"].value
    data = bytes(range(256))

    response = await client.post(
        SEND,
        {"type": "binary", "data": base64.b64encode(data).decode(), "csrfmiddlewaretoken": token},
    )

    assert response.status_code == 200
    assert response.json()["sha256"] == hashlib.sha256(data).hexdigest()
    assert response.json()["wire_bytes"] > len(base64.b64encode(data))


@pytest.mark.asyncio
async def test_send_form_with_csrf_header_accepted(fresh_feed):
    client = await csrf_client()

    response = await client.post(
        SEND,
        "text=hi",
        content_type="application/x-www-form-urlencoded",
        headers={"X-CSRFToken": client.cookies["csrftoken"].value},
    )

    assert response.status_code == 201


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/xml", "application/octet-stream"]
)
async def test_send_other_content_type_unsupported(fresh_feed, demo_client, content_type):
    response = await demo_client.post(
        SEND, '{"type": "chat", "text": "hi"}', content_type=content_type
    )

    assert response.status_code == 415
    message = response.json()["errors"]["body"]
    assert "JSON" in message
    assert "form" in message


@pytest.mark.asyncio
async def test_send_form_chat_published(fresh_feed, demo_client):
    connection = uuid.uuid4().hex
    fields = {"type": "chat", "text": " from a form ", "nonce": "f-1", "connection": connection}

    response = await post_form(demo_client, SEND, fields)

    assert response.status_code == 201
    assert response.json()["type"] == "chat_ack"
    chat = await chat_event(response.json()["id"])
    sender = hashlib.sha256(f"sender:{connection}".encode()).hexdigest()[:12]
    assert chat.payload == {"text": "from a form", "via": "sse", "sender": sender, "nonce": "f-1"}


@pytest.mark.asyncio
async def test_send_form_chat_without_type_published(fresh_feed, demo_client):
    response = await post_form(demo_client, SEND, {"text": "no type"})

    assert response.status_code == 201
    chat = await chat_event(response.json()["id"])
    assert chat.type == "chat"
    assert chat.payload["text"] == "no type"


@pytest.mark.asyncio
async def test_send_multipart_form_chat_published(fresh_feed, demo_client):
    response = await demo_client.post(SEND, {"type": "chat", "text": "multipart"})

    assert response.status_code == 201
    assert (await chat_event(response.json()["id"])).payload["text"] == "multipart"


@pytest.mark.asyncio
async def test_send_form_binary_acknowledged(fresh_feed, demo_client):
    # Bytes whose base64 holds "+", "/" and "=", which a form must carry intact.
    data = b"\xfb\xff\xfe" * 100 + b"\x00"
    encoded = base64.b64encode(data).decode()
    assert {"+", "/", "="} <= set(encoded)

    response = await post_form(demo_client, SEND, {"type": "binary", "data": encoded})

    assert response.status_code == 200
    receipt = response.json()
    assert receipt["type"] == "binary_ack"
    assert receipt["size"] == len(data)
    assert receipt["sha256"] == hashlib.sha256(data).hexdigest()


@pytest.mark.asyncio
async def test_send_form_chat_too_long_rejected(fresh_feed, demo_client):
    response = await post_form(demo_client, SEND, {"text": "x" * 501})

    assert response.status_code == 400
    assert response.json()["code"] == "chat_too_long"


@pytest.mark.asyncio
async def test_send_form_body_over_the_limit_too_large(fresh_feed, demo_client):
    response = await post_form(demo_client, SEND, {"text": "x" * MAX_SEND_BODY})

    assert response.status_code == 413
    assert str(MAX_SEND_BODY) in response.json()["errors"]["body"]


@pytest.mark.asyncio
async def test_send_json_chat_without_type_published(fresh_feed, demo_client):
    response = await post_json(demo_client, SEND, {"text": "no type"})

    assert response.status_code == 201
    chat = await chat_event(response.json()["id"])
    assert chat.type == "chat"
    assert chat.payload["text"] == "no type"


@pytest.mark.asyncio
async def test_send_invalid_json_rejected(fresh_feed, demo_client):
    response = await demo_client.post(SEND, '{"type": "chat",', content_type="application/json")

    assert response.status_code == 400
    assert "not valid JSON" in response.json()["errors"]["body"]


@pytest.mark.asyncio
@pytest.mark.parametrize("body", [[], ["chat"], "chat", 42, None])
async def test_send_non_object_rejected(fresh_feed, demo_client, body):
    response = await post_json(demo_client, SEND, body)

    assert response.status_code == 400
    assert "object" in response.json()["errors"]["body"]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "body",
    [{}, {"nonce": "n"}, {"type": "ping"}, {"type": 1}, {"type": "ping", "text": "hi"}],
)
async def test_send_missing_or_unknown_type_rejected(fresh_feed, demo_client, body):
    response = await post_json(demo_client, SEND, body)

    assert response.status_code == 400
    assert response.json()["errors"]["type"]


@pytest.mark.asyncio
@pytest.mark.parametrize("text", ["", "   ", None, 42])
async def test_send_chat_empty_rejected(fresh_feed, demo_client, text):
    body = {"type": "chat"} if text is None else {"type": "chat", "text": text}

    response = await post_json(demo_client, SEND, body)

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_chat"
    assert "non-empty" in response.json()["errors"]["text"]


@pytest.mark.asyncio
async def test_send_chat_too_long_rejected(fresh_feed, demo_client):
    response = await post_json(demo_client, SEND, {"type": "chat", "text": "x" * 501})

    assert response.status_code == 400
    assert response.json()["code"] == "chat_too_long"
    assert "500" in response.json()["errors"]["text"]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "body",
    [{"type": "chat", "text": "x \ud800"}, {"text": "\udfff"}, {"text": "hi", "nonce": "\ud800"}],
    ids=["lone-high-surrogate", "lone-low-surrogate-no-type", "surrogate-nonce"],
)
async def test_send_chat_lone_surrogate_rejected_nothing_published(
    fresh_feed, settings, demo_client, body
):
    # json.dumps escapes the surrogate (\ud800), as a browser's JSON.stringify does.
    settings.LIVE_DEMO = {**settings.LIVE_DEMO, "FEED_RATE": 0}  # no ticks: only chats take ids
    feed = await get_feed()
    before = feed.last_id

    response = await post_json(demo_client, SEND, body)

    assert response.status_code == 400
    assert response.json()["code"] in {"invalid_chat", "invalid_nonce"}
    assert feed.last_id == before
    assert (await feed.history_after(0))[0] == []
    # The feed goes on: the next chat takes the next id.
    response = await post_json(demo_client, SEND, {"text": "after"})
    assert response.status_code == 201
    assert response.json()["id"] == before + 1


@pytest.mark.asyncio
async def test_send_chat_at_the_limit_accepted(fresh_feed, demo_client):
    response = await post_json(demo_client, SEND, {"type": "chat", "text": "x" * 500})

    assert response.status_code == 201


@pytest.mark.asyncio
async def test_send_chat_published_to_the_feed(fresh_feed, demo_client):
    connection = uuid.uuid4().hex
    message = {"type": "chat", "text": " hello ", "nonce": "n-1", "connection": connection}

    response = await post_json(demo_client, SEND, message)

    assert response.status_code == 201
    ack = response.json()
    assert ack["type"] == "chat_ack"
    chat = await chat_event(ack["id"])
    assert chat.ts == ack["ts"]
    assert chat.type == "chat"
    sender = hashlib.sha256(f"sender:{connection}".encode()).hexdigest()[:12]
    assert chat.payload == {"text": "hello", "via": "sse", "sender": sender, "nonce": "n-1"}


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "connection",
    [
        pytest.param("abc", id="short"),
        pytest.param("0" * 31, id="31-hex"),
        pytest.param("0" * 33, id="33-hex"),
        pytest.param("g" * 32, id="32-not-hex"),
        pytest.param(f" {'0' * 32}", id="padded"),
        pytest.param(42, id="number"),
        pytest.param(None, id="null"),
        pytest.param(["0" * 32], id="list"),
        pytest.param("x" * 200_000, id="200KB"),
    ],
)
async def test_send_chat_junk_connection_accepted_without_sender(
    fresh_feed, demo_client, connection
):
    message = {"type": "chat", "text": "hi", "connection": connection}

    response = await post_json(demo_client, SEND, message)

    assert response.status_code == 201
    chat = await chat_event(response.json()["id"])
    assert chat.payload["sender"] == ""


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "body",
    [
        pytest.param(
            '{"type": "chat", "text": "hi", "nonce": ' + "7" * 5000 + "}", id="5000-digits"
        ),
        pytest.param(
            '{"type": "chat", "text": "hi", "x": ' + "[" * 30_000 + "]" * 30_000 + "}", id="nested"
        ),
        pytest.param("[" * 30_000 + "]" * 30_000, id="nested-top-level"),
        pytest.param("{" * 30_000, id="unclosed"),
    ],
)
async def test_send_json_python_cannot_hold_rejected(fresh_feed, demo_client, body):
    response = await demo_client.post(SEND, body, content_type="application/json")

    assert response.status_code == 400
    assert "not valid JSON" in response.json()["errors"]["body"]


@pytest.mark.asyncio
async def test_send_binary_acknowledged_with_checksum(fresh_feed, demo_client):
    data = bytes(range(256)) * 40

    response = await post_json(
        demo_client, SEND, {"type": "binary", "data": base64.b64encode(data).decode()}
    )

    assert response.status_code == 200
    receipt = response.json()
    assert receipt["type"] == "binary_ack"
    assert receipt["size"] == len(data)
    assert receipt["sha256"] == hashlib.sha256(data).hexdigest()
    assert receipt["wire_bytes"] > len(base64.b64encode(data))


@pytest.mark.asyncio
@pytest.mark.parametrize("data", ["not base64!", "QUJ", "QU=D", 1234, None])
async def test_send_binary_invalid_base64_rejected(fresh_feed, demo_client, data):
    response = await post_json(demo_client, SEND, {"type": "binary", "data": data})

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_binary"
    assert response.json()["errors"]["data"]


@pytest.mark.asyncio
async def test_send_binary_at_the_limit_accepted(fresh_feed, demo_client):
    data = b"\xab" * MAX_BINARY

    response = await post_json(
        demo_client, SEND, {"type": "binary", "data": base64.b64encode(data).decode()}
    )

    assert response.status_code == 200
    assert response.json()["size"] == MAX_BINARY


@pytest.mark.asyncio
async def test_send_binary_over_the_limit_rejected(fresh_feed, demo_client):
    data = base64.b64encode(b"\xab" * (MAX_BINARY + 1)).decode()

    response = await post_json(demo_client, SEND, {"type": "binary", "data": data})

    assert response.status_code in {400, 413}
    assert "limited" in json.dumps(response.json()["errors"])


@pytest.mark.asyncio
async def test_send_body_over_the_limit_too_large(fresh_feed, demo_client):
    body = json.dumps({"type": "chat", "text": "x" * MAX_SEND_BODY})

    response = await demo_client.post(SEND, body, content_type="application/json")

    assert response.status_code == 413
    assert str(MAX_SEND_BODY) in response.json()["errors"]["body"]


@pytest.mark.asyncio
async def test_send_rate_limited(fresh_feed, demo_client):
    responses = [
        await post_json(demo_client, SEND, {"type": "chat", "text": f"flood {n}"})
        for n in range(25)
    ]

    statuses = [response.status_code for response in responses]
    assert statuses[0] == 201
    assert 429 in statuses
    assert set(statuses) == {201, 429}
    limited = next(response for response in responses if response.status_code == 429)
    assert "20 messages a second" in limited.json()["errors"]["type"]


@pytest.mark.asyncio
async def test_send_rate_limit_is_per_client(fresh_feed, demo_client):
    for n in range(25):
        await post_json(demo_client, SEND, {"type": "chat", "text": f"flood {n}"})
    other = DemoClient(new_address())

    response = await post_json(other, SEND, {"type": "chat", "text": "my turn"})

    assert response.status_code == 201


@pytest.mark.asyncio
async def test_send_get_not_allowed(fresh_feed, demo_client):
    response = await demo_client.get(SEND)

    assert response.status_code == 405
    # JSON like every other error here, and what to use instead.
    assert response["Allow"] == "POST"
    assert set(response.json()["errors"]) == {"method"}


@pytest.mark.asyncio
async def test_send_chat_redis_unreachable_unavailable(fresh_feed, redis_down, demo_client):
    async with asyncio.timeout(FEED_START_TIMEOUT):
        response = await post_json(demo_client, SEND, {"type": "chat", "text": "hi"})

    assert response.status_code == 503
    assert "unavailable" in response.json()["errors"]["feed"]
    assert current_feed() is None


@pytest.mark.asyncio
async def test_send_chat_redis_gone_unavailable(fresh_feed, doomed_redis, demo_client):
    await feed_then_redis_gone(doomed_redis)

    response = await post_json(demo_client, SEND, {"type": "chat", "text": "hi"})

    assert response.status_code == 503
    assert "unavailable" in response.json()["errors"]["feed"]


@pytest.mark.asyncio
async def test_send_binary_redis_unreachable_still_acknowledged(
    fresh_feed, redis_down, demo_client
):
    data = base64.b64encode(b"no feed needed").decode()

    response = await post_json(demo_client, SEND, {"type": "binary", "data": data})

    assert response.status_code == 200
    assert response.json()["size"] == len(b"no feed needed")


# POST /demo/drop/ -------------------------------------------------------------------


@pytest.mark.asyncio
async def test_drop_unknown_connection_not_found(fresh_feed, demo_client):
    response = await post_json(demo_client, DROP, {"connection": "no-such-connection"})

    assert response.status_code == 404
    assert response.json()["errors"]["connection"]


@pytest.mark.asyncio
@pytest.mark.parametrize("body", [{}, {"connection": ""}, {"connection": 42}])
async def test_drop_without_connection_rejected(fresh_feed, demo_client, body):
    response = await post_json(demo_client, DROP, body)

    assert response.status_code == 400
    assert response.json()["errors"]["connection"]


@pytest.mark.asyncio
async def test_drop_closes_the_subscriber(fresh_feed, demo_client):
    feed = await get_feed()
    subscriber = feed.subscribe("sse")

    response = await post_json(demo_client, DROP, {"connection": subscriber.id})

    assert response.status_code == 202
    assert response.json() == {"dropped": subscriber.id}
    assert subscriber.closed_reason == "dropped"
    assert feed.counts()["sse"] == 0


@pytest.mark.asyncio
async def test_drop_form_unknown_connection_not_found(fresh_feed, demo_client):
    response = await post_form(demo_client, DROP, {"connection": uuid.uuid4().hex})

    assert response.status_code == 404
    assert response.json()["errors"]["connection"]


@pytest.mark.asyncio
@pytest.mark.parametrize("fields", [{"connection": ""}, {"other": "x"}])
async def test_drop_form_without_connection_rejected(fresh_feed, demo_client, fields):
    response = await post_form(demo_client, DROP, fields)

    assert response.status_code == 400
    assert response.json()["errors"]["connection"]


@pytest.mark.asyncio
async def test_drop_form_closes_the_subscriber(fresh_feed, demo_client):
    feed = await get_feed()
    subscriber = feed.subscribe("sse")

    response = await post_form(demo_client, DROP, {"connection": subscriber.id})

    assert response.status_code == 202
    assert subscriber.closed_reason == "dropped"


@pytest.mark.asyncio
async def test_drop_multipart_form_with_csrf_field_closes_the_subscriber(fresh_feed):
    feed = await get_feed()
    subscriber = feed.subscribe("sse")
    client = await csrf_client()
    token = client.cookies["csrftoken"].value

    response = await client.post(DROP, {"connection": subscriber.id, "csrfmiddlewaretoken": token})

    assert response.status_code == 202
    assert subscriber.closed_reason == "dropped"


def test_drop_form_without_csrf_token_forbidden(address):
    client = Client(enforce_csrf_checks=True, REMOTE_ADDR=address)

    response = client.post(DROP, {"connection": uuid.uuid4().hex})

    assert response.status_code == 403
    assert response.json()["errors"]["csrf"]


@pytest.mark.asyncio
async def test_drop_other_content_type_unsupported(fresh_feed, demo_client):
    response = await demo_client.post(DROP, "connection=x", content_type="text/plain")

    assert response.status_code == 415


@pytest.mark.asyncio
async def test_drop_get_not_allowed(fresh_feed, demo_client):
    response = await demo_client.get(DROP)

    assert response.status_code == 405
    assert set(response.json()["errors"]) == {"method"}


@pytest.mark.asyncio
async def test_drop_redis_unreachable_unavailable(fresh_feed, redis_down, demo_client):
    async with asyncio.timeout(FEED_START_TIMEOUT):
        response = await post_json(demo_client, DROP, {"connection": uuid.uuid4().hex})

    assert response.status_code == 503
    assert "unavailable" in response.json()["errors"]["feed"]


@pytest.mark.asyncio
async def test_drop_redis_gone_unavailable(fresh_feed, doomed_redis, demo_client):
    await feed_then_redis_gone(doomed_redis)

    response = await post_json(demo_client, DROP, {"connection": uuid.uuid4().hex})

    assert response.status_code == 503
    assert "unavailable" in response.json()["errors"]["feed"]


# GET /demo/stats/ -------------------------------------------------------------------


@pytest.mark.asyncio
async def test_stats_counts_subscribers(fresh_feed, demo_client):
    feed = await get_feed()
    feed.subscribe("sse")
    feed.subscribe("sse")
    feed.subscribe("websocket")

    response = await demo_client.get(STATS)

    assert response.status_code == 200
    body = response.json()
    assert body["running"] is True
    assert body["subscribers"] == {"websocket": 1, "sse": 2}
    assert body["tasks"] == 0
    assert isinstance(body["ts"], float | int)
    assert 0 <= body["last_id"] <= feed.last_id


@pytest.mark.asyncio
async def test_stats_before_the_feed_starts(fresh_feed, demo_client):
    response = await demo_client.get(STATS)

    body = response.json()
    assert body["running"] is False
    assert body["subscribers"] == {"websocket": 0, "sse": 0}
    assert body["tasks"] == 0
    assert isinstance(body["ts"], float | int)


@pytest.mark.asyncio
async def test_stats_not_cached(fresh_feed, demo_client):
    response = await demo_client.get(STATS)

    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.asyncio
async def test_stats_redis_unreachable_not_running(fresh_feed, redis_down, demo_client):
    # Stats never start the feed, so they do not wait on the Redis server either.
    async with asyncio.timeout(2):
        response = await demo_client.get(STATS)

    assert response.status_code == 200
    assert response.json()["running"] is False


@pytest.mark.asyncio
async def test_stats_redis_gone_unavailable(fresh_feed, doomed_redis, demo_client):
    await feed_then_redis_gone(doomed_redis)

    response = await demo_client.get(STATS)

    assert response.status_code == 503
    assert "unavailable" in response.json()["errors"]["feed"]
