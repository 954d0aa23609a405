"""live_demo/protocol.py: what clients may send, and what the server answers."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import time
from typing import Any

import pytest

from advisor.consumers import MessageError
from live_demo import protocol
from live_demo.feed import public_id
from live_demo.protocol import (
    binary_receipt,
    chat_payload,
    decode_base64,
    pong,
    resume_id,
    websocket_frame_bytes,
    welcome,
)

# Protocol helpers ---------------------------------------------------------------------------


def chat(message: dict[str, Any], max_chars: int = 500) -> dict[str, Any]:
    return chat_payload(message, sender="abc", via="sse", max_chars=max_chars)


def test_chat_payload_valid():
    assert chat({"type": "chat", "text": "  hi  ", "nonce": 7}) == {
        "text": "hi",
        "via": "sse",
        "sender": "abc",
        "nonce": "7",
    }


def test_chat_payload_without_nonce():
    assert chat({"text": "hi"})["nonce"] is None


def test_chat_payload_max_chars_accepted():
    assert chat({"text": "x" * 500})["text"] == "x" * 500


def test_chat_payload_too_long():
    with pytest.raises(MessageError) as error:
        chat({"text": "x" * 501})
    assert error.value.code == "chat_too_long"


@pytest.mark.parametrize("message", [{}, {"text": ""}, {"text": " \n "}, {"text": 5}])
def test_chat_payload_invalid(message):
    with pytest.raises(MessageError) as error:
        chat(message)
    assert error.value.code == "invalid_chat"


@pytest.mark.parametrize("nonce", ["n" * 65, 1.5, ["a"], {"a": 1}])
def test_chat_payload_invalid_nonce(nonce):
    with pytest.raises(MessageError) as error:
        chat({"text": "hi", "nonce": nonce})
    assert error.value.code == "invalid_nonce"


@pytest.mark.parametrize("text", ["x \ud800", "\udfff", "a\udc00b"], ids=["high", "low", "inside"])
def test_chat_payload_lone_surrogate_invalid_chat(text):
    # What json.loads makes of "\ud800": text no UTF-8 wire can carry.
    with pytest.raises(MessageError) as error:
        chat({"text": text})
    assert error.value.code == "invalid_chat"


def test_chat_payload_surrogate_pair_accepted():
    # A proper pair is one character (here from JSON's escapes, as browsers send it).
    assert chat(json.loads('{"text": "\\ud83d\\ude00"}'))["text"] == "\U0001f600"


def test_chat_payload_lone_surrogate_nonce_invalid_nonce():
    with pytest.raises(MessageError) as error:
        chat({"text": "hi", "nonce": "n\ud800"})
    assert error.value.code == "invalid_nonce"


@pytest.mark.parametrize("last_id", [0, 1, 10**12])
def test_resume_id_valid(last_id):
    assert resume_id({"type": "resume", "last_id": last_id}) == last_id


@pytest.mark.parametrize("last_id", ["x", "5", -1, True, False, 1.5, None])
def test_resume_id_invalid(last_id):
    with pytest.raises(MessageError) as error:
        resume_id({"type": "resume", "last_id": last_id})
    assert error.value.code == "invalid_resume"


def test_resume_id_missing():
    with pytest.raises(MessageError):
        resume_id({"type": "resume"})


def test_decode_base64_valid():
    assert (
        decode_base64(base64.b64encode(b"\x00\xffdata").decode(), max_bytes=10) == b"\x00\xffdata"
    )


def test_decode_base64_exactly_max_bytes():
    data = b"\x01" * 10
    assert decode_base64(base64.b64encode(data).decode(), max_bytes=10) == data


def test_decode_base64_over_max_bytes():
    with pytest.raises(MessageError) as error:
        decode_base64(base64.b64encode(b"\x01" * 11).decode(), max_bytes=10)
    assert error.value.code == "binary_too_big"


def test_decode_base64_huge_refused_before_decoding():
    with pytest.raises(MessageError) as error:
        decode_base64("!" * 10_000, max_bytes=10)
    assert error.value.code == "binary_too_big"


@pytest.mark.parametrize("value", [None, 5, b"AAAA", ["AAAA"]])
def test_decode_base64_not_a_string(value):
    with pytest.raises(MessageError) as error:
        decode_base64(value, max_bytes=10)
    assert error.value.code == "invalid_binary"


@pytest.mark.parametrize("value", ["AAA", "A===", "AA!A", "AA AA"])
def test_decode_base64_invalid(value):
    with pytest.raises(MessageError) as error:
        decode_base64(value, max_bytes=10)
    assert error.value.code == "invalid_binary"


def test_binary_receipt():
    receipt = binary_receipt(b"abc", wire_bytes=9)
    assert receipt["type"] == "binary_ack"
    assert receipt["size"] == 3
    assert receipt["sha256"] == hashlib.sha256(b"abc").hexdigest()
    assert receipt["wire_bytes"] == 9


@pytest.mark.parametrize(
    ("payload", "unmasked"),
    [(0, 2), (125, 127), (126, 130), (65535, 65539), (65536, 65546)],
)
def test_websocket_frame_bytes_boundaries(payload, unmasked):
    assert websocket_frame_bytes(payload, masked=False) == unmasked
    assert websocket_frame_bytes(payload, masked=True) == unmasked + 4


# pong -----------------------------------------------------------------------------------------

SERVER_MS = 1_700_000_000_123.5


@pytest.fixture
def server_time(monkeypatch) -> float:
    """The server's clock, as pongs read it, stopped at SERVER_MS."""
    monkeypatch.setattr(protocol, "now_ms", lambda: SERVER_MS)
    return SERVER_MS


def test_pong_bare_ping_type_and_server_time(server_time):
    assert pong({"type": "ping"}) == {"type": "pong", "ts": server_time, "server_ts": server_time}


def test_pong_reads_the_real_clock():
    before = time.time() * 1000
    answer = pong({"type": "ping"})
    assert before - 1 <= answer["server_ts"] <= time.time() * 1000 + 1
    assert answer["ts"] == answer["server_ts"]


def test_pong_echoes_fields(server_time):
    answer = pong({"type": "ping", "nonce": "n-1", "sent": 123.5, "id": 7})
    assert answer == {
        "type": "pong",
        "nonce": "n-1",
        "sent": 123.5,
        "id": 7,
        "ts": server_time,
        "server_ts": server_time,
    }


@pytest.mark.parametrize(
    "value",
    [0, -1, 2**63 - 1, -(2**63 - 1), 1.5, -0.25, 1e300, True, False, None, "", "x" * 64, "é" * 64],
    ids=[
        "zero",
        "negative",
        "largest-int",
        "smallest-int",
        "float",
        "negative-float",
        "huge-float",
        "true",
        "false",
        "null",
        "empty-string",
        "64-chars",
        "64-non-ascii-chars",
    ],
)
def test_pong_small_scalar_echoed(server_time, value):
    answer = pong({"type": "ping", "value": value})
    assert answer["value"] == value
    assert type(answer["value"]) is type(value)


@pytest.mark.parametrize(
    "value",
    [
        2**63,
        -(2**63),
        10**30,
        float("nan"),
        float("inf"),
        float("-inf"),
        "x" * 65,
        "é" * 65,
        "x\ud800",
        [],
        [1],
        {},
        {"a": 1},
    ],
    ids=[
        "int-2**63",
        "int-minus-2**63",
        "int-10**30",
        "nan",
        "infinity",
        "minus-infinity",
        "65-chars",
        "65-non-ascii-chars",
        "lone-surrogate",
        "empty-list",
        "list",
        "empty-object",
        "object",
    ],
)
def test_pong_other_value_left_out(server_time, value):
    answer = pong({"type": "ping", "nonce": "n", "value": value})
    assert answer == {"type": "pong", "nonce": "n", "ts": server_time, "server_ts": server_time}


def test_pong_nan_left_out_strict_json(server_time):
    answer = pong({"type": "ping", "a": float("nan"), "b": float("inf"), "c": 1})
    assert json.loads(json.dumps(answer, allow_nan=False)) == answer
    assert "a" not in answer
    assert "b" not in answer


def test_pong_lone_surrogate_key_left_out_answer_encodes(server_time):
    answer = pong({"type": "ping", "\udfff": 1, "ok": 2})
    assert answer == {"type": "pong", "ok": 2, "ts": server_time, "server_ts": server_time}
    json.dumps(answer, ensure_ascii=False).encode()  # what the socket sends


def test_pong_at_most_8_fields_the_first_ones(server_time):
    message = {"type": "ping", **{f"f{number}": number for number in range(12)}}
    answer = pong(message)
    assert [key for key in answer if key.startswith("f")] == [f"f{n}" for n in range(8)]
    assert set(answer) == {"type", "ts", "server_ts", *(f"f{n}" for n in range(8))}


def test_pong_fields_left_out_not_counted(server_time):
    nested = {f"nested{number}": [number] for number in range(5)}
    scalars = {f"f{number}": number for number in range(8)}
    answer = pong({"type": "ping", **nested, **scalars})
    assert {key: answer[key] for key in scalars} == scalars
    assert not any(key.startswith("nested") for key in answer)


def test_pong_type_not_counted(server_time):
    scalars = {f"f{number}": number for number in range(8)}
    answer = pong({**scalars, "type": "ping"})
    assert {key: answer[key] for key in scalars} == scalars
    assert answer["type"] == "pong"


@pytest.mark.parametrize("kind", ["ping", "pong", "chat", None, 5])
def test_pong_type_never_echoed(server_time, kind):
    assert pong({"type": kind})["type"] == "pong"


def test_pong_key_of_64_chars_echoed(server_time):
    assert pong({"type": "ping", "k" * 64: 1})["k" * 64] == 1


def test_pong_key_over_64_chars_left_out(server_time):
    answer = pong({"type": "ping", "k" * 65: 1})
    assert answer == {"type": "pong", "ts": server_time, "server_ts": server_time}


@pytest.mark.parametrize("ts", [1, 1234.5, "client-clock", None, 0])
def test_pong_ts_of_ping_echoed(server_time, ts):
    answer = pong({"type": "ping", "ts": ts})
    assert answer["ts"] == ts
    assert answer["server_ts"] == server_time


@pytest.mark.parametrize("ts", [[1], {"ms": 1}, float("nan"), "t" * 65])
def test_pong_ts_not_echoable_server_time(server_time, ts):
    assert pong({"type": "ping", "ts": ts})["ts"] == server_time


@pytest.mark.parametrize("server_ts", [1, "mine", None, [1]])
def test_pong_server_ts_always_server_time(server_time, server_ts):
    assert pong({"type": "ping", "server_ts": server_ts})["server_ts"] == server_time


@pytest.mark.parametrize("nonce", [7, "n" * 64])
def test_pong_nonce_echoed(server_time, nonce):
    assert pong({"type": "ping", "nonce": nonce})["nonce"] == nonce


@pytest.mark.parametrize("nonce", ["n" * 65, 1.5, ["a"], {"a": 1}])
def test_pong_invalid_nonce_refused(nonce):
    with pytest.raises(MessageError) as error:
        pong({"type": "ping", "nonce": nonce})
    assert error.value.code == "invalid_nonce"


def test_pong_message_unchanged(server_time):
    message = {"type": "ping", "nonce": "n", "pad": "x" * 100}
    pong(message)
    assert message == {"type": "ping", "nonce": "n", "pad": "x" * 100}


# public_id ----------------------------------------------------------------------------------

CONNECTION = "0123456789abcdef0123456789abcdef"


def test_public_id_twelve_hex_chars():
    assert re.fullmatch(r"[0-9a-f]{12}", public_id(CONNECTION))


def test_public_id_digest_of_connection():
    expected = hashlib.sha256(f"sender:{CONNECTION}".encode()).hexdigest()[:12]
    assert public_id(CONNECTION) == expected


def test_public_id_stable():
    assert public_id(CONNECTION) == public_id("0123456789abcdef" * 2)


def test_public_id_not_part_of_connection():
    assert public_id(CONNECTION) not in CONNECTION


def test_public_id_differs_per_connection():
    assert public_id(CONNECTION) != public_id("f" + CONNECTION[1:])


@pytest.mark.parametrize(
    "connection",
    [
        "",
        "abc",
        CONNECTION[:-1],
        CONNECTION + "0",
        CONNECTION.upper(),
        "g" + CONNECTION[1:],
        f" {CONNECTION}",
        f"{CONNECTION}\n",
    ],
    ids=["empty", "short", "31-chars", "33-chars", "upper-case", "not-hex", "space", "newline"],
)
def test_public_id_other_strings_empty(connection):
    assert public_id(connection) == ""


@pytest.mark.parametrize("connection", [None, 5, CONNECTION.encode(), [CONNECTION]])
def test_public_id_not_a_string_empty(connection):
    assert public_id(connection) == ""


# welcome ----------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_welcome_sender_is_public_id(fresh_feed, feed):
    subscriber = feed.subscribe("websocket")
    hello = welcome(feed, subscriber)
    assert hello["connection"] == subscriber.id
    assert hello["sender"] == subscriber.public_id
    assert hello["sender"] != hello["connection"]


@pytest.mark.asyncio
async def test_welcome_limits_include_resume_window(fresh_feed, feed):
    hello = welcome(feed, feed.subscribe("sse"))
    assert hello["limits"]["resume_window"] == feed.options["RESUME_WINDOW"]
