"""The reference's ASGI application: Django, plus a ticker publishing to the "feed" channel.

The ticker starts with the first request, on the server's event loop, and
sends the live demo's event shape at BENCH_FEED_RATE events a second with
django-eventstream's `send_event()`, as a Django app would.
"""

from __future__ import annotations

import asyncio
import os
import random
import time

from django.core.asgi import get_asgi_application

django_application = get_asgi_application()

from django_eventstream import send_event  # noqa: E402  (needs Django set up)

SYMBOLS = {"ACME": 182.40, "GLOBEX": 47.15, "INITECH": 12.82, "UMBRELLA": 311.07}


class _Ticker:
    task: asyncio.Task | None = None


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
        event = {
            "id": last_id,
            "type": "tick",
            "ts": round(time.time() * 1000, 3),
            "payload": {"symbol": symbol, "price": new, "change": round(new - old, 2)},
        }
        send_event("feed", "tick", event)
        next_at = max(next_at + interval, loop.time())
        await asyncio.sleep(next_at - loop.time())


async def application(scope, receive, send) -> None:
    if _Ticker.task is None:
        rate = float(os.environ.get("BENCH_FEED_RATE", "10"))
        _Ticker.task = asyncio.get_running_loop().create_task(tick_forever(rate))
    await django_application(scope, receive, send)
