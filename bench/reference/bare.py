"""The ceiling: the same feed from a bare `websockets` server and a bare ASGI SSE app.

One process, one uvloop event loop, no framework: a ticker makes events of the
live demo's shape ({"id", "type", "ts", "payload"}) at the same rate, encodes
each once, and hands it to every connection: `websockets.broadcast()` for the
WebSocket clients, a queue per stream for the SSE clients (the ASGI app runs
under uvicorn with httptools, inside the same loop). It checks no origin,
keeps no history and has no limits: what a Python process on this machine
can deliver, not a server to deploy.

    python bench/reference/bare.py --ws-port 9001 --sse-port 9002 --rate 10
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time

import uvicorn
import uvloop
from websockets.asyncio.server import ServerConnection, broadcast, serve

SYMBOLS = {"ACME": 182.40, "GLOBEX": 47.15, "INITECH": 12.82, "UMBRELLA": 311.07}

websockets: set[ServerConnection] = set()
streams: set[asyncio.Queue] = set()

HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
]


async def websocket_handler(connection: ServerConnection) -> None:
    websockets.add(connection)
    try:
        async for _ in connection:  # a client's resume or ping: ignored
            pass
    finally:
        websockets.discard(connection)


async def sse_app(scope, receive, send) -> None:
    if scope["type"] != "http":
        return
    queue: asyncio.Queue[bytes | None] = asyncio.Queue()

    async def watch() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        queue.put_nowait(None)

    watcher = asyncio.create_task(watch())
    streams.add(queue)
    try:
        await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
        await send({"type": "http.response.body", "body": b"retry: 2000\n\n", "more_body": True})
        while (chunk := await queue.get()) is not None:
            # Whatever else is waiting goes in the same write.
            parts = [chunk]
            while not queue.empty() and (more := queue.get_nowait()) is not None:
                parts.append(more)
            await send({"type": "http.response.body", "body": b"".join(parts), "more_body": True})
    finally:
        streams.discard(queue)
        watcher.cancel()


async def tick_forever(rate: float) -> None:
    prices = dict(SYMBOLS)
    interval = 1 / rate
    loop = asyncio.get_running_loop()
    next_at = loop.time()
    last_id = 0
    while True:
        symbol = random.choice(list(prices))
        old = prices[symbol]
        new = round(max(0.01, old * (1 + random.gauss(0, 0.002))), 2)
        prices[symbol] = new
        last_id += 1
        text = json.dumps(
            {
                "id": last_id,
                "type": "tick",
                "ts": round(time.time() * 1000, 3),
                "payload": {"symbol": symbol, "price": new, "change": round(new - old, 2)},
            },
            separators=(",", ":"),
        )
        broadcast(websockets, text)
        sse = f"id: {last_id}\nevent: tick\ndata: {text}\n\n".encode()
        for queue in streams:
            queue.put_nowait(sse)
        next_at = max(next_at + interval, loop.time())
        await asyncio.sleep(next_at - loop.time())


async def main(ws_port: int, sse_port: int, rate: float) -> None:
    config = uvicorn.Config(
        sse_app,
        host="127.0.0.1",
        port=sse_port,
        http="httptools",
        lifespan="off",
        access_log=False,
        log_level="warning",
        backlog=2048,
    )
    async with serve(websocket_handler, "127.0.0.1", ws_port, compression=None, backlog=2048):
        ticker = asyncio.create_task(tick_forever(rate))
        try:
            await uvicorn.Server(config).serve()
        finally:
            ticker.cancel()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ws-port", type=int, required=True)
    parser.add_argument("--sse-port", type=int, required=True)
    parser.add_argument("--rate", type=float, default=10)
    arguments = parser.parse_args()
    uvloop.run(main(arguments.ws_port, arguments.sse_port, arguments.rate))
