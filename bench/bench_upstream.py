"""What a message up from a client costs the server: a WebSocket frame, or an HTTP POST.

Run by hand with `make bench-upstream`; `--quick` for a short check. Per run,
one fresh daphne (`DJANGO_DEBUG=0`, in-memory feed, no feed events), measured
twice:

- WebSocket: `--clients` connections to /ws/demo/, first idle for the window
  (the baseline), then each sending `{"type": "ping"}` ten times a second and
  reading the pong (a small frame parsed, a small frame sent back: the
  cheapest message the consumer answers). Cost per message: (server CPU
  sending - server CPU idle) / pongs received.
- SSE's way back: `--clients` keep-alive HTTP/1.1 connections each POSTing
  `{"type": "chat", "text": "hi"}` to /demo/send/ (the demo's upstream for
  the SSE side), one after the other, with a CSRF cookie and header as the
  demo page sends them. No stream is open, so the chat reaches no one: the
  figure is the request alone (middleware, CSRF, JSON, the publication).
  The demo allows 20 sends a second per client address, so the load client
  gives each request one of 4,096 addresses in `X-Forwarded-For`, with
  127.0.0.1 as a trusted proxy. Cost per message: server CPU / responses.

The capacity model's `up_message` costs (questionnaire/costs/reference.json)
come from this section.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import time
from importlib.metadata import version

import httpx
import websockets
from common import machine, write_section
from measure import options
from servers import app_database, our_app

PING = json.dumps({"type": "ping"})
CHAT = json.dumps({"type": "chat", "text": "hi"})
ADDRESSES = [f"10.{i // 256}.{i % 256}.1" for i in range(4096)]
PING_RATE = 10.0
SERVED_BY = ("daphne", "Twisted", "channels", "websockets")


def main() -> None:
    args = options(__doc__.split("\n")[0], clients=100, window=5.0)
    if args.quick:
        args.runs, args.window = 1, 3.0
    # The server reads the client's address from X-Forwarded-For behind a trusted proxy.
    os.environ["DJANGO_TRUSTED_PROXIES"] = "127.0.0.1"
    runs = []
    with app_database() as database:
        for run in range(args.runs):
            with our_app("daphne", database, rate=0) as server:
                runs.append(
                    {
                        "websocket": asyncio.run(websocket_cost(server, args)),
                        "post": asyncio.run(post_cost(server, args)),
                    }
                )
            print(f"run {run + 1}: {runs[-1]}")
    report(args, runs)


async def websocket_cost(server, args) -> dict:
    endpoint = server.endpoints["ws"]
    sockets = []
    for _ in range(args.clients):
        socket = await websockets.connect(endpoint.url, origin=endpoint.origin, compression=None)
        await socket.recv()  # the welcome
        sockets.append(socket)
    await asyncio.sleep(1)  # past the resume window: every connection live

    cpu_before = server.cpu_seconds()
    await asyncio.sleep(args.window)
    idle = server.cpu_seconds() - cpu_before

    pongs = [0]

    async def client(socket, deadline: float) -> None:
        async def read() -> None:
            async for message in socket:
                if '"pong"' in message:
                    pongs[0] += 1

        reader = asyncio.create_task(read())
        next_at = time.monotonic()
        while time.monotonic() < deadline:
            await socket.send(PING)
            next_at += 1 / PING_RATE
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
        await asyncio.sleep(0.3)  # the last pongs
        reader.cancel()

    cpu_before = server.cpu_seconds()
    started = time.monotonic()
    await asyncio.gather(*(client(s, started + args.window) for s in sockets))
    busy = server.cpu_seconds() - cpu_before
    elapsed = time.monotonic() - started
    for socket in sockets:
        await socket.close()
    extra = busy - idle * elapsed / args.window
    return {"messages_per_second": pongs[0] / elapsed, "us": extra / pongs[0] * 1e6}


async def post_cost(server, args) -> dict:
    base = server.url
    url = base + "/demo/send/"
    counts = [0, 0]  # answered 201, other

    async def client(index: int, deadline: float) -> None:
        async with httpx.AsyncClient(base_url=base, http2=False, timeout=10) as http:
            page = await http.get("/demo/")
            token = page.cookies.get("csrftoken")
            # Sent by hand: with DJANGO_DEBUG=0 the cookie is marked Secure,
            # which a client over plain loopback HTTP would not send back.
            http.cookies.clear()
            headers = {
                "Origin": base,
                "Cookie": f"csrftoken={token}",
                "X-CSRFToken": token,
                "Content-Type": "application/json",
            }
            n = index
            while time.monotonic() < deadline:
                n += args.clients
                headers["X-Forwarded-For"] = ADDRESSES[n % len(ADDRESSES)]
                response = await http.post(url, content=CHAT, headers=headers)
                counts[0 if response.status_code == 201 else 1] += 1

    clients = min(args.clients, 8)
    # Warm up (imports, the first requests), then measure a fixed window.
    await asyncio.gather(*(client(i, time.monotonic() + 1) for i in range(clients)))
    counts[:] = [0, 0]
    cpu_before = server.cpu_seconds()
    started = time.monotonic()
    await asyncio.gather(*(client(i, started + args.window) for i in range(clients)))
    cpu = server.cpu_seconds() - cpu_before
    elapsed = time.monotonic() - started
    if counts[1]:
        raise SystemExit(f"{counts[1]} sends were refused: the figure would be wrong")
    # Each client's GET /demo/ for its cookie is in the window too: a few, against thousands.
    return {"messages_per_second": counts[0] / elapsed, "us": cpu / counts[0] * 1e6}


def report(args, runs: list[dict]) -> None:
    def median(kind: str, key: str) -> float:
        return statistics.median(run[kind][key] for run in runs)

    lines = [
        "## Messages up: a WebSocket frame and an HTTP POST",
        "",
        "Run `make bench-upstream` ("
        + machine(*(f"{name} {version(name)}" for name in SERVED_BY))
        + ").",
        "",
        f"One daphne process (`DJANGO_DEBUG=0`, in-memory feed, no feed events); medians of "
        f"{len(runs)} run(s){' (--quick)' if args.quick else ''}, {args.window:g} s windows. "
        f'WebSocket: {args.clients} connections to /ws/demo/ each sending `{{"type": "ping"}}` '
        f"{PING_RATE:g} times a second and reading the pong, the server's CPU over an idle "
        "window of the same connections taken off. POST: "
        f"{min(args.clients, 8)} keep-alive HTTP/1.1 connections POSTing a chat message to "
        "/demo/send/ back to back (CSRF cookie and header, a JSON body; no stream open, so the "
        "chat reaches no one). Loopback, no TLS.",
        "",
        "| message up | messages/s | server CPU per message |",
        "| --- | ---: | ---: |",
        f"| WebSocket frame (ping, pong back) | {median('websocket', 'messages_per_second'):,.0f} "
        f"| {median('websocket', 'us'):,.1f} µs |",
        f"| HTTP POST /demo/send/ (keep-alive) | {median('post', 'messages_per_second'):,.0f} "
        f"| {median('post', 'us') / 1000:,.2f} ms |",
        "",
        "The capacity model (docs/capacity.md) takes these two figures as the cost of a "
        "message up per transport. The POST reuses its connection; a browser that opens a "
        "new one for it (no keep-alive, or HTTP/1.1 with its 6 connections per origin in use) "
        "adds a TCP (and TLS) handshake, which is not measured here.",
    ]
    write_section("bench_upstream", lines)


if __name__ == "__main__":
    main()
