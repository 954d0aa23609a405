"""Contract tests of the direct write path against a real daphne and a real uvicorn.

A subscriber that has caught up is written to directly (the stats say so),
and what it receives is byte for byte what the ASGI path sends for the same
event; a client that stops reading is cut off; under TLS daphne takes the
ASGI path; DEMO_DIRECT_WRITES=0 turns the direct path off.
"""

from __future__ import annotations

import json

import pytest

from live_demo.events import http_chunk

from .real_servers import (
    METRICS_TOKEN,
    RawClient,
    chunk_data,
    running,
    slow_closes,
    sse_events,
    stats,
    wait_for_stats,
    wait_until,
)

SERVERS = ["daphne", "uvicorn"]
FEED = {"DEMO_FEED_RATE": "20"}


def live_websocket(url: str) -> tuple[RawClient, dict]:
    client = RawClient(url)
    client.websocket()
    _, welcome = client.message()
    assert welcome["type"] == "welcome"
    # Nothing to replay: go live at once instead of after the resume window.
    client.send_text(json.dumps({"type": "resume", "last_id": welcome["last_id"]}))
    return client, welcome


def next_tick(client: RawClient) -> tuple[bytes, dict]:
    while True:
        raw, message = client.message()
        if message.get("type") == "tick":
            return raw, message


@pytest.mark.parametrize("kind", SERVERS)
def test_websocket_caught_up_written_directly_same_bytes_as_asgi(kind):
    with running(kind, **FEED) as url:
        live, _ = live_websocket(url)
        try:
            wait_for_stats(url, lambda body: body["direct"]["websocket"] == 1)
            raw, event = next_tick(live)
            assert stats(url)["direct"]["websocket"] == 1
            # The same event through ASGI: a replay after a resume.
            replayed = RawClient(url)
            try:
                replayed.websocket()
                replayed.message()  # welcome
                replayed.send_text(json.dumps({"type": "resume", "last_id": event["id"] - 1}))
                while True:
                    asgi_raw, message = replayed.message()
                    if message.get("id") == event["id"]:
                        break
            finally:
                replayed.close()
        finally:
            live.close()
    assert asgi_raw == raw


@pytest.mark.parametrize("kind", SERVERS)
def test_sse_caught_up_written_directly_same_bytes_as_asgi(kind):
    with running(kind, **FEED) as url:
        live = RawClient(url)
        try:
            live.event_stream()
            wait_for_stats(url, lambda body: body["direct"]["sse"] == 1)
            chunks = [live.chunk() for _ in range(3)]
            direct = {
                event_id: chunk
                for chunk in chunks
                for event_id in sse_events(chunk_data(chunk))
                if len(sse_events(chunk_data(chunk))) == 1
            }
            event_id = max(direct)
            # The same event through ASGI: the replay after Last-Event-ID.
            replayed = RawClient(url)
            try:
                replayed.event_stream(last_id=event_id - 1)
                asgi_event = sse_events(chunk_data(replayed.chunk()))[event_id]
            finally:
                replayed.close()
        finally:
            live.close()
    # One event, one chunk, framed as the ASGI server frames a body chunk.
    assert direct[event_id] == http_chunk(asgi_event)


SLOW = {
    "DEMO_FEED_RATE": "1000",
    "DEMO_MAX_BACKLOG_BYTES": str(32 * 1024),
    "ADVISOR_METRICS_TOKEN": METRICS_TOKEN,
}


@pytest.mark.parametrize("kind", SERVERS)
@pytest.mark.parametrize("transport", ["websocket", "sse"])
def test_slow_reader_cut_off(kind, transport):
    with running(kind, **SLOW) as url:
        slow = RawClient(url, receive_buffer=1024)
        try:
            slow.websocket() if transport == "websocket" else slow.event_stream()
            # Written to directly, then, as it never reads, closed once its
            # buffer passes the bound: on a busy machine sooner than the stats
            # are first read, so the metrics tell the cut-off.
            wait_for_stats(
                url, lambda body: body["direct"][transport] == 1 or slow_closes(url) == 1
            )
            wait_until(lambda: slow_closes(url) == 1, timeout=30)
            after = wait_for_stats(url, lambda body: body["subscribers"][transport] == 0)
        finally:
            slow.close()
    assert after["tasks"] == 0


def test_daphne_tls_takes_the_asgi_path():
    with running("daphne", tls=True, **FEED) as url:
        live, _ = live_websocket(url)
        try:
            _, first = next_tick(live)
            _, second = next_tick(live)
            body = stats(url)
        finally:
            live.close()
    assert second["id"] > first["id"]
    assert body["direct_writes"] is True
    assert body["direct"]["websocket"] == 0
    assert body["asgi"]["websocket"] == 1


@pytest.mark.parametrize("kind", SERVERS)
def test_direct_writes_turned_off_every_event_through_asgi(kind):
    with running(kind, DEMO_DIRECT_WRITES="0", **FEED) as url:
        live, _ = live_websocket(url)
        stream = RawClient(url)
        try:
            stream.event_stream()
            _, first = next_tick(live)
            _, second = next_tick(live)
            stream.chunk()
            stream.chunk()
            body = stats(url)
        finally:
            live.close()
            stream.close()
    assert second["id"] > first["id"]
    assert body["direct_writes"] is False
    assert body["direct"] == {"websocket": 0, "sse": 0}
    assert body["asgi"] == {"websocket": 1, "sse": 1}
