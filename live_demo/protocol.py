"""What clients may send, shared by the WebSocket consumer and the HTTP side (POST)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import math
import os
from typing import TYPE_CHECKING, Any

from advisor.consumers import MessageError
from advisor.wire import now_ms

from .events import Event, UnencodableEvent

if TYPE_CHECKING:
    from .feed import Feed, Subscriber

# WebSocket close codes of ours (the README lists them). daphne forwards only
# 1000 and 3000-4999 from an application, so these are 4000 plus the number
# of the nearest HTTP status or WebSocket code.
CLOSE_DROPPED = 4000  # "Drop connection" in the demo: reconnect and resume
CLOSE_SLOW = 4008  # the backlog of unread events passed its bound (HTTP 408)
# Sending too fast for too long. The same code as the network check's probe
# for "too fast", so a client of the site handles one code for it (not 4029,
# which the numbering above would give). 4008 thus says "this client could not
# keep the pace", either way; the reason ("slow", "too many messages") tells which.
# 4029 is "too many connections" instead (CLOSE_TOO_MANY).
CLOSE_TOO_FAST = 4008
CLOSE_TOO_BIG = 4009  # a message over the limit, where the server did not close with 1009
CLOSE_INTERNAL = 4011  # the server failed (WebSocket 1011): reconnect and resume
# This client already holds its cap of open connections (HTTP 429). Sent
# after accepting: a browser cannot see why a handshake was refused.
CLOSE_TOO_MANY = 4029
CLOSE_CODES = {"dropped": CLOSE_DROPPED, "slow": CLOSE_SLOW, "shutdown": 1000}

MAX_NONCE_CHARS = 64


def chat_payload(message: dict[str, Any], *, sender: str, via: str, max_chars: int) -> dict:
    """The chat event's payload, from a client's {"type": "chat", "text": ...}."""
    text = message.get("text")
    if not isinstance(text, str) or not text.strip():
        raise MessageError("invalid_chat", 'A chat message needs a non-empty "text" string.')
    text = text.strip()
    if not is_utf8(text):
        # JSON's \ud800 escape gives Python a lone surrogate, which no UTF-8
        # wire can carry: once in the feed's history it failed every send
        # and every resume that included it.
        raise MessageError(
            "invalid_chat", "A chat message must be valid Unicode text (a lone surrogate is not)."
        )
    if len(text) > max_chars:
        raise MessageError(
            "chat_too_long",
            f"A chat message holds at most {max_chars} characters; this one has {len(text)}.",
        )
    return {"text": text, "via": via, "sender": sender, "nonce": nonce_of(message)}


async def publish_chat(feed: Feed, payload: dict[str, Any]) -> Event:
    """Publish a chat; a payload the feed cannot encode is the sender's error, not ours.

    `chat_payload` already refuses what is known not to encode; this keeps
    anything it missed a 400 or an error frame (the socket stays open) rather
    than a 500 or a closed socket, and the feed refuses it before it takes an id.
    """
    try:
        return await feed.publish("chat", payload)
    except UnencodableEvent:
        raise MessageError("invalid_chat", "That chat message cannot be sent as text.") from None


def nonce_of(message: dict[str, Any]) -> str | None:
    """The client's own tag for a message, echoed so it can time the round trip."""
    nonce = message.get("nonce")
    if nonce is None:
        return None
    # Checked as the text is: a nonce goes into the chat event, sent to everyone.
    if (
        not isinstance(nonce, str | int)
        or len(str(nonce)) > MAX_NONCE_CHARS
        or not is_utf8(str(nonce))
    ):
        raise MessageError(
            "invalid_nonce",
            f'"nonce" must be a string (valid Unicode) of at most {MAX_NONCE_CHARS} characters.',
        )
    return str(nonce)


def is_utf8(text: str) -> bool:
    """Whether `text` can be sent as UTF-8 (JSON's escapes can make it hold lone surrogates)."""
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


MAX_ECHOED_FIELDS = 8
MAX_ECHOED_CHARS = 64


def pong(message: dict[str, Any]) -> dict[str, Any]:
    """A ping's answer: its own small fields back (say, the client's send time), our time.

    Only scalars come back (a finite number, a boolean, null, or a string of up
    to 64 characters), at most 8 of them, so a ping cannot make the server send
    more than it received or JSON a browser cannot parse (NaN). The server's
    time is `server_ts`, and `ts` too unless the ping has a `ts` of its own.
    """
    nonce_of(message)  # refuses an oversized nonce with a clear error
    echoed = {}
    for key, value in message.items():
        if key == "type" or not isinstance(key, str) or len(key) > MAX_ECHOED_CHARS:
            continue
        if not is_utf8(key):
            continue
        if _small_scalar(value):
            echoed[key] = value
        if len(echoed) == MAX_ECHOED_FIELDS:
            break
    server_ts = now_ms()
    return {"ts": server_ts, **echoed, "type": "pong", "server_ts": server_ts}


def _small_scalar(value: Any) -> bool:
    if value is None or isinstance(value, bool):
        return True
    if isinstance(value, int):
        return abs(value) < 2**63
    if isinstance(value, float):
        return math.isfinite(value)
    # A string that cannot go out as UTF-8 (a lone surrogate) would fail the pong's send.
    return isinstance(value, str) and len(value) <= MAX_ECHOED_CHARS and is_utf8(value)


def resume_id(message: dict[str, Any]) -> int:
    last_id = message.get("last_id")
    if isinstance(last_id, bool) or not isinstance(last_id, int) or last_id < 0:
        raise MessageError("invalid_resume", 'A resume needs "last_id", a whole number >= 0.')
    return last_id


def binary_receipt(data: bytes, *, wire_bytes: int) -> dict[str, Any]:
    """What the server says of binary data it received: size and SHA-256."""
    return {
        "type": "binary_ack",
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "wire_bytes": wire_bytes,
        "ts": now_ms(),
    }


def decode_base64(value: Any, *, max_bytes: int) -> bytes:
    if not isinstance(value, str):
        raise MessageError("invalid_binary", '"data" must be a base64 string.')
    if len(value) > (max_bytes + 2) // 3 * 4 + 4:
        raise MessageError("binary_too_big", f"Binary data is limited to {max_bytes} bytes.")
    try:
        data = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise MessageError("invalid_binary", '"data" is not valid base64.') from None
    if len(data) > max_bytes:
        raise MessageError("binary_too_big", f"Binary data is limited to {max_bytes} bytes.")
    return data


def websocket_frame_bytes(payload_bytes: int, *, masked: bool) -> int:
    """Bytes a WebSocket frame takes on the wire (RFC 6455 section 5.2)."""
    if payload_bytes <= 125:
        header = 2
    elif payload_bytes <= 0xFFFF:
        header = 4
    else:
        header = 10
    return header + (4 if masked else 0) + payload_bytes


def welcome(feed: Feed, subscriber: Subscriber) -> dict[str, Any]:
    """The first message on either transport: who you are, and the limits."""
    options = feed.options
    return {
        "type": "welcome",
        "connection": subscriber.id,
        "sender": subscriber.public_id,
        "transport": subscriber.transport,
        # Where this connection's live stream starts: not the feed's newest id,
        # which may have moved on between subscribing and this welcome.
        "last_id": subscriber.last_sent,
        "ts": now_ms(),
        "server": {"process": os.getpid(), "backend": feed.backend},
        "limits": {
            "max_text_bytes": options["MAX_TEXT_BYTES"],
            "max_binary_bytes": options["MAX_BINARY_BYTES"],
            "max_messages_per_second": options["MAX_MESSAGES_PER_SECOND"],
            "max_chat_chars": options["MAX_CHAT_CHARS"],
            "history": options["HISTORY"],
            "resume_window": options["RESUME_WINDOW"],
        },
    }
