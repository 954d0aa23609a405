"""WebSocket handshakes: what one costs the server, with and without AuthMiddlewareStack.

Run by hand with `make bench-handshake`; `--quick` for a short check. Per
run, one fresh daphne per variant (no feed events): `--clients` concurrent
clients, each with a session cookie as a browser that used the questionnaire
has, open /ws/demo/, read the welcome and close, again and again, for
`--window` seconds. Reported: handshakes a second, and the server's CPU per
handshake (its CPU time over the window divided by the handshakes).
"""

from __future__ import annotations

import asyncio
import statistics
import time

import websockets
from common import machine, write_section
from measure import options
from servers import app_database, our_app, versions

# A browser that used the questionnaire holds a session cookie; the stack
# looks its session up (an unknown key costs the same query as a known one).
COOKIE = {"Cookie": "sessionid=" + "0" * 32}

VARIANTS = {
    "as served (no AuthMiddlewareStack)": "advisor.asgi:application",
    "with AuthMiddlewareStack": "bench.reference.with_auth:application",
}


def main() -> None:
    args = options(__doc__.split("\n")[0], clients=8, window=8.0)
    if args.quick:
        args.runs, args.window = 1, 3.0
    results: dict[str, list[dict]] = {name: [] for name in VARIANTS}
    with app_database() as database:
        for run in range(args.runs):
            for name, app in VARIANTS.items():
                with our_app("daphne", database, rate=0, app=app) as server:
                    results[name].append(measure(server, args))
                print(f"run {run + 1}, {name}: {results[name][-1]}")
    report(args, results)


def measure(server, args) -> dict:
    url = server.endpoints["ws"].url
    origin = server.endpoints["ws"].origin

    async def client(deadline: float, counts: list[int]) -> None:
        while time.monotonic() < deadline:
            async with websockets.connect(
                url, origin=origin, compression=None, additional_headers=COOKIE
            ) as socket:
                await socket.recv()  # the welcome: the handshake is through
            counts[0] += 1

    async def load() -> int:
        # Warm up (imports, the feed's start), then measure a fixed window.
        await asyncio.gather(*(client(time.monotonic() + 1, [0]) for _ in range(args.clients)))
        counts = [0]
        deadline = time.monotonic() + args.window
        await asyncio.gather(*(client(deadline, counts) for _ in range(args.clients)))
        return counts[0]

    cpu_before = server.cpu_seconds()
    started = time.monotonic()
    handshakes = asyncio.run(load())
    elapsed = time.monotonic() - started
    cpu = server.cpu_seconds() - cpu_before
    return {
        "per_second": handshakes / elapsed,
        "cpu_ms": cpu * 1000 / handshakes,
    }


def report(args, results: dict[str, list[dict]]) -> None:
    lines = [
        "## WebSocket handshakes",
        "",
        machine(*versions()),
        "",
        f"{args.clients} clients on loopback with a session cookie, each opening /ws/demo/, "
        "reading the welcome and "
        f"closing, for {args.window:g} s; medians of {args.runs} run(s)"
        f"{' (--quick)' if args.quick else ''}. The server's CPU includes the warm-up second.",
        "",
        "| app | handshakes/s | server CPU per handshake |",
        "| --- | ---: | ---: |",
    ]
    for name, runs in results.items():
        rate = statistics.median(run["per_second"] for run in runs)
        cpu = statistics.median(run["cpu_ms"] for run in runs)
        lines.append(f"| {name} | {rate:,.0f} | {cpu:.2f} ms |")
    write_section("bench_handshake", lines)


if __name__ == "__main__":
    main()
