"""A workload run across two daphne processes sharing a Redis cache, no sticky sessions.

The topology a load balancer that sends each request to either process
makes: the run is started on one process, its WebSocket and its event stream
are served by the other, and after the forced drop each comes back to the
first. Nothing of the run may be lost or dropped twice on the way.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from live_demo.protocol import CLOSE_DROPPED
from live_demo.workload.runs import BINARY_HEADER
from tests.live_demo.conftest import delete_redis_keys
from tests.live_demo.test_redis import SseStream

# This suite's own Redis database: only its keys are deleted after each test.
CACHE_URL = "redis://127.0.0.1:6379/9"
TIMEOUT = 10.0
WORKLOAD = {
    "events_per_second_down": 20,
    "payload_format": "mixed",
    "payload_bytes": 64,
    "messages_per_second_up": 1,
    "answer_budget_ms": 100,
    "duration_s": 4,
}


@pytest.fixture
def shared_cache(settings) -> Iterator[None]:
    """Django's cache on Redis, as with REDIS_URL set, under keys of this test's own."""
    prefix = f"advisor-test-workload:{uuid.uuid4().hex}"
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": CACHE_URL,
            "KEY_PREFIX": prefix,
        }
    }
    yield
    delete_redis_keys(CACHE_URL, prefix)


@pytest.fixture
def two_processes(shared_cache, daphne_servers) -> tuple[str, str]:
    """Two daphne processes forked with the same cache settings."""
    return daphne_servers(), daphne_servers()


@contextlib.asynccontextmanager
async def browser(page_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """One browser's HTTP client: its CSRF cookie from the demo page, sent to either process."""
    async with httpx.AsyncClient(timeout=httpx.Timeout(TIMEOUT), trust_env=False) as client:
        assert (await client.get(f"{page_url}/demo/")).status_code == 200
        client.headers["X-CSRFToken"] = client.cookies["csrftoken"]
        yield client


@contextlib.asynccontextmanager
async def open_ws(base_url: str, path: str) -> AsyncIterator[ClientConnection]:
    url = base_url.replace("http://", "ws://") + path
    async with connect(url, origin=base_url, proxy=None, open_timeout=TIMEOUT) as socket:
        yield socket


async def ws_until_close(socket: ClientConnection) -> tuple[list, int | None]:
    """Every frame up to the server's close (text as JSON, binary as bytes), and its code."""
    frames: list = []
    async with asyncio.timeout(TIMEOUT):
        with contextlib.suppress(ConnectionClosed):
            while True:
                frame = await socket.recv()
                frames.append(frame if isinstance(frame, bytes) else json.loads(frame))
    return frames, socket.close_code


def ws_ids(frames: list) -> list[int]:
    return [
        BINARY_HEADER.unpack_from(frame)[0] if isinstance(frame, bytes) else frame["id"]
        for frame in frames
        if isinstance(frame, bytes) or "type" not in frame
    ]


async def websocket_side(a: str, b: str, run: dict) -> tuple[list[int], list[int]]:
    """Streamed from B until the drop, with an up message; resumed on A to the end."""
    async with open_ws(b, run["websocket"]) as socket:
        await socket.send(json.dumps({"type": "up", "seq": 1, "t": 1.5, "data": "u"}))
        assert json.loads(await socket.recv())["type"] == "up_ack"
        await socket.send(json.dumps({"type": "start"}))
        before, code = await ws_until_close(socket)
    assert code == CLOSE_DROPPED
    assert before[0]["type"] == "welcome"
    async with open_ws(a, run["websocket"]) as socket:
        await socket.send(json.dumps({"type": "resume", "last_id": ws_ids(before)[-1]}))
        after, code = await ws_until_close(socket)
    assert code == 1000
    assert after[-1]["type"] == "end"
    return ws_ids(before), ws_ids(after)


async def sse_ids(client: httpx.AsyncClient, url: str, last_id: int | None) -> tuple[list, str]:
    """The stream's event ids until the server ends the response, and the last event's kind."""
    headers = {} if last_id is None else {"Last-Event-ID": str(last_id)}
    ids, kind = [], ""
    async with client.stream("GET", url, headers=headers) as response:
        assert response.status_code == 200
        stream = SseStream(response)
        while (event := await stream.next(TIMEOUT)) is not None:
            kind = event.event
            if event.id is not None:
                ids.append(event.id)
    return ids, kind


async def sse_side(client: httpx.AsyncClient, a: str, b: str, run: dict) -> tuple[list, list]:
    """Streamed from B until the drop, resumed on A with Last-Event-ID; an up POST to B."""
    up = await client.post(f"{b}/demo/workload/up/", json={"run": run["run"], "seq": 1, "t": 2})
    assert up.status_code == 200
    assert up.json()["type"] == "up_ack"
    before, kind = await sse_ids(client, f"{b}{run['events']}", None)
    assert kind != "end"  # the drop ended the response
    after, kind = await sse_ids(client, f"{a}{run['events']}", before[-1])
    assert kind == "end"
    return before, after


@pytest.mark.asyncio
async def test_workload_run_started_on_one_process_streams_from_other_and_resumes(
    two_processes,
) -> None:
    a, b = two_processes
    async with browser(a) as client:
        started = await client.post(f"{a}/demo/workload/runs/", json=WORKLOAD)
        assert started.status_code == 201
        run = started.json()
        (ws_before, ws_after), (sse_before, sse_after) = await asyncio.gather(
            websocket_side(a, b, run), sse_side(client, a, b, run)
        )
    everything = list(range(1, run["total"] + 1))
    # Each transport dropped once, halfway, and got every event once across both processes.
    for before, after in ((ws_before, ws_after), (sse_before, sse_after)):
        assert before + after == everything
        assert before and after


@pytest.mark.asyncio
async def test_workload_one_run_at_a_time_holds_across_processes(two_processes) -> None:
    a, b = two_processes
    async with browser(a) as client:
        assert (await client.post(f"{a}/demo/workload/runs/", json=WORKLOAD)).status_code == 201
        second = await client.post(f"{b}/demo/workload/runs/", json=WORKLOAD)
    assert second.status_code == 409
    assert int(second.headers["Retry-After"]) > 0
