"""The servers the live-feed benchmarks load, each one subprocess on loopback.

- `our_app("daphne" | "uvicorn", ...)`: the app as deployed (its pages, API,
  /ws/demo/ and /demo/events/), on a database migrated once per benchmark
  (`app_database()`); migrating takes seconds and a sweep starts dozens of servers.
- `bare(rate)`: bench/reference/bare.py, the ceiling of one Python process.
- `eventstream(rate)`: django-eventstream in the minimal project under
  bench/reference/eventstream/, under daphne like ours (SSE only).

Each yields a `Server`: its endpoints, and its process's CPU time and memory
(psutil, /proc/<pid>/status VmRSS and VmHWM, the peak).
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psutil
from clients import Endpoint
from common import ROOT, free_port

REFERENCE = Path(__file__).resolve().parent / "reference"
BENCH_CLIENT_LIMITS = {
    "DEMO_MAX_CONNECTIONS_PER_CLIENT": "100000",
    "NETWORK_CHECK_MAX_STREAMS_PER_CLIENT": "100000",
    "ADVISOR_WRITES_PER_SECOND": "100000",
    "ADVISOR_WRITE_BURST": "100000",
}


@dataclass
class Server:
    name: str
    process: subprocess.Popen
    endpoints: dict[str, Endpoint] = field(default_factory=dict)
    # Our app's base URL, for its pages and API.
    url: str = ""

    @property
    def pid(self) -> int:
        return self.process.pid

    def cpu_seconds(self) -> float:
        times = psutil.Process(self.pid).cpu_times()
        return times.user + times.system

    def memory(self) -> tuple[int, int]:
        """(resident now, peak resident), in bytes."""
        fields = {}
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            name, _, value = line.partition(":")
            if name in {"VmRSS", "VmHWM"}:
                fields[name] = int(value.split()[0]) * 1024
        return fields["VmRSS"], fields["VmHWM"]


def _wait_for_port(process: subprocess.Popen, port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with status {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listens on port {port} after {timeout} s")


@contextlib.contextmanager
def _running(command: list[str], env: dict[str, str], ports: list[int], cwd: Path) -> Iterator:
    # A file, not a pipe, for what it logs: nobody reads a pipe while the
    # load runs, and a full one would stall the server.
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            command,
            cwd=cwd,
            env={**os.environ, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            for port in ports:
                _wait_for_port(process, port)
            yield process
        except BaseException:
            log.seek(0)
            tail = log.read()[-3000:].decode(errors="replace")
            print(f"--- {command[2]} said:\n{tail}", file=sys.stderr)
            raise
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@contextlib.contextmanager
def app_database() -> Iterator[str]:
    """A fresh, migrated SQLite database for our app; yields its DATABASE_URL."""
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/bench.sqlite3"
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "-v0"],
            cwd=ROOT,
            env={**os.environ, "DATABASE_URL": url},
            check=True,
        )
        yield url


@contextlib.contextmanager
def our_app(
    kind: str,
    database: str,
    *,
    rate: float,
    heartbeat: float = 15,
    ping_interval: int | None = None,
    app: str = "advisor.asgi:application",
    root: Path = ROOT,
    extra_env: dict[str, str] | None = None,
) -> Iterator[Server]:
    """The app under daphne or uvicorn, the feed at `rate` events/s (0: none).

    `app` is the ASGI application to serve (a reference variant of ours);
    `root` the checkout whose code serves it (another one for a before/after
    in the same run); `extra_env` more settings.

    `ping_interval` is the server's WebSocket ping period (daphne's and
    uvicorn's default: 20 s), the WebSocket side's heartbeat.
    """
    port = free_port()
    base = f"127.0.0.1:{port}"
    env = {
        "DATABASE_URL": database,
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": "bench",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "REDIS_URL": "",  # one process: the in-memory feed
        "DEMO_FEED_RATE": str(rate),
        "DEMO_SSE_HEARTBEAT": str(heartbeat),
        # Every load client comes from 127.0.0.1: the per-client caps and
        # the write rate (advisor/clients.py) would refuse all but the first
        # few. Raised rather than turned off, so the figures still include
        # the accounting that production does.
        **BENCH_CLIENT_LIMITS,
        # The load clients hold no account: anonymous mode lets them use the
        # pages and the API as before workspaces, so figures compare across
        # that change (production's default is off: docs/access.md).
        "ADVISOR_ANONYMOUS": "1",
        **(extra_env or {}),
    }
    if kind == "daphne":
        command = ["daphne", "-b", "127.0.0.1", "-p", str(port)]
        if ping_interval is not None:
            command += ["--ping-interval", str(round(ping_interval))]
    elif kind == "uvicorn":
        command = ["uvicorn", "--host", "127.0.0.1", "--port", str(port)]
        command += ["--loop", "uvloop", "--http", "httptools", "--ws", "websockets"]
        command += ["--no-access-log", "--log-level", "warning", "--lifespan", "off"]
        # Like for like with daphne, which offers no permessage-deflate.
        command += ["--ws-per-message-deflate", "false"]
        if ping_interval is not None:
            command += ["--ws-ping-interval", str(ping_interval)]
    else:
        raise ValueError(kind)
    command = [sys.executable, "-m", *command, app]
    with _running(command, env, [port], root) as process:
        origin = f"http://{base}"
        yield Server(
            f"ours, {kind}",
            process,
            {
                "ws": Endpoint("ws", f"ws://{base}/ws/demo/", origin),
                "sse": Endpoint("sse", f"http://{base}/demo/events/", origin),
            },
            url=origin,
        )


@contextlib.contextmanager
def bare(rate: float) -> Iterator[Server]:
    ws_port, sse_port = free_port(), free_port()
    command = [sys.executable, str(REFERENCE / "bare.py"), "--rate", str(rate)]
    command += ["--ws-port", str(ws_port), "--sse-port", str(sse_port)]
    with _running(command, {}, [ws_port, sse_port], ROOT) as process:
        origin = "http://127.0.0.1"
        yield Server(
            "bare websockets + ASGI",
            process,
            {
                "ws": Endpoint("ws", f"ws://127.0.0.1:{ws_port}/", origin),
                "sse": Endpoint("sse", f"http://127.0.0.1:{sse_port}/", origin),
            },
        )


@contextlib.contextmanager
def eventstream(rate: float) -> Iterator[Server]:
    port = free_port()
    env = {"DJANGO_SETTINGS_MODULE": "settings", "BENCH_FEED_RATE": str(rate)}
    command = [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port)]
    command.append("asgi:application")
    with _running(command, env, [port], REFERENCE / "eventstream") as process:
        origin = f"http://127.0.0.1:{port}"
        yield Server(
            "django-eventstream, daphne",
            process,
            {"sse": Endpoint("sse", f"http://127.0.0.1:{port}/events/", origin)},
        )


def versions() -> list[str]:
    """The servers' versions, for a section's first line."""
    from importlib.metadata import version

    names = ["daphne", "Twisted", "channels", "uvicorn", "websockets", "django-eventstream"]
    return [f"{name} {version(name)}" for name in names]
