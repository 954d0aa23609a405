"""Scenario: the production topology, nginx (TLS, HTTP/2) in front of one or two app processes.

Run by hand with `make bench-topology` (never part of the test suite);
`--quick` for a short check. The topology is the one `make serve` starts
(serving/topology.py), on the machine's PostgreSQL (database
advisor_bench_topology) and Redis (db 5, a prefix of its own). Three ways in:

- one process, direct: the clients on app_0's own port (plain HTTP), the
  shared Redis feed as in the other two;
- one process through nginx (TLS): the proxy's cost;
- two processes through nginx: the second process's gain.

For each: N WebSocket + N SSE subscribers to the live demo at R events/s
(chat sent by the load client, as bench_fanout does), then closed-loop users
on `GET /api/questions/` and `POST /api/assessments/`. Server CPU is nginx's
(master and workers) plus the app processes'; Redis and PostgreSQL are not
counted. Writes its section of docs/benchmarks.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import socket
import ssl
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
from bench_advisor import load, request_bytes
from clients import Endpoint
from common import free_port, machine, percentile, write_section
from measure import Window, fanout, ms, options
from servers import BENCH_CLIENT_LIMITS, Server

from questionnaire.catalogue import get_catalogue
from serving.topology import Options, Topology, ensure_database

DATABASE = "postgres://postgres@127.0.0.1:5432/advisor_bench_topology"
REDIS = "redis://127.0.0.1:6379/5"


class TopologyServer(Server):
    """The processes behind one way in: their CPU and memory summed."""

    processes: list[psutil.Process]

    def cpu_seconds(self) -> float:
        total = 0.0
        for process in self.processes:
            with contextlib.suppress(psutil.NoSuchProcess):
                times = process.cpu_times()
                total += times.user + times.system
        return total

    def memory(self) -> tuple[int, int]:
        now = peak = 0
        for process in self.processes:
            with contextlib.suppress(psutil.NoSuchProcess, FileNotFoundError):
                fields = {}
                for line in Path(f"/proc/{process.pid}/status").read_text().splitlines():
                    name, _, value = line.partition(":")
                    if name in {"VmRSS", "VmHWM"}:
                        fields[name] = int(value.split()[0]) * 1024
                now += fields["VmRSS"]
                peak += fields["VmHWM"]
        return now, peak


def consecutive_ports(count: int) -> int:
    """The first of `count` consecutive free ports (app_0, app_1, ...)."""
    while True:
        base = free_port()
        if base + count < 65536 and all(_free(port) for port in range(base, base + count)):
            return base


def _free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


@contextlib.contextmanager
def running(processes: int) -> Iterator[Topology]:
    ensure_database(DATABASE)
    with tempfile.TemporaryDirectory(prefix="advisor-bench-topology-") as state:
        options = Options(
            state_dir=Path(state),
            https_port=free_port(),
            app_processes=processes,
            app_port_base=consecutive_ports(processes),
            database_url=DATABASE,
            redis_url=REDIS,
            app_env={
                **BENCH_CLIENT_LIMITS,
                "ADVISOR_ANONYMOUS": "1",
                "DEMO_REDIS_PREFIX": "advisor:bench-topology",
                # The benchmark makes the events (chat at each rate), as bench_fanout.
                "DEMO_FEED_RATE": "0",
            },
        )
        with Topology(options) as topology:
            yield topology


def ways_in(topology: Topology, through_proxy: bool) -> TopologyServer:
    apps = [psutil.Process(topology.app_pid(index)) for index in topology.app_indexes]
    if through_proxy:
        nginx = psutil.Process(topology.nginx.pid)
        processes = [nginx, *nginx.children(), *apps]
        base, ws, origin = topology.url, topology.url.replace("https", "wss"), topology.url
        name = f"nginx + {len(apps)} process{'es' if len(apps) > 1 else ''}"
    else:
        processes = apps[:1]
        origin = f"http://127.0.0.1:{topology.app_port(0)}"
        base, ws = origin, origin.replace("http", "ws")
        name = "1 process, direct"
    server = TopologyServer(
        name,
        topology.supervisord,
        {
            "ws": Endpoint("ws", f"{ws}/ws/demo/", origin),
            "sse": Endpoint("sse", f"{base}/demo/events/", origin),
        },
        url=base,
    )
    server.processes = processes
    return server


def api(server: TopologyServer, seconds: float, concurrency: int) -> dict[str, dict]:
    """Requests a second, latency and server CPU per request of two API calls."""
    port = int(server.url.rsplit(":", 1)[1])
    tls = None
    if server.url.startswith("https"):
        tls = ssl.create_default_context()
        tls.check_hostname, tls.verify_mode = False, ssl.CERT_NONE
    catalogue = get_catalogue()
    rng = random.Random(20261130)
    bodies = [
        json.dumps(
            {"answers": {q.slug: rng.choice(q.values) for q in catalogue.questions}}
        ).encode()
        for _ in range(300)
    ]

    class Target:
        def __init__(self, key, requests, status) -> None:
            self.key, self.requests, self.status, self.slow = key, requests, status, False

    targets = [
        Target("questions", [request_bytes("GET", "/api/questions/", port)], 200),
        Target(
            "create",
            [request_bytes("POST", "/api/assessments/", port, body) for body in bodies],
            201,
        ),
    ]
    results = {}
    for target in targets:
        asyncio.run(load(port, target, 1, seconds=0.5, count=0, tls=tls))  # warm-up
        cpu_before = server.cpu_seconds()
        wall, latencies = asyncio.run(
            load(port, target, concurrency, seconds=seconds, count=0, tls=tls)
        )
        cpu = server.cpu_seconds() - cpu_before
        results[target.key] = {
            "rate": len(latencies) / wall,
            "p50": percentile(latencies, 0.5),
            "p99": percentile(latencies, 0.99),
            "cpu": cpu / len(latencies),
        }
        print(f"{server.name} {target.key}: {results[target.key]['rate']:,.0f}/s")
    return results


def main() -> None:
    args = options(
        __doc__.split("\n")[0], n=500, rate=10.0, window=10.0, warmup=3.0, seconds=8.0, users=10
    )
    if args.quick:
        args.n, args.window, args.warmup, args.seconds = 100, 4.0, 1.5, 3.0
    started = time.monotonic()
    rows: list[tuple[TopologyServer, Window, dict]] = []
    for processes, through_proxy in [(1, False), (1, True), (2, True)]:
        with running(processes) as topology:
            server = ways_in(topology, through_proxy)
            (window,) = fanout(
                server,
                args.n,
                [args.rate],
                window=args.window,
                warmup=args.warmup,
                publish=True,
                processes=args.processes,
            )
            print(f"{server.name}: {window.delivered_total:,.0f} deliveries/s, {window.verdict()}")
            rows.append((server, window, api(server, args.seconds, args.users)))
    report(args, rows, time.monotonic() - started)


def server_versions() -> list[str]:
    from importlib.metadata import version

    nginx = subprocess.run([Topology.nginx_binary(), "-v"], capture_output=True, text=True)
    names = ["daphne", "Twisted", "channels", "supervisor"]
    return [*(f"{name} {version(name)}" for name in names), nginx.stderr.strip().split(": ")[-1]]


def report(args, rows, took: float) -> None:
    lines = [
        "## The production topology: nginx in front of one or two processes",
        "",
        f"`make bench-topology`: {machine(*server_versions())}. "
        f"Took {took:.0f} s. Server CPU is nginx's (master and workers) plus the "
        "app processes', in cores (1.0: one core busy); Redis and PostgreSQL are "
        "not counted. The load clients run on the same two cores (two worker "
        "processes for the feed, one for the API), and through nginx they do TLS "
        "too: this machine measures the cost of each piece, not the capacity of a "
        "real deployment, where the clients are elsewhere.",
        "",
        f"Live demo fan-out: {args.n} WebSocket + {args.n} SSE subscribers, "
        f"{args.rate:g} events/s, {args.window:g} s window after {args.warmup:g} s warm-up "
        "(one run):",
        "",
        "| way in | delivered/s | p50 / p99 delay | lost | server CPU | "
        "deliveries per CPU-second | verdict |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for server, window, _ in rows:
        lines.append(
            f"| {server.name} | {window.delivered_total:,.0f} | "
            f"{ms(window.p50.get('all'))} / {ms(window.p99.get('all'))} | {window.lost} | "
            f"{window.server_cpu:.2f} | {window.capacity:,.0f} | {window.verdict()} |"
        )
    lines += [
        "",
        f"API, {args.users} closed-loop users on kept-alive connections, {args.seconds:g} s each:",
        "",
        "| way in | `GET /api/questions/` | `POST /api/assessments/` | "
        "server CPU per request (GET / POST) |",
        "| --- | --- | --- | --- |",
    ]
    for server, _, api_results in rows:
        get, post = api_results["questions"], api_results["create"]
        lines.append(
            f"| {server.name} | {get['rate']:,.0f}/s, p99 {ms(get['p99'] * 1000)} | "
            f"{post['rate']:,.0f}/s, p99 {ms(post['p99'] * 1000)} | "
            f"{ms(get['cpu'] * 1000)} / {ms(post['cpu'] * 1000)} |"
        )
    write_section("bench_topology", lines)


if __name__ == "__main__":
    main()
