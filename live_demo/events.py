"""Feed events and their two wire forms, each encoded once for every subscriber."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from advisor.wire import now_ms


class UnencodableEvent(ValueError):
    """An event the feed refuses: one of its wire forms cannot be built.

    Raised at publication, before the event takes an id, so a feed never holds
    an event that would fail every later attempt to send it (a chat with a lone
    UTF-16 surrogate once made every resume over it fail).
    """


def format_event(
    data: str,
    *,
    event: str | None = None,
    id: int | str | None = None,
    retry: int | None = None,
) -> bytes:
    """One SSE event: `event` and `id` cannot break out of their line, `data` spans lines."""
    lines = []
    if id is not None:
        lines.append(f"id: {_one_line(str(id))}")
    if event is not None:
        lines.append(f"event: {_one_line(event)}")
    if retry is not None:
        lines.append(f"retry: {int(retry)}")
    normalised = data.replace("\r\n", "\n").replace("\r", "\n")
    lines.extend(f"data: {line}" for line in normalised.split("\n"))
    return ("\n".join(lines) + "\n\n").encode()


def format_comment(text: str) -> bytes:
    return f": {_one_line(text)}\n\n".encode()


def websocket_text_frame(payload: bytes) -> bytes:
    """A whole unmasked server-to-client text frame (RFC 6455 section 5.2)."""
    size = len(payload)
    if size <= 125:
        header = bytes((0x81, size))
    elif size <= 0xFFFF:
        header = bytes((0x81, 126)) + size.to_bytes(2, "big")
    else:
        header = bytes((0x81, 127)) + size.to_bytes(8, "big")
    return header + payload


def http_chunk(data: bytes) -> bytes:
    """`data` as one chunk of a chunked HTTP/1.1 response body (RFC 9112 section 7.1)."""
    return b"%x\r\n%b\r\n" % (len(data), data)


def _one_line(value: str) -> str:
    return value.replace("\r", "").replace("\n", "").replace("\0", "")


@dataclass(frozen=True)
class Event:
    """One feed event: every client on either transport sees the same ids in order."""

    id: int
    type: str
    ts: float
    payload: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, text: str) -> Event:
        raw = json.loads(text)
        return cls(id=int(raw["id"]), type=raw["type"], ts=raw["ts"], payload=raw["payload"])

    def encoded(self) -> Event:
        """This event with every wire form built and cached, or UnencodableEvent.

        Publication calls it before the event takes an id: whatever cannot be
        encoded (text that is not valid Unicode, NaN, an object JSON cannot
        hold) is refused there, once, rather than on every later send.
        """
        try:
            # sse_chunk builds sse, which builds json; websocket_frame encodes json.
            self.sse_chunk  # noqa: B018
            self.websocket_frame  # noqa: B018
        except (ValueError, TypeError, RecursionError) as error:
            # UnicodeEncodeError is a ValueError, as is NaN under allow_nan=False.
            message = f"a {self.type!r} event that cannot be encoded: {error}"
            raise UnencodableEvent(message) from error
        return self

    @cached_property
    def json(self) -> str:
        """The WebSocket text frame, and the SSE data line."""
        # No NaN or Infinity: they are not JSON, and a browser's JSON.parse
        # refuses the whole event.
        return json.dumps(
            {"id": self.id, "type": self.type, "ts": self.ts, "payload": self.payload},
            separators=(",", ":"),
            ensure_ascii=False,
            allow_nan=False,
        )

    @cached_property
    def sse(self) -> bytes:
        return format_event(self.json, event=self.type, id=self.id)

    # The same event framed for the wire, for connections written to directly
    # (serving.direct_write.Connection): framed once per event, not per subscriber.
    @cached_property
    def websocket_frame(self) -> bytes:
        return websocket_text_frame(self.json.encode())

    @cached_property
    def sse_chunk(self) -> bytes:
        return http_chunk(self.sse)


def gap_notice(
    last_id: int, oldest: int | None, newest: int, reason: str, *, missed: int | None = None
) -> dict[str, Any]:
    """What a client that asked to resume after `last_id` cannot get back.

    `reason` is "expired" (older than the history: `missed` events are gone)
    or "restarted" (an id of another sequence: the feed started a new one,
    and how many were missed is not known).
    """
    return {
        "type": "gap",
        "last_id": last_id,
        "oldest": oldest,
        "newest": newest,
        "missed": missed,
        "reason": reason,
        "ts": now_ms(),
    }
