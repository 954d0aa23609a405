"""/ws/workload/ and /demo/workload/events/, in process, through the real ASGI application."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import pytest
from asgiref.testing import ApplicationCommunicator
from channels.testing import WebsocketCommunicator
from django.core.cache import cache

from advisor.asgi import application
from live_demo.protocol import CLOSE_INTERNAL
from live_demo.workload import runs as runs_module
from live_demo.workload.consumers import CLOSE_BUSY, CLOSE_UNKNOWN_RUN
from live_demo.workload.runs import BINARY_HEADER, runs
from tests.live_demo.test_consumer import receive_close

pytestmark = pytest.mark.asyncio

ORIGIN = (b"origin", b"http://127.0.0.1")
HOST = (b"host", b"127.0.0.1")
TIMEOUT = 5


@pytest.fixture(autouse=True)
def no_runs(monkeypatch):
    """No run from another test, and none with a lead: a run's first event is due at once."""
    monkeypatch.setattr(runs_module, "LEAD_S", 0.0)
    cache.clear()
    yield
    cache.clear()


async def start_run(**changes) -> Any:
    """A short run that starts now: 2 s at 20 events/s, dropped at 1 s."""
    workload = {
        "events_per_second_down": 20,
        "payload_format": "json",
        "payload_bytes": 64,
        "messages_per_second_up": 0,
        "answer_budget_ms": 100,
        "duration_s": 2,
        **changes,
    }
    return await runs.start("test", workload)


def socket(run_id: str) -> WebsocketCommunicator:
    return WebsocketCommunicator(
        application, f"/ws/workload/?run={run_id}", headers=[HOST, ORIGIN]
    )


async def frames_until_close(client: WebsocketCommunicator) -> tuple[list[dict], dict]:
    """Every frame (text as JSON, bytes as they are) up to the close."""
    frames = []
    async with asyncio.timeout(TIMEOUT):
        while True:
            output = await client.receive_output(timeout=TIMEOUT)
            if output["type"] == "websocket.close":
                return frames, output
            if output.get("bytes") is not None:
                frames.append({"binary": output["bytes"]})
            else:
                frames.append(json.loads(output["text"]))


def event_ids(frames: list[dict]) -> list[int]:
    ids = []
    for frame in frames:
        if "binary" in frame:
            ids.append(BINARY_HEADER.unpack_from(frame["binary"])[0])
        elif "type" not in frame:
            ids.append(frame["id"])
    return ids


async def test_workload_socket_unknown_run_error_frame_and_4004():
    client = socket("nope")
    connected, _ = await client.connect(timeout=TIMEOUT)
    assert connected
    error = await client.receive_json_from(timeout=TIMEOUT)
    assert error["type"] == "error"
    assert error["code"] == "unknown_run"
    assert (await receive_close(client))["code"] == CLOSE_UNKNOWN_RUN
    await client.disconnect()


async def test_workload_socket_second_socket_of_a_run_is_refused():
    run = await start_run()
    first = socket(run.id)
    await first.connect(timeout=TIMEOUT)
    second = socket(run.id)
    await second.connect(timeout=TIMEOUT)
    error = await second.receive_json_from(timeout=TIMEOUT)
    assert error["code"] == "busy"
    assert (await receive_close(second))["code"] == CLOSE_BUSY
    await second.disconnect()
    await first.disconnect()


@pytest.mark.parametrize(
    ("sent", "code"),
    [
        ("not json", "invalid_json"),
        ("[1, 2]", "invalid_message"),
        ('{"type": "dance"}', "unknown_type"),
        ('{"type": "resume", "last_id": -1}', "invalid_resume"),
        ('{"type": "up", "seq": "one", "t": 1}', "invalid_up"),
        ('{"type": "up", "seq": 1, "t": "now"}', "invalid_up"),
        ('{"type": "up", "seq": 1, "t": 1, "data": 5}', "invalid_up"),
    ],
)
async def test_workload_socket_bad_message_error_frame_keeps_socket(sent, code):
    run = await start_run()
    client = socket(run.id)
    await client.connect(timeout=TIMEOUT)
    await client.send_to(text_data=sent)
    error = await client.receive_json_from(timeout=TIMEOUT)
    assert (error["type"], error["code"]) == ("error", code)
    await client.send_json_to({"type": "ping", "t": 1})
    assert (await client.receive_json_from(timeout=TIMEOUT))["type"] == "pong"
    await client.disconnect()


async def test_workload_socket_binary_up_message_refused():
    run = await start_run()
    client = socket(run.id)
    await client.connect(timeout=TIMEOUT)
    await client.send_to(bytes_data=b"\x00\x01")
    assert (await client.receive_json_from(timeout=TIMEOUT))["code"] == "invalid_message"
    await client.disconnect()


async def test_workload_socket_up_message_answered_with_its_cost():
    run = await start_run()
    client = socket(run.id)
    await client.connect(timeout=TIMEOUT)
    message = {"type": "up", "seq": 7, "t": 123.5, "data": "u" * 64}
    await client.send_json_to(message)
    ack = await client.receive_json_from(timeout=TIMEOUT)
    assert (ack["type"], ack["seq"], ack["t"]) == ("up_ack", 7, 123.5)
    # A masked client frame: 2 bytes of header and 4 of mask around the text.
    assert ack["wire_bytes"] == len(json.dumps(message)) + 6
    await client.disconnect()


async def test_workload_socket_drop_then_resume_loses_nothing():
    run = await start_run(payload_format="mixed")
    client = socket(run.id)
    await client.connect(timeout=TIMEOUT)
    await client.send_json_to({"type": "start"})
    frames, close = await frames_until_close(client)
    assert frames[0]["type"] == "welcome"
    assert close["code"] == 4000
    before = event_ids(frames)
    assert before == list(range(1, len(before) + 1))
    assert any("binary" in frame for frame in frames)

    # Back before the dropped socket's disconnect is through: its place is free.
    again = socket(run.id)
    await again.connect(timeout=TIMEOUT)
    await again.send_json_to({"type": "resume", "last_id": before[-1]})
    frames, close = await frames_until_close(again)
    assert close["code"] == 1000
    assert frames[-1]["type"] == "end"
    assert before + event_ids(frames) == list(range(1, run.total + 1))
    await again.disconnect()
    await client.disconnect()


async def test_workload_socket_second_start_is_refused():
    run = await start_run()
    client = socket(run.id)
    await client.connect(timeout=TIMEOUT)
    await client.send_json_to({"type": "start"})
    assert (await client.receive_json_from(timeout=TIMEOUT))["type"] == "welcome"
    await client.send_json_to({"type": "start"})
    async with asyncio.timeout(TIMEOUT):
        while (frame := await client.receive_json_from(timeout=TIMEOUT)).get("type") != "error":
            pass
    assert frame["code"] == "already_started"
    await client.disconnect()


# ---- The event stream ------------------------------------------------------------


def scope(path: str, query: str = "", method: str = "GET", headers=()) -> dict:
    return {
        "type": "http",
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "headers": [(b"host", b"127.0.0.1"), *headers],
        "client": ("127.0.0.1", 50000),
    }


async def stream(query: str, method: str = "GET", headers=()) -> tuple[int, bytes]:
    """The stream's status and whole body, up to its end (or 5 s)."""
    app = ApplicationCommunicator(
        application, scope("/demo/workload/events/", query, method, headers)
    )
    await app.send_input({"type": "http.request", "body": b""})
    start = await app.receive_output(TIMEOUT)
    body = b""
    async with asyncio.timeout(TIMEOUT):
        while True:
            message = await app.receive_output(TIMEOUT)
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
    await app.send_input({"type": "http.disconnect"})
    await app.wait(TIMEOUT)
    return start["status"], body


def parse(body: bytes) -> list[dict]:
    events = []
    for block in body.decode().split("\n\n"):
        fields: dict = {}
        for line in block.splitlines():
            name, _, value = line.partition(": ")
            fields[name] = fields.get(name, "") + value if name == "data" else value
        if fields:
            events.append(fields)
    return events


async def test_workload_stream_unknown_run_404():
    status, body = await stream("run=nope")
    assert status == 404
    assert b"No running workload" in body


async def test_workload_stream_post_405():
    status, _ = await stream("run=nope", method="POST")
    assert status == 405


async def test_workload_stream_after_everything_204():
    run = await start_run()
    status, _ = await stream(
        f"run={run.id}", headers=[(b"last-event-id", str(run.total).encode())]
    )
    assert status == 204


async def test_workload_stream_drop_then_last_event_id_resumes_without_loss():
    run = await start_run(payload_format="binary")
    status, body = await stream(f"run={run.id}")
    assert status == 200
    events = parse(body)
    assert events[0]["event"] == "welcome"
    assert events[0]["retry"] == "500"
    first = [int(event["id"]) for event in events if event.get("event") == "binary"]
    # The response ended at the drop: binary came as base64 of the run's bytes.
    assert base64.b64decode(events[1]["data"]) == run.event(1).payload
    status, body = await stream(
        f"run={run.id}", headers=[(b"last-event-id", str(first[-1]).encode())]
    )
    events = parse(body)
    rest = [int(event["id"]) for event in events if event.get("event") == "binary"]
    assert events[-1]["event"] == "end"
    assert first + rest == list(range(1, run.total + 1))


async def test_workload_stream_second_stream_of_a_run_409():
    run = await start_run()
    first = ApplicationCommunicator(application, scope("/demo/workload/events/", f"run={run.id}"))
    await first.send_input({"type": "http.request", "body": b""})
    assert (await first.receive_output(TIMEOUT))["status"] == 200
    status, _ = await stream(f"run={run.id}")
    assert status == 409
    await first.send_input({"type": "http.disconnect"})
    await first.wait(TIMEOUT)


async def test_workload_socket_over_the_demos_message_rate_is_warned(settings):
    settings.LIVE_DEMO = {**settings.LIVE_DEMO, "MAX_MESSAGES_PER_SECOND": 5}
    run = await start_run()
    client = socket(run.id)
    await client.connect(timeout=TIMEOUT)
    for seq in range(12):
        await client.send_json_to({"type": "up", "seq": seq, "t": 1})
    async with asyncio.timeout(TIMEOUT):
        while (frame := await client.receive_json_from(timeout=TIMEOUT))["type"] != "error":
            pass
    assert frame["code"] == "rate_limited"
    await client.disconnect()


async def test_workload_stream_and_socket_store_out_of_reach(workload_store_down):
    status, body = await stream("run=abc")
    assert status == 503
    assert b"try again" in body
    client = socket("abc")
    await client.connect(timeout=TIMEOUT)
    assert (await client.receive_json_from(timeout=TIMEOUT))["code"] == "unavailable"
    assert (await receive_close(client))["code"] == CLOSE_INTERNAL
    await client.disconnect()
