"""The network check's probes: /network-check/ws/ (pings) and /network-check/events/ (a burst).

They measure the path between one browser and this server: does a
WebSocket upgrade get through, how long a round trip takes, and whether a
streamed response arrives as it is sent or held back and delivered at once
(a buffering proxy). Separate from the demo's feed; the same origin checks,
helpers and kinds of limits. `?simulate=` makes each probe behave as a hostile
network would, for tests and demonstrations.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs

from django.conf import settings

from advisor.clients import OpenConnections, client_key
from advisor.consumers import MessageError, StandaloneConsumer
from advisor.limits import RateLimiter
from advisor.origins import plain_response
from advisor.wire import now_ms, to_json
from live_demo.events import format_event

# One code site-wide for each: over the message rate; too many open connections.
from live_demo.protocol import CLOSE_TOO_FAST, CLOSE_TOO_MANY
from live_demo.sse import HEADERS, serve_until_disconnect
from serving.daphne_limits import send_close_frame

from . import via as proxies

# Settings may override these through LIVE_DEMO, where they have always been
# set alongside the demo's own limits (tests shorten them).
DEFAULTS: dict[str, Any] = {
    "PROBE_MAX_TEXT_BYTES": 1024,
    "PROBE_MAX_MESSAGES_PER_SECOND": 20,
    "PROBE_MAX_PINGS": 100,
    "PROBE_LIFETIME": 30.0,  # seconds
    "MAX_PROBE_STREAMS": 200,  # open SSE probe streams per process
    # ... of which one client may hold this many (0: no cap), so that one
    # client cannot take them all (advisor/settings.py says why 20).
    "PROBE_MAX_STREAMS_PER_CLIENT": 20,
}

CLOSE_NORMAL = 1000  # lifetime or ping allowance used up
CLOSE_UNSUPPORTED = 1003  # a binary frame
CLOSE_TOO_BIG = 1009  # a text frame over the limit

# The SSE probe's query: name -> (lowest, highest, default).
STREAM_RANGES = {"count": (2, 50, 10), "interval_ms": (50, 1000, 200)}
STREAM_SIMULATIONS = {"buffering"}
# The probe ends its response after `done`: EventSource must not reconnect
# (and so count a second burst) before the page closes it.
RETRY_MS = 60_000
BUSY_RETRY_AFTER = b"5"
ACCEPTED = (
    "Accepted: count, a whole number from 2 to 50 (default 10); interval_ms, a whole "
    "number from 50 to 1000 (default 200); simulate=buffering.\n"
)


def probe_options() -> dict[str, Any]:
    overrides = getattr(settings, "LIVE_DEMO", {})
    return {name: overrides.get(name, default) for name, default in DEFAULTS.items()}


def query_of(scope: dict[str, Any]) -> dict[str, list[str]]:
    return parse_qs(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)


class ProbeConsumer(StandaloneConsumer):
    """Answers pings at once; refuses everything else a probe has no use for."""

    # No channel layer, as for the demo: a Redis hiccup cannot fail the check.

    expiry: asyncio.Task | None = None
    # This socket's place under the per-client cap, shared with the streams.
    slot = None
    # Set once the server has closed: messages still in flight are ignored.
    closing = False

    async def connect(self) -> None:
        simulate = query_of(self.scope).get("simulate")
        if simulate == ["blocked"]:
            # Closing before accepting refuses the handshake (HTTP 403): the
            # browser sees an error and close 1006, as behind a proxy that
            # refuses the Upgrade.
            await self.close()
            return
        self.options = probe_options()
        per_client = self.options["PROBE_MAX_STREAMS_PER_CLIENT"]
        self.slot = probes_per_client.acquire(client_key(self.scope), per_client)
        await self.accept()
        if self.slot is None:
            # Accepted, then closed: a browser cannot see a refused handshake's status.
            await self._end(CLOSE_TOO_MANY, "too many connections")
            return
        if simulate is not None:
            await self.send_error(
                MessageError("invalid_simulate", "The only simulation here is simulate=blocked.")
            )
            await self._end(CLOSE_NORMAL, "unknown simulation")
            return
        self.limiter = RateLimiter(self.options["PROBE_MAX_MESSAGES_PER_SECOND"])
        self.pings = 0
        self.expiry = asyncio.create_task(self._expire(self.options["PROBE_LIFETIME"]))
        await self.send_json(
            {
                "type": "welcome",
                "server_ts": now_ms(),
                "limits": {
                    "max_text_bytes": self.options["PROBE_MAX_TEXT_BYTES"],
                    "max_messages_per_second": self.options["PROBE_MAX_MESSAGES_PER_SECOND"],
                    "max_pings": self.options["PROBE_MAX_PINGS"],
                    "lifetime_s": self.options["PROBE_LIFETIME"],
                },
            }
        )

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None):
        if self.closing:
            return
        if bytes_data is not None:
            await self._end(CLOSE_UNSUPPORTED, "binary frames are not accepted")
            return
        limit = self.options["PROBE_MAX_TEXT_BYTES"]
        if len(text_data.encode()) > limit:
            await self._end(CLOSE_TOO_BIG, f"a message holds at most {limit} bytes")
            return
        if not self.limiter.allow():
            rate = self.options["PROBE_MAX_MESSAGES_PER_SECOND"]
            await self._end(CLOSE_TOO_FAST, f"more than {rate} messages a second")
            return
        try:
            ping = parse_ping(text_data)
        except MessageError as error:
            await self.send_error(error)
            return
        self.pings += 1
        await self.send_json({"type": "pong", **ping, "server_ts": now_ms()})
        if self.pings >= self.options["PROBE_MAX_PINGS"]:
            await self._end(CLOSE_NORMAL, "ping allowance used up")

    async def _expire(self, lifetime: float) -> None:
        await asyncio.sleep(lifetime)
        await self._end(CLOSE_NORMAL, "probe lifetime over")

    async def release(self) -> None:
        expiry, self.expiry = self.expiry, None
        await self.stop(expiry)
        if self.slot is not None:
            self.slot.release()

    async def _end(self, code: int, reason: str) -> None:
        if self.closing:
            return
        self.closing = True
        # daphne lets an application close only with 1000 or 3000-4999.
        if code in {CLOSE_UNSUPPORTED, CLOSE_TOO_BIG} and send_close_frame(
            self.base_send, code, reason
        ):
            return
        await self.close(code=code, reason=reason)


def parse_ping(text: str) -> dict[str, Any]:
    """`n` and `client_ts` of a {"type": "ping", "n": int, "client_ts": number}."""
    try:
        message = json.loads(text)
    except (ValueError, RecursionError):
        raise MessageError("invalid_json", "That message is not JSON.") from None
    if not isinstance(message, dict):
        raise MessageError("invalid_message", "A message must be a JSON object.")
    if message.get("type") != "ping":
        kind = message.get("type")
        raise MessageError("unknown_type", f"Unknown message type {kind!r:.40}; send a ping.")
    n = message.get("n")
    if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n < 2**53:
        raise MessageError("invalid_ping", 'A ping needs "n", a whole number >= 0.')
    client_ts = message.get("client_ts")
    if client_ts is not None and (
        isinstance(client_ts, bool)
        or not isinstance(client_ts, int | float)
        or not math.isfinite(client_ts)
        or abs(client_ts) >= 2**53
    ):
        raise MessageError("invalid_ping", '"client_ts" must be a number (ms), if given.')
    return {"n": n, "client_ts": client_ts}


# The SSE probe's streams in this process (their tasks), for the cap.
_streams: set[asyncio.Task] = set()
# The probes open per client, streams and sockets together, for the
# per-client cap (one check opens 8 streams and 1 socket).
probes_per_client = OpenConnections("network-check probes")


def open_probe_streams() -> int:
    return len(_streams)


async def probe_stream(scope, receive, send) -> None:
    """GET /network-check/events/: `count` events `interval_ms` apart, then `done`."""
    if scope["method"] not in {"GET", "HEAD"}:
        await plain_response(send, 405, b"Only GET opens the probe.\n", [(b"allow", b"GET, HEAD")])
        return
    try:
        count, interval_ms, buffered = stream_query(scope)
    except ValueError as error:
        await plain_response(send, 400, f"{error} {ACCEPTED}".encode())
        return
    if len(_streams) >= probe_options()["MAX_PROBE_STREAMS"]:
        await plain_response(
            send,
            503,
            b"Too many network checks are running; try again in a few seconds.\n",
            [(b"retry-after", BUSY_RETRY_AFTER)],
        )
        return
    per_client = probe_options()["PROBE_MAX_STREAMS_PER_CLIENT"]
    slot = probes_per_client.acquire(client_key(scope), per_client)
    if slot is None:
        await plain_response(
            send,
            429,
            f"Too many network checks from your address (at most {per_client} probes "
            "open at once); try again in a few seconds.\n".encode(),
            [(b"retry-after", BUSY_RETRY_AFTER)],
        )
        return
    head = scope["method"] == "HEAD"
    # Through the proxy's buffering location: the burst ends with a receipt.
    via = proxies.seen_via(scope)
    with slot:
        stream = asyncio.create_task(
            _serve(send, count, interval_ms, buffered=buffered, head=head, via=via)
        )
        _streams.add(stream)
        try:
            await serve_until_disconnect(stream, receive)
        finally:
            _streams.discard(stream)


def stream_query(scope: dict[str, Any]) -> tuple[int, int, bool]:
    """count, interval_ms and whether to buffer; ValueError says what is wrong."""
    query = query_of(scope)
    unknown = sorted(set(query) - {*STREAM_RANGES, "simulate"})
    if unknown:
        raise ValueError(f"Unknown parameter {unknown[0]!r:.40}.")
    values = []
    for name, (low, high, default) in STREAM_RANGES.items():
        given = query.get(name)
        if given is None:
            values.append(default)
            continue
        # isdigit() alone would take other scripts' digits and "²".
        text = given[0]
        if len(given) > 1 or not (text.isascii() and text.isdigit() and len(text) <= 6):
            raise ValueError(f"{name} must be one whole number.")
        if not low <= int(text) <= high:
            raise ValueError(f"{name}={int(text)} is out of range.")
        values.append(int(text))
    simulate = query.get("simulate")
    if simulate is not None and (len(simulate) > 1 or simulate[0] not in STREAM_SIMULATIONS):
        raise ValueError("Unknown simulation.")
    count, interval_ms = values
    return count, interval_ms, simulate is not None


async def _serve(
    send, count: int, interval_ms: int, *, buffered: bool, head: bool, via: str | None = None
) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    if head:
        await send({"type": "http.response.body", "body": b""})
        return
    async with contextlib.aclosing(_burst(count, interval_ms, via)) as chunks:
        if buffered:
            # A buffering proxy: the same events at the same times, held
            # back and delivered together once the last one is in.
            body = b"".join([chunk async for chunk in chunks])
            await send({"type": "http.response.body", "body": body})
            return
        async for chunk in chunks:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
    await send({"type": "http.response.body", "body": b""})


async def _burst(count: int, interval_ms: int, via: str | None = None) -> AsyncIterator[bytes]:
    """The probe events on their schedule (the first at once), `done` with the last.

    `done` says `via` and carries its receipt when a trusted proxy marked the
    request (network_check/via.py).
    """
    done: dict[str, Any] = {"of": count}
    if via is not None:
        done.update(via=via, receipt=proxies.receipt(via, count, interval_ms))
    loop = asyncio.get_running_loop()
    opened = loop.time()
    head = f"retry: {RETRY_MS}\n\n".encode()
    for n in range(1, count + 1):
        # Each due time counts from the start, so delays do not add up.
        delay = opened + (n - 1) * interval_ms / 1000 - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        sent_ms = round((loop.time() - opened) * 1000, 1)
        chunk = head + format_event(
            to_json({"n": n, "of": count, "sent_ms": sent_ms}), event="probe", id=n
        )
        head = b""
        if n == count:
            chunk += format_event(to_json(done), event="done")
        yield chunk
