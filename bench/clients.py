"""Load clients for the live-feed benchmarks: WebSocket and SSE subscribers in worker processes.

Each worker process runs one asyncio (uvloop) event loop holding its share of
the subscribers, so the load can use more than one core. A subscriber records,
for every feed event, its delay (receipt time minus the event's server `ts`,
one clock: the same machine), and counts events lost (gaps in the id
sequence) and duplicates. WebSocket subscribers use the `websockets` library;
SSE subscribers parse the HTTP response (chunked or not) and the event stream
themselves on an asyncio protocol, which costs far less CPU per event than an
HTTP client library. Both send an `Origin` header.

Bounded: a worker opens only the subscribers it is given, and exits by
itself at its deadline or when the parent goes away. Nothing here imports
Django: workers are spawned fresh.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import multiprocessing
import os
import random
import ssl
import statistics
import time
from array import array
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any
from urllib.parse import urlsplit

from common import percentile
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, WebSocketException
from websockets.frames import Frame, Opcode

FEED_TYPES = {"tick", "chat"}


def _tls(url: str) -> ssl.SSLContext | None:
    """For wss:// and https:// endpoints (the proxy's self-signed certificate: not checked)."""
    if not url.startswith(("wss:", "https:")):
        return None
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


@dataclass(frozen=True)
class Endpoint:
    """Where subscribers of one kind connect."""

    transport: str  # "ws" or "sse"
    url: str  # ws://host:port/path or http://host:port/path
    origin: str
    # Our WebSocket protocol: answer the welcome with {"type": "resume"} (go
    # live at once; after a drop, replay from the last id). Other servers
    # ignore it, so it is sent to them too.
    resume_message: bool = True


@dataclass
class TransportStats:
    """What one transport's subscribers saw, in one worker (summed over workers)."""

    opened: int = 0
    failed: int = 0
    errors: Counter = field(default_factory=Counter)
    received: int = 0  # feed events inside the measurement window
    latencies: array = field(default_factory=lambda: array("d"))  # ms, inside the window
    lost: int = 0  # ids skipped, at any time
    duplicates: int = 0
    closed: Counter = field(default_factory=Counter)  # unexpected closes, by code or reason
    heartbeats: int = 0  # SSE comment lines, WebSocket pings
    # Reconnect storm: seconds from the drop to live again / caught up, per subscriber.
    live_after: list[float] = field(default_factory=list)
    caught_up_after: list[float] = field(default_factory=list)
    attempts_failed: int = 0

    def merge(self, other: TransportStats) -> None:
        for name in ("opened", "failed", "received", "lost", "duplicates", "heartbeats"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.attempts_failed += other.attempts_failed
        self.errors.update(other.errors)
        self.closed.update(other.closed)
        self.latencies.extend(other.latencies)
        self.live_after.extend(other.live_after)
        self.caught_up_after.extend(other.caught_up_after)


@dataclass
class Report:
    """One phase's figures from every worker: per transport, plus client CPU."""

    transports: dict[str, TransportStats] = field(default_factory=dict)
    cpu_seconds: list[float] = field(default_factory=list)  # per worker, in the phase
    wall_seconds: float = 0.0
    unfinished: int = 0  # storm: subscribers not caught up by the timeout

    def merge(self, other: Report) -> None:
        for transport, stats in other.transports.items():
            self.transports.setdefault(transport, TransportStats()).merge(stats)
        self.cpu_seconds.extend(other.cpu_seconds)
        self.wall_seconds = max(self.wall_seconds, other.wall_seconds)
        self.unfinished += other.unfinished

    def total(self) -> TransportStats:
        everything = TransportStats()
        for stats in self.transports.values():
            everything.merge(stats)
        return everything

    @property
    def client_cpu_share(self) -> float:
        """The busiest worker's share of one core over the phase (1.0: saturated)."""
        if not self.cpu_seconds or not self.wall_seconds:
            return 0.0
        return max(self.cpu_seconds) / self.wall_seconds


# One subscriber ------------------------------------------------------------------------


class Subscriber:
    """One connection's view of the feed, kept across reconnects."""

    def __init__(self, worker: Worker, endpoint: Endpoint) -> None:
        self.worker = worker
        self.endpoint = endpoint
        self.stats = worker.stats[endpoint.transport]
        self.last_id: int | None = None
        self.target: int | None = None  # after a drop: caught up at this id
        self.transport: asyncio.BaseTransport | None = None
        self.retry_ms = 2000  # SSE: what the stream's retry: field says
        self.has_opened = False
        self.dropped_at: float | None = None
        self.live_at: float | None = None
        self.caught_up_at: float | None = None

    def on_message(self, message: Any) -> bool:
        """Handle one JSON message; True when the client should send a resume."""
        if not isinstance(message, dict):
            return False
        kind = message.get("type")
        if kind in FEED_TYPES and "id" in message and "ts" in message:
            self.on_event(int(message["id"]), float(message["ts"]))
        elif kind == "welcome":
            # Gaps count from the first event, not from the welcome's last_id:
            # on SSE an event or two older than it can follow (the subscriber
            # is registered a moment before the welcome is written).
            if self.dropped_at is not None:
                self.live_at = time.monotonic()
                self.target = int(message["last_id"])
                self._check_caught_up()
            return True
        elif kind == "gap":
            self.stats.lost += int(message.get("missed") or 0)
        return False

    def on_event(self, event_id: int, ts: float) -> None:
        stats = self.stats
        last = self.last_id
        if last is not None:
            if event_id <= last:
                stats.duplicates += 1
                return
            if event_id > last + 1:
                stats.lost += event_id - last - 1
        self.last_id = event_id
        if self.worker.measuring:
            stats.received += 1
            stats.latencies.append(time.time() * 1000 - ts)
        if self.target is not None:
            self._check_caught_up()

    def _check_caught_up(self) -> None:
        if self.caught_up_at is None and self.last_id is not None and self.last_id >= self.target:
            self.caught_up_at = time.monotonic()
            self.stats.live_after.append(self.live_at - self.dropped_at)
            self.stats.caught_up_after.append(self.caught_up_at - self.dropped_at)
            self.worker.caught_up(self)

    def drop(self, at: float) -> None:
        """Cut the connection from the client side, as a network failure would."""
        self.dropped_at = at
        self.live_at = self.caught_up_at = None
        self.target = None
        if self.transport is not None:
            self.transport.abort()

    # The connection loop ------------------------------------------------------------

    async def run(self, opened: asyncio.Semaphore) -> None:
        """Connect; after a drop of ours, reconnect and resume as the real clients do."""
        connect = self._websocket if self.endpoint.transport == "ws" else self._sse
        attempt = 0
        while not self.worker.stopping:
            try:
                await connect(opened)
                attempt = 0
            except (OSError, TimeoutError, WebSocketException, HandshakeError) as error:
                self.stats.errors[_describe(error)] += 1
                if not self.has_opened:
                    self.stats.failed += 1
                    self.worker.opened_one()
                    return
                self.stats.attempts_failed += 1
                attempt += 1
            if self.dropped_at is None:
                return  # closed by the server: the fan-out counts it, nobody reconnects
            await asyncio.sleep(self._reconnect_delay(attempt))

    def _reconnect_delay(self, attempt: int) -> float:
        if self.worker.policy == "immediate" and not attempt:
            return 0.0
        if self.endpoint.transport == "ws" or self.worker.policy == "immediate":
            # The demo page's policy: full jitter under 250 ms x 2^attempt, at most 10 s.
            return random.random() * min(10.0, 0.25 * 2**attempt)
        # EventSource's: the stream's retry: milliseconds, every time.
        return self.retry_ms / 1000

    async def _websocket(self, opened: asyncio.Semaphore) -> None:
        endpoint = self.endpoint
        async with opened:
            websocket = await connect(
                endpoint.url,
                origin=endpoint.origin,
                # Like for like on every server: no permessage-deflate, no
                # client pings (browsers send none), no proxy from the environment.
                compression=None,
                ping_interval=None,
                proxy=None,
                open_timeout=60,
                close_timeout=1,
                max_size=2**20,
                create_connection=_CountingConnection,
                **({"ssl": _tls(endpoint.url)} if endpoint.url.startswith("wss:") else {}),
            )
        self.transport = websocket.transport
        websocket.subscriber = self
        if not self.has_opened:
            self.has_opened = True
            self.stats.opened += 1
            self.worker.opened_one()
        try:
            async for text in websocket:
                if self.on_message(json.loads(text)) and endpoint.resume_message:
                    await websocket.send(json.dumps(self._first_message()))
        except ConnectionClosed:
            pass
        finally:
            self.transport = None
        self._closed(websocket.close_code, websocket.close_reason)

    def _first_message(self) -> dict[str, Any]:
        # As the demo page does: resume after a drop, else a ping to go live at once.
        if self.last_id is not None:
            return {"type": "resume", "last_id": self.last_id}
        return {"type": "ping"}

    async def _sse(self, opened: asyncio.Semaphore) -> None:
        parts = urlsplit(self.endpoint.url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        lines = [
            f"GET {path} HTTP/1.1",
            f"Host: {parts.netloc}",
            f"Origin: {self.endpoint.origin}",
            "Accept: text/event-stream",
            "Cache-Control: no-cache",
        ]
        if self.dropped_at is not None and self.last_id is not None:
            lines.append(f"Last-Event-ID: {self.last_id}")
        request = ("\r\n".join(lines) + "\r\n\r\n").encode()
        loop = asyncio.get_running_loop()
        async with opened:
            transport, protocol = await asyncio.wait_for(
                loop.create_connection(
                    lambda: _SseProtocol(self, request),
                    parts.hostname,
                    parts.port,
                    ssl=_tls(self.endpoint.url),
                ),
                60,
            )
            try:
                await asyncio.wait_for(asyncio.shield(protocol.head), 60)
            except BaseException:
                transport.abort()
                raise
        self.transport = transport
        if not self.has_opened:
            self.has_opened = True
            self.stats.opened += 1
            self.worker.opened_one()
        try:
            reason = await protocol.ended
        finally:
            self.transport = None
        self._closed(None, reason)

    def _closed(self, code: int | None, reason: str | None) -> None:
        if self.dropped_at is not None and self.caught_up_at is None:
            return  # our own drop, or a failure while recovering from it
        if self.worker.stopping:
            return
        self.stats.closed[str(code) if code is not None else (reason or "closed")] += 1


class HandshakeError(Exception):
    pass


def _describe(error: BaseException) -> str:
    return type(error).__name__ + (f": {error}"[:80] if str(error) else "")


class _CountingConnection(ClientConnection):
    """A WebSocket client connection that counts the server's pings (its heartbeat)."""

    subscriber: Subscriber | None = None

    def process_event(self, event: Any) -> None:
        if isinstance(event, Frame) and event.opcode is Opcode.PING and self.subscriber:
            self.subscriber.stats.heartbeats += 1
        super().process_event(event)


class _SseProtocol(asyncio.Protocol):
    """An HTTP/1.1 GET whose response is an event stream, parsed as it arrives."""

    def __init__(self, subscriber: Subscriber, request: bytes) -> None:
        self.subscriber = subscriber
        self.request = request
        loop = asyncio.get_running_loop()
        self.head: asyncio.Future[None] = loop.create_future()
        self.ended: asyncio.Future[str] = loop.create_future()
        self.raw = b""
        self.body = b""
        self.chunked = False
        self.data_left = 0
        self.crlf_left = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        transport.write(self.request)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.head.done():
            self.head.set_exception(ConnectionResetError("closed before the response"))
        if not self.ended.done():
            self.ended.set_result("reset" if exc else "closed")

    def data_received(self, data: bytes) -> None:
        self.raw += data
        if not self.head.done():
            end = self.raw.find(b"\r\n\r\n")
            if end < 0:
                return
            head, self.raw = self.raw[:end].decode("latin-1"), self.raw[end + 4 :]
            status_line, *header_lines = head.split("\r\n")
            status = status_line.split(" ", 2)[1]
            if status != "200":
                self.head.set_exception(HandshakeError(f"HTTP {status}"))
                self.transport.close()
                return
            headers = {
                name.strip().lower(): value.strip()
                for name, _, value in (line.partition(":") for line in header_lines)
            }
            self.chunked = headers.get("transfer-encoding", "").lower() == "chunked"
            self.head.set_result(None)
        if self.chunked:
            self._dechunk()
        else:
            self.body += self.raw
            self.raw = b""
        self._events()

    def _dechunk(self) -> None:
        raw, pos, pieces = self.raw, 0, []
        while pos < len(raw):
            if self.data_left:
                take = min(self.data_left, len(raw) - pos)
                pieces.append(raw[pos : pos + take])
                pos += take
                self.data_left -= take
                if not self.data_left:
                    self.crlf_left = 2
            elif self.crlf_left:
                take = min(self.crlf_left, len(raw) - pos)
                pos += take
                self.crlf_left -= take
            else:
                end = raw.find(b"\r\n", pos)
                if end < 0:
                    break
                size = int(raw[pos:end].split(b";", 1)[0], 16)
                pos = end + 2
                if not size:  # the last chunk: the response ended
                    self.transport.close()
                    break
                self.data_left = size
        self.raw = raw[pos:]
        self.body += b"".join(pieces)

    def _events(self) -> None:
        body = self.body
        start = 0
        subscriber = self.subscriber
        while (end := body.find(b"\n\n", start)) >= 0:
            data = []
            for line in body[start:end].split(b"\n"):
                if line.startswith(b"data:"):
                    data.append(line[6:] if line[5:6] == b" " else line[5:])
                elif line.startswith(b":"):
                    if line.strip(b": ") == b"heartbeat":
                        subscriber.stats.heartbeats += 1
                elif line.startswith(b"retry:"):
                    with contextlib.suppress(ValueError):
                        subscriber.retry_ms = int(line[6:])
                elif line == b"event: keep-alive":
                    subscriber.stats.heartbeats += 1
            start = end + 2
            if data and data != [b""]:
                with contextlib.suppress(ValueError):
                    subscriber.on_message(json.loads(b"\n".join(data)))
        self.body = body[start:]


# A worker process --------------------------------------------------------------------


class Worker:
    """The subscribers of one process, driven by commands from the parent over a pipe."""

    def __init__(self, plan: list[tuple[Endpoint, int]], pipe: Connection, options: dict) -> None:
        self.plan = plan
        self.pipe = pipe
        self.options = options
        self.reconnect = False
        # After a drop: "demo" waits as the demo's clients do (WebSocket:
        # jittered backoff; SSE: the stream's retry:), "immediate" does not.
        self.policy = "demo"
        self.stopping = False
        self.measuring = False
        self.stats: dict[str, TransportStats] = {}
        for endpoint, _ in plan:
            self.stats.setdefault(endpoint.transport, TransportStats())
        self.subscribers: list[Subscriber] = []
        self.tasks: list[asyncio.Task] = []
        self._pending_open = sum(count for _, count in plan)
        self._all_open = asyncio.Event()
        self._waiting_catch_up = 0
        self._all_caught_up = asyncio.Event()
        if not self._pending_open:
            self._all_open.set()

    def opened_one(self) -> None:
        self._pending_open -= 1
        if self._pending_open <= 0:
            self._all_open.set()

    def caught_up(self, subscriber: Subscriber) -> None:
        self._waiting_catch_up -= 1
        if self._waiting_catch_up <= 0:
            self._all_caught_up.set()

    async def run(self) -> None:
        deadline = self.options["deadline"]
        try:
            await asyncio.wait_for(self._serve(), max(1.0, deadline - time.time()))
        except TimeoutError:
            self.pipe.send(("error", "the worker reached its deadline"))
        finally:
            self.stopping = True
            for subscriber in self.subscribers:
                if subscriber.transport is not None:
                    subscriber.transport.abort()
            for task in self.tasks:
                task.cancel()
            await asyncio.gather(*self.tasks, return_exceptions=True)

    async def _serve(self) -> None:
        opened = asyncio.Semaphore(self.options["concurrency"])
        started = time.monotonic()
        cpu = time.process_time()
        for endpoint, count in self.plan:
            for _ in range(count):
                subscriber = Subscriber(self, endpoint)
                self.subscribers.append(subscriber)
        # Interleave the transports so neither connects first.
        random.Random(0).shuffle(self.subscribers)
        self.tasks = [asyncio.create_task(sub.run(opened)) for sub in self.subscribers]
        await self._all_open.wait()
        self.pipe.send(("opened", self._report(started, cpu)))
        while True:
            command, *arguments = await self._next_command()
            if command == "measure":
                self.pipe.send(("measured", await self._measure(*arguments)))
            elif command == "storm":
                self.pipe.send(("stormed", await self._storm(*arguments)))
            elif command == "stop":
                return

    async def _next_command(self) -> tuple:
        # Waiting on the pipe in the loop, not in a thread: a thread blocked
        # in recv() would keep the process alive past its deadline.
        loop = asyncio.get_running_loop()
        readable = loop.create_future()
        fd = self.pipe.fileno()
        loop.add_reader(fd, lambda: readable.done() or readable.set_result(None))
        try:
            await readable
        finally:
            loop.remove_reader(fd)
            # The loop made the pipe non-blocking; a big report must not
            # fail to send with EAGAIN.
            os.set_blocking(fd, True)
        try:
            return self.pipe.recv()
        except EOFError:  # the parent went away
            return ("stop",)

    def _report(self, started: float, cpu: float, unfinished: int = 0) -> Report:
        report = Report(
            transports=self.stats,
            cpu_seconds=[time.process_time() - cpu],
            wall_seconds=time.monotonic() - started,
            unfinished=unfinished,
        )
        # Counts that must cover the whole run carry over into the next phase.
        fresh = {}
        for transport, old in self.stats.items():
            fresh[transport] = TransportStats(
                opened=old.opened,
                failed=old.failed,
                errors=Counter(old.errors),
                lost=old.lost,
                duplicates=old.duplicates,
                closed=Counter(old.closed),
            )
        self.stats = fresh
        for subscriber in self.subscribers:
            subscriber.stats = self.stats[subscriber.endpoint.transport]
        return report

    async def _measure(
        self, start_at: float, end_at: float, publish: tuple[Endpoint, float, float] | None
    ) -> Report:
        """Count and time the events that arrive between two wall-clock times.

        `publish` (endpoint, rate, from): also send chat messages from then
        until the end, making the feed's events (see `publish_chat`).
        """
        publisher = None
        if publish is not None:
            endpoint, rate, publish_from = publish
            publisher = asyncio.create_task(publish_chat(endpoint, rate, publish_from, end_at))
        await asyncio.sleep(max(0.0, start_at - time.time()))
        self._report(time.monotonic(), 0.0)  # forget what came before
        started, cpu = time.monotonic(), time.process_time()
        self.measuring = True
        await asyncio.sleep(max(0.0, end_at - time.time()))
        self.measuring = False
        if publisher is not None:
            await publisher
        return self._report(started, cpu)

    async def _storm(self, drop_at: float, timeout: float, policy: str) -> Report:
        """Drop every connection at once, let each reconnect and resume; time the recovery."""
        await asyncio.sleep(max(0.0, drop_at - time.time()))
        self._report(time.monotonic(), 0.0)
        started, cpu = time.monotonic(), time.process_time()
        self.reconnect = True
        self.policy = policy
        live = [sub for sub in self.subscribers if sub.transport is not None]
        self._waiting_catch_up = len(live)
        self._all_caught_up.clear()
        if not live:
            self._all_caught_up.set()
        for subscriber in live:
            subscriber.drop(started)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._all_caught_up.wait(), timeout)
        unfinished = sum(1 for sub in live if sub.caught_up_at is None)
        return self._report(started, cpu, unfinished)


async def publish_chat(endpoint: Endpoint, rate: float, start_at: float, end_at: float) -> int:
    """Send chat messages at `rate` a second between two wall-clock times; how many were sent.

    Each becomes a feed event for every subscriber: the feed at a rate the
    benchmark sets, with the subscribers already connected (the demo's own
    ticker runs from the first connection on, so connecting thousands of
    subscribers under it takes far longer). One connection sends at most 20
    messages a second (the demo's limit): faster rates use several.
    """
    per_connection = 20
    count = max(1, -int(-rate // per_connection))

    async def one(offset: float) -> int:
        sent = 0
        async with connect(
            endpoint.url,
            origin=endpoint.origin,
            compression=None,
            ping_interval=None,
            proxy=None,
            **({"ssl": _tls(endpoint.url)} if endpoint.url.startswith("wss:") else {}),
        ) as websocket:

            async def drain() -> None:  # unread, the server would cut it off as slow
                with contextlib.suppress(ConnectionClosed):
                    async for _ in websocket:
                        pass

            reader = asyncio.create_task(drain())
            await websocket.send(json.dumps({"type": "ping"}))  # go live at once
            loop = asyncio.get_running_loop()
            next_at = loop.time() + max(0.0, start_at - time.time()) + offset
            stop_at = loop.time() + max(0.0, end_at - time.time())
            interval = count / rate
            while next_at < stop_at:
                await asyncio.sleep(max(0.0, next_at - loop.time()))
                await websocket.send(json.dumps({"type": "chat", "text": f"bench {sent}"}))
                sent += 1
                next_at += interval
            reader.cancel()
        return sent

    sent = await asyncio.gather(*(one(index / rate) for index in range(count)))
    return sum(sent)


def _worker_main(plan: list[tuple[Endpoint, int]], pipe: Connection, options: dict) -> None:
    import uvloop

    uvloop.run(Worker(plan, pipe, options).run())


# The parent's side ---------------------------------------------------------------------


class LoadClients:
    """Subscribers spread over worker processes: open them, measure, storm, stop.

    `with LoadClients([(endpoint, count), ...]) as clients:` spawns the
    workers, which connect at once; `clients.opened()` waits for every
    connection to open (or fail). Every worker stops by itself `max_seconds`
    after the start, whatever the parent does.
    """

    def __init__(
        self,
        plan: list[tuple[Endpoint, int]],
        *,
        processes: int = 2,
        concurrency: int = 64,
        max_seconds: float = 300,
    ) -> None:
        self.plan = plan
        self.processes = max(1, processes)
        self.concurrency = concurrency
        self.max_seconds = max_seconds
        self.workers: list[tuple[multiprocessing.Process, Connection]] = []

    def __enter__(self) -> LoadClients:
        context = multiprocessing.get_context("spawn")
        options = {
            "deadline": time.time() + self.max_seconds,
            # Connections in the middle of their handshake, per worker:
            # servers listen with short accept queues (Twisted: 50).
            "concurrency": max(1, self.concurrency // self.processes),
        }
        for index in range(self.processes):
            share = [
                (endpoint, count // self.processes + (index < count % self.processes))
                for endpoint, count in self.plan
            ]
            parent, child = context.Pipe()
            process = context.Process(
                target=_worker_main, args=(share, child, options), daemon=True
            )
            process.start()
            child.close()
            self.workers.append((process, parent))
        return self

    def __exit__(self, *exc_info: object) -> None:
        for _, pipe in self.workers:
            with contextlib.suppress(OSError):
                pipe.send(("stop",))
        for process, pipe in self.workers:
            process.join(timeout=15)
            if process.is_alive():
                process.kill()
                process.join()
            pipe.close()

    def _gather(self, expected: str, timeout: float) -> Report:
        report = Report()
        deadline = time.monotonic() + timeout
        for _, pipe in self.workers:
            if not pipe.poll(max(0.0, deadline - time.monotonic())):
                raise TimeoutError(f"a load worker did not answer {expected!r} in {timeout} s")
            kind, payload = pipe.recv()
            if kind != expected:
                raise RuntimeError(f"load worker: {payload}")
            report.merge(payload)
        return report

    def opened(self, timeout: float = 180) -> Report:
        return self._gather("opened", timeout)

    def measure(
        self,
        seconds: float,
        *,
        warmup: float = 0.3,
        publish: tuple[Endpoint, float] | None = None,
        probe: Callable[[], Any] | None = None,
    ) -> tuple[Any, Any, Report]:
        """Measure for `seconds` after `warmup` seconds; (probe at start, probe at end, report).

        `publish` (endpoint, rate): the first worker also makes the feed's
        events, by chat messages, from now until the end of the window.
        `probe()` (say, the server's CPU time) is read as the window opens and closes.
        """
        now = time.time() + 0.3  # the commands' way to every worker
        start = now + warmup
        end = start + seconds
        for index, (_, pipe) in enumerate(self.workers):
            chat = (*publish, now) if publish is not None and index == 0 else None
            pipe.send(("measure", start, end, chat))
        probe = probe or time.time
        time.sleep(max(0.0, start - time.time()))
        first = probe()
        time.sleep(max(0.0, end - time.time()))
        last = probe()
        return first, last, self._gather("measured", warmup + 60)

    def storm(self, timeout: float, policy: str = "demo") -> tuple[float, Report]:
        """Every worker drops all its connections at the same moment; (drop time, report)."""
        drop_at = time.time() + 0.3
        for _, pipe in self.workers:
            pipe.send(("storm", drop_at, timeout, policy))
        return drop_at, self._gather("stormed", timeout + 60)


def latency_summary(latencies: array) -> tuple[float | None, float | None]:
    """(p50, p99) in ms, or Nones without samples."""
    if not latencies:
        return None, None
    return statistics.median(latencies), percentile(latencies, 0.99)
