"""Live-demo subscribers through the proxy (TLS), as the demo page behaves.

A WebSocket subscriber answers the welcome with `resume` after a drop (a
`ping` at first) and reconnects after a random delay under 250 ms x 2^attempt;
an SSE subscriber reconnects after the stream's `retry:` with `Last-Event-ID`,
as EventSource does. Each records the ids it received (to count gaps and
duplicates), the `gap` notices it was sent, and when it was back and caught
up after a drop: caught up means it has the event that was newest when its new
connection was welcomed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import ssl
import time
from urllib.parse import urlsplit

from websockets.asyncio.client import connect
from websockets.exceptions import WebSocketException

FEED_TYPES = {"tick", "chat"}


def insecure_tls() -> ssl.SSLContext:
    """The self-signed certificate of the test topology is not checked."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


class Subscriber:
    transport = ""

    def __init__(self, base_url: str, tls: ssl.SSLContext) -> None:
        self.base_url = base_url
        self.tls = tls
        self.last_id: int | None = None
        self.lost = 0
        self.duplicates = 0
        self.received = 0
        self.gaps: list[dict] = []
        self.connections = 0
        self.connected = asyncio.Event()
        self.dropped_at: float | None = None
        self.back_at: float | None = None
        self.caught_up_at: float | None = None
        self.target: int | None = None
        self.stopping = False
        self.errors: list[str] = []

    # What the feed says ---------------------------------------------------------

    def on_welcome(self, message: dict) -> None:
        self.connections += 1
        self.connected.set()
        if self.dropped_at is not None:
            self.back_at = time.monotonic()
            self.target = int(message.get("last_id") or 0)
            self._check_caught_up()

    def on_event(self, event_id: int) -> None:
        if self.last_id is not None:
            if event_id <= self.last_id:
                self.duplicates += 1
                return
            self.lost += event_id - self.last_id - 1
        self.last_id = event_id
        self.received += 1
        self._check_caught_up()

    def on_gap(self, message: dict) -> None:
        self.gaps.append(message)
        if message.get("reason") == "restarted":
            # A new id sequence: ids start again, nothing to compare with.
            self.last_id = None
        else:
            self.lost += int(message.get("missed") or 0)

    def _check_caught_up(self) -> None:
        if (
            self.target is not None
            and self.caught_up_at is None
            and (self.last_id or 0) >= self.target
        ):
            self.caught_up_at = time.monotonic()

    def on_dropped(self) -> None:
        if self.stopping:
            return
        self.connected.clear()
        self.dropped_at = time.monotonic()
        self.back_at = self.caught_up_at = self.target = None

    # The connection loop ------------------------------------------------------------

    async def run(self) -> None:
        attempt = 0
        while not self.stopping:
            try:
                await self.connect_once()
                attempt = 0
            except (
                OSError,
                TimeoutError,
                WebSocketException,
                ConnectionError,
                ValueError,
            ) as error:
                self.errors.append(f"{type(error).__name__}: {error}")
                attempt += 1
            if self.stopping:
                return
            if self.dropped_at is None or self.connected.is_set():
                self.on_dropped()
            await asyncio.sleep(self.reconnect_delay(attempt))

    async def connect_once(self) -> None:
        raise NotImplementedError

    def reconnect_delay(self, attempt: int) -> float:
        raise NotImplementedError


class WebSocketSubscriber(Subscriber):
    transport = "ws"

    async def connect_once(self) -> None:
        parts = urlsplit(self.base_url)
        async with connect(
            f"wss://{parts.netloc}/ws/demo/",
            ssl=self.tls,
            origin=self.base_url,
            compression=None,
            ping_interval=None,
            open_timeout=10,
            close_timeout=1,
            max_size=2**20,
            proxy=None,
        ) as websocket:
            self.websocket = websocket
            async for text in websocket:
                message = json.loads(text)
                kind = message.get("type")
                if kind in FEED_TYPES:
                    self.on_event(int(message["id"]))
                elif kind == "welcome":
                    self.on_welcome(message)
                    first = (
                        {"type": "resume", "last_id": self.last_id}
                        if self.last_id is not None
                        else {"type": "ping"}
                    )
                    await websocket.send(json.dumps(first))
                elif kind == "gap":
                    self.on_gap(message)

    def reconnect_delay(self, attempt: int) -> float:
        return random.random() * min(10.0, 0.25 * 2**attempt)

    async def close(self) -> None:
        self.stopping = True
        with contextlib.suppress(Exception):
            await self.websocket.close()


class SseSubscriber(Subscriber):
    transport = "sse"
    retry = 2.0

    async def connect_once(self) -> None:
        parts = urlsplit(self.base_url)
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(parts.hostname, parts.port, ssl=self.tls), 10
        )
        self.writer = writer
        try:
            lines = [
                "GET /demo/events/ HTTP/1.1",
                f"Host: {parts.netloc}",
                "Accept: text/event-stream",
                "Cache-Control: no-cache",
            ]
            if self.last_id is not None:
                lines.append(f"Last-Event-ID: {self.last_id}")
            writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
            status = await asyncio.wait_for(reader.readline(), 10)
            if b" 200 " not in status:
                raise ConnectionError(f"the stream answered {status!r}")
            chunked = False
            while (line := await reader.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"transfer-encoding:") and b"chunked" in line.lower():
                    chunked = True
            body = _chunks(reader) if chunked else _raw(reader)
            await self._read_events(body)
        finally:
            writer.close()

    async def _read_events(self, body) -> None:
        buffer = b""
        fields: dict[str, str] = {}
        data: list[str] = []
        async for piece in body:
            buffer += piece
            *complete, buffer = buffer.split(b"\n")
            for raw in complete:
                line = raw.rstrip(b"\r").decode()
                if not line:
                    if data:
                        self._dispatch(fields.get("event", "message"), "\n".join(data))
                    fields, data = {}, []
                elif line.startswith(":"):
                    continue
                else:
                    name, _, value = line.partition(":")
                    value = value.removeprefix(" ")
                    if name == "data":
                        data.append(value)
                    elif name == "retry" and value.isdigit():
                        self.retry = int(value) / 1000
                    else:
                        fields[name] = value

    def _dispatch(self, event: str, data: str) -> None:
        message = json.loads(data)
        if event == "welcome":
            self.on_welcome(message)
        elif event == "gap":
            self.on_gap(message)
        elif event in FEED_TYPES:
            self.on_event(int(message["id"]))

    def reconnect_delay(self, attempt: int) -> float:
        return self.retry

    async def close(self) -> None:
        self.stopping = True
        with contextlib.suppress(Exception):
            self.writer.close()


async def _raw(reader: asyncio.StreamReader):
    while piece := await reader.read(65536):
        yield piece


async def _chunks(reader: asyncio.StreamReader):
    while True:
        size_line = await reader.readline()
        if not size_line:
            return
        size = int(size_line.split(b";")[0].strip() or b"0", 16)
        if size == 0:
            return
        yield await reader.readexactly(size)
        await reader.readexactly(2)


class Crowd:
    """Many subscribers of both kinds, started together and stopped together."""

    def __init__(self, base_url: str, websockets: int, streams: int) -> None:
        tls = insecure_tls()
        self.subscribers: list[Subscriber] = [
            *(WebSocketSubscriber(base_url, tls) for _ in range(websockets)),
            *(SseSubscriber(base_url, tls) for _ in range(streams)),
        ]
        self.tasks: list[asyncio.Task] = []

    async def start(self, timeout: float = 60) -> None:
        opening = asyncio.Semaphore(50)

        async def start_one(subscriber: Subscriber) -> None:
            async with opening:
                self.tasks.append(asyncio.create_task(subscriber.run()))
                await asyncio.wait_for(subscriber.connected.wait(), timeout)

        await asyncio.gather(*(start_one(s) for s in self.subscribers))

    async def stop(self) -> None:
        for subscriber in self.subscribers:
            await subscriber.close()
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)

    async def wait_until(self, condition, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return True
            await asyncio.sleep(0.05)
        return condition()
