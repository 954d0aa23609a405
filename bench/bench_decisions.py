"""Live decisions: what N idle decision streams cost one daphne, how fast a change reaches them.

Run by hand with `make bench-decisions`; `--quick` for a short check. Per
run, a fresh daphne process (production settings, anonymous mode off, the
in-memory channel layer) on a database seeded once: one workspace, one
assessment, N viewers each signed in (a session row, as a sign-in makes), an
editor's API token. The benchmark opens one `GET /decisions/stream/?assessment=`
per viewer, idle, and reads:

- RSS per stream: (server RSS with every stream open - RSS before) / N, and
  the server's OS threads before and after;
- the latency of a change: the editor posts a comment through the API on the
  same server, and each stream's time from the POST until its
  `event: decision` arrives; p50 and p99 over every stream and comment, and the
  slowest stream (the time until all N have it).

`--watching K` opens K of the N streams on the assessment and the other N - K
on no assessment (a signed-in page elsewhere: the header's count only), and
measures the K: the realistic case, where a change concerns few of the open
streams.

`--before PATH` also measures the server of another checkout (the commit
before a change, with its .venv) in the same run, for a before/after table.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
from common import ROOT, free_port, machine, percentile, write_section
from measure import kib, ms, options
from servers import _running, app_database

SEED = """
import json, os
from datetime import timedelta
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.utils import timezone
from django.utils.crypto import get_random_string
from questionnaire.catalogue import get_catalogue
from questionnaire.models import Assessment
from workspaces.models import ApiToken, Membership, Role, Workspace

n = int(os.environ["BENCH_VIEWERS"])
User = get_user_model()
team = Workspace.objects.create(slug="bench", name="Bench")
editor = User.objects.create(username="editor")
Membership.objects.create(workspace=team, user=editor, role=Role.EDITOR)
answers = dict(get_catalogue().preset("chat").answers)
assessment, _ = Assessment.create_scored("Bench chat", answers, workspace=team, created_by=editor)
_, token = ApiToken.issue(editor, team)
viewers = User.objects.bulk_create(User(username=f"viewer{i}", password="!") for i in range(n))
Membership.objects.bulk_create(
    Membership(workspace=team, user=user, role=Role.VIEWER) for user in viewers
)
store = SessionStore()
expires = timezone.now() + timedelta(days=1)
keys = [get_random_string(32) for _ in viewers]
Session.objects.bulk_create(
    Session(
        session_key=key,
        expire_date=expires,
        session_data=store.encode({
            SESSION_KEY: str(user.pk),
            BACKEND_SESSION_KEY: settings.AUTHENTICATION_BACKENDS[0],
            HASH_SESSION_KEY: user.get_session_auth_hash(),
        }),
    )
    for key, user in zip(keys, viewers)
)
print(json.dumps({"assessment": str(assessment.pk), "token": token, "sessions": keys}))
"""

# The servers' settings; the seed's too, whose sessions must be signed with
# the servers' secret key.
SERVER_ENV = {
    "DJANGO_DEBUG": "0",
    "DJANGO_SECRET_KEY": "bench",
    "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
    "REDIS_URL": "",
    "ADVISOR_ANONYMOUS": "0",
    "DECISION_STREAM_MAX_PER_USER": "100000",
    "ADVISOR_WRITES_PER_SECOND": "100000",
    "ADVISOR_WRITE_BURST": "100000",
}


def main() -> None:
    args = options(
        __doc__.split("\n")[0],
        n=[200],
        comments=5,
        before="",
        watching=0,
        name="this checkout",
        before_name="--before checkout",
    )
    if args.quick:
        args.runs, args.n, args.comments = 1, [50], 2
    checkouts = {"after": ROOT}
    if args.before:
        checkouts = {"before": Path(args.before).resolve(), **checkouts}
    results = {}
    with app_database() as database:
        world = seed(database, max(args.n))
        for n in args.n:
            for label, root in checkouts.items():
                runs = [
                    measure(root, database, world, n, args.comments, args.watching)
                    for _ in range(args.runs)
                ]
                results[(label, n)] = runs
                print(f"{label}, N={n}: {summary(runs)}")
    report(args, checkouts, results)


def seed(database: str, n: int) -> dict:
    """The workspace, the viewers' sessions and the editor's token (see SEED)."""
    done = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", SEED],
        cwd=ROOT,
        env={**os.environ, **SERVER_ENV, "DATABASE_URL": database, "BENCH_VIEWERS": str(n)},
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def daphne(root: Path, database: str):
    """daphne serving the checkout at `root`, as servers.our_app does, but signed in."""
    port = free_port()
    env = {**SERVER_ENV, "DATABASE_URL": database}
    python = root / ".venv" / "bin" / "python"
    command = [str(python), "-m", "daphne", "-b", "127.0.0.1", "-p", str(port)]
    return port, _running([*command, "advisor.asgi:application"], env, [port], root)


def measure(
    root: Path, database: str, world: dict, n: int, comments: int, watching: int = 0
) -> dict:
    port, running = daphne(root, database)
    with running as process:
        server = psutil.Process(process.pid)
        # One stream opened and closed first: what every stream shares
        # (imports, the layer, the first thread) is not counted per stream.
        asyncio.run(hold(port, world, 1, 0))
        time.sleep(0.5)
        rss_before, threads_before = server.memory_info().rss, server.num_threads()

        def sample() -> tuple[int, int]:
            return server.memory_info().rss, server.num_threads()

        figures = asyncio.run(hold(port, world, n, comments, sample, watching))
    rss_after, threads_after = figures.pop("sample")
    return {
        **figures,
        "rss_per_stream": (rss_after - rss_before) / n,
        "threads_before": threads_before,
        "threads_after": threads_after,
    }


async def hold(
    port: int, world: dict, n: int, comments: int, sample=None, watching: int = 0
) -> dict:
    """Open n streams (the first `watching` on the assessment, or all), sample the server,
    post `comments` comments; each watching stream's latency."""
    watching = watching or n
    paths = [f"/decisions/stream/?assessment={world['assessment']}"] * watching
    paths += ["/decisions/stream/"] * (n - watching)
    arrivals: list[list[float]] = [[] for _ in range(n)]
    ready = [asyncio.Event() for _ in range(n)]
    tasks = [
        asyncio.create_task(stream(port, paths[i], world["sessions"][i], ready[i], arrivals[i]))
        for i in range(n)
    ]
    await asyncio.wait_for(asyncio.gather(*(event.wait() for event in ready)), 120)
    opened = sum(not task.done() for task in tasks)
    # The watching streams that opened: whose latency is measured.
    watchers = sum(not task.done() for task in tasks[:watching])
    failures = {str(task.exception()) for task in tasks if task.done() and task.exception()}
    if failures:
        print(f"streams that did not open: {n - opened}: {sorted(failures)[:3]}", file=sys.stderr)
    # Let the server settle (its first reads, the garbage it made opening them).
    await asyncio.sleep(2)
    figures: dict = {"opened": opened}
    if sample is not None:
        figures["sample"] = sample()
    latencies, slowest = [], []
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=120) as client:
        for number in range(comments):
            posted = time.monotonic()
            response = await client.post(
                f"/api/assessments/{world['assessment']}/comments/",
                json={"body": f"Comment {number}"},
                headers={"Authorization": f"Bearer {world['token']}"},
            )
            response.raise_for_status()
            deadline = time.monotonic() + 30
            while sum(len(times) > number for times in arrivals) < watchers:
                if time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.005)
            got = [1000 * (times[number] - posted) for times in arrivals if len(times) > number]
            latencies.extend(got)
            slowest.append(max(got, default=float("nan")))
            await asyncio.sleep(0.5)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    figures["latencies"] = latencies
    figures["slowest"] = slowest
    figures["missed"] = comments * watchers - len(latencies)
    figures["watchers"] = watchers
    return figures


async def stream(port: int, path: str, session: str, ready: asyncio.Event, arrivals: list) -> None:
    """One idle EventSource: the time each `event: decision` arrives."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n"
            f"Cookie: sessionid={session}\r\n\r\n".encode()
        )
        head = await reader.readuntil(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 200"):
            raise RuntimeError(head.split(b"\r\n", 1)[0].decode())
        seen = b""
        while b"event: waiting" not in seen:
            seen += await reader.read(65536)
        ready.set()
        while True:
            chunk = await reader.read(65536)
            if not chunk:
                return
            arrivals.extend([time.monotonic()] * chunk.count(b"event: decision"))
    finally:
        ready.set()
        writer.close()


def summary(runs: list[dict]) -> dict:
    latencies = sorted(value for run in runs for value in run["latencies"])
    return {
        "opened": min(run["opened"] for run in runs),
        "watchers": min(run["watchers"] for run in runs),
        "missed": sum(run["missed"] for run in runs),
        "rss": statistics.median(run["rss_per_stream"] for run in runs),
        "threads_before": statistics.median(run["threads_before"] for run in runs),
        "threads_after": statistics.median(run["threads_after"] for run in runs),
        "p50": percentile(latencies, 0.5) if latencies else None,
        "p99": percentile(latencies, 0.99) if latencies else None,
        "all": statistics.median(value for run in runs for value in run["slowest"]),
    }


def server_versions() -> list[str]:
    from importlib.metadata import version

    return [f"{name} {version(name)}" for name in ("daphne", "Twisted", "channels")]


def report(args, checkouts: dict, results: dict) -> None:
    lines = [
        "## Live decision stream",
        "",
        f"Run `make bench-decisions` ({machine(*server_versions())}). Medians of {args.runs} "
        f"run(s){' (--quick)' if args.quick else ''}, a fresh daphne per run.",
        "",
        "N signed-in viewers each hold `GET /decisions/stream/?assessment=A` open, idle "
        "(anonymous mode off, in-memory channel layer, SQLite). RSS per stream: (server RSS "
        "with every stream open - RSS before) / N. Threads: the server's OS threads with "
        "every stream open. Latency: an editor posts a comment through the API "
        f"({args.comments} comments, 0.5 s apart), from the POST to its `event: decision` at "
        "each stream; p50 and p99 over every stream and comment, and the median time until "
        "the last stream has it."
        + (
            f" Here only {args.watching} of the N streams watch A (their latency is measured); "
            "the others are open on no assessment (the header's count of a page elsewhere)."
            if args.watching
            else ""
        ),
        "",
        "| serving | streams | RSS / stream | threads before → with N open "
        "| latency p50 | p99 | until all N | missed |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    names = {"before": args.before_name, "after": args.name}
    for (label, n), runs in results.items():
        figures = summary(runs)
        on_a = f" ({figures['watchers']:,} on A)" if args.watching else ""
        lines.append(
            f"| {names[label]} | {figures['opened']:,} of {n:,}{on_a} "
            f"| {kib(figures['rss'])} "
            f"| {figures['threads_before']:.0f} → {figures['threads_after']:.0f} "
            f"| {ms(figures['p50'])} | {ms(figures['p99'])} | {ms(figures['all'])} "
            f"| {figures['missed']} |"
        )
    if "before" in checkouts:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=checkouts["before"],
            capture_output=True,
            text=True,
        ).stdout.strip()
        lines += ["", f"The before rows: the server of {commit} (`--before`), in the same run."]
    write_section("bench_decisions", lines)


if __name__ == "__main__":
    main()
