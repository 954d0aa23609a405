"""live_demo/events.py: SSE formatting, events and their wire forms, gap notices."""

from __future__ import annotations

import json

import pytest

from live_demo.events import (
    Event,
    UnencodableEvent,
    format_comment,
    format_event,
    gap_notice,
    http_chunk,
    websocket_text_frame,
)
from tests.frames import parse_frame

# format_event -------------------------------------------------------------------------


def test_format_event_data_only():
    assert format_event("hello") == b"data: hello\n\n"


def test_format_event_fields_in_order():
    assert format_event("x", event="tick", id=7, retry=2000) == (
        b"id: 7\nevent: tick\nretry: 2000\ndata: x\n\n"
    )


@pytest.mark.parametrize("bad", ["\r", "\n", "\0", "\r\n"])
def test_format_event_id_stripped(bad):
    assert format_event("x", id=f"1{bad}2{bad}") == b"id: 12\ndata: x\n\n"


@pytest.mark.parametrize("bad", ["\r", "\n", "\0", "\r\n"])
def test_format_event_event_stripped(bad):
    injected = f"tick{bad}data: forged{bad}"
    assert format_event("x", event=injected) == b"event: tickdata: forged\ndata: x\n\n"


def test_format_event_multiline_data_split():
    assert format_event("a\nb\r\nc\rd") == b"data: a\ndata: b\ndata: c\ndata: d\n\n"


def test_format_event_empty_data_one_line():
    assert format_event("") == b"data: \n\n"


def test_format_event_retry_line():
    assert format_event("x", retry=1500) == b"retry: 1500\ndata: x\n\n"


def test_format_comment_one_line():
    assert format_comment("ping\nevent: x") == b": pingevent: x\n\n"


# Event ----------------------------------------------------------------------------------


def test_event_json_shape():
    event = Event(id=3, type="tick", ts=1.5, payload={"symbol": "ACME", "name": "é"})
    assert event.json == '{"id":3,"type":"tick","ts":1.5,"payload":{"symbol":"ACME","name":"é"}}'


def test_event_json_is_valid_json():
    event = Event(id=1, type="chat", ts=0.5, payload={"text": 'quote " and \n newline'})
    assert json.loads(event.json)["payload"]["text"] == 'quote " and \n newline'


def test_event_sse_shape():
    event = Event(id=3, type="chat", ts=1.5, payload={"text": "a\nb"})
    assert event.sse == format_event(event.json, event="chat", id=3)
    assert event.sse.startswith(b"id: 3\nevent: chat\ndata: {")
    assert event.sse.count(b"\ndata: ") == 1


def test_event_from_json_round_trip():
    event = Event(id=9, type="tick", ts=2.25, payload={"price": 1.0})
    assert Event.from_json(event.json) == event


def test_gap_notice_expired_missed():
    gap = gap_notice(2, 6, 10, "expired", missed=3)
    assert gap["missed"] == 3
    assert (gap["type"], gap["last_id"], gap["oldest"], gap["newest"]) == ("gap", 2, 6, 10)


def test_gap_notice_restarted_missed_unknown():
    assert gap_notice(50, 1, 10, "restarted")["missed"] is None


# Wire forms ------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 1, 125, 126, 65535, 65536, 70000])
def test_websocket_text_frame_lengths_round_trip(size):
    payload = b"a" * size
    assert parse_frame(websocket_text_frame(payload)) == (1, payload)


def test_http_chunk_frames_data():
    assert http_chunk(b"hello world") == b"b\r\nhello world\r\n"


def test_event_wire_forms_framed_once():
    event = Event(id=7, type="tick", ts=1.5, payload={"price": "€1"})
    assert event.websocket_frame is event.websocket_frame
    assert parse_frame(event.websocket_frame) == (1, event.json.encode())
    assert event.sse_chunk == http_chunk(event.sse)


def test_event_encoded_builds_every_wire_form_once():
    event = Event(id=7, type="chat", ts=1.5, payload={"text": "é \U0001f600"})
    assert event.encoded() is event
    # Cached: what publication built is what every subscriber gets.
    assert {"json", "sse", "websocket_frame", "sse_chunk"} <= set(vars(event))
    assert parse_frame(event.websocket_frame) == (1, event.json.encode())


@pytest.mark.parametrize(
    "payload",
    [{"text": "x \ud800"}, {"price": float("nan")}, {"price": float("inf")}, {"x": object()}],
    ids=["lone-surrogate", "nan", "infinity", "not-json"],
)
def test_event_encoded_refuses_what_cannot_be_sent(payload):
    with pytest.raises(UnencodableEvent):
        Event(id=1, type="chat", ts=1.5, payload=payload).encoded()


def test_unencodable_event_is_a_value_error():
    # Callers that refuse bad input as ValueError (MessageError is one) catch it too.
    assert issubclass(UnencodableEvent, ValueError)
