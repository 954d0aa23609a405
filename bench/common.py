"""What every benchmark shares: Django set up, a daphne server to load, the report file.

Benchmarks are run by hand (`make bench`), never by the test suite; each
writes its own section of docs/benchmarks.md between its markers.
"""

from __future__ import annotations

import contextlib
import logging
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import django

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "advisor.settings")
django.setup()

import httpx  # noqa: E402

REPORT = ROOT / "docs" / "benchmarks.md"

logging.getLogger("httpx").setLevel(logging.WARNING)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def machine(*versions: str) -> str:
    """The date, the versions and the machine, for a section's first line."""
    return ", ".join(
        [
            time.strftime("%Y-%m-%d"),
            f"Python {platform.python_version()}",
            f"Django {django.get_version()}",
            *versions,
            f"{os.cpu_count()} cores",
            platform.machine(),
        ]
    )


# The server process behind each base URL that daphne_server or uvicorn_server
# yields, for benchmarks that read its CPU time and memory or profile it.
SERVERS: dict[str, subprocess.Popen] = {}


@contextlib.contextmanager
def daphne_server(**env: str) -> Iterator[str]:
    """One daphne process serving the app on a fresh SQLite database; yields its base URL."""
    with _app_server(["daphne", "-b", "127.0.0.1", "-p", "{port}"], env) as base:
        yield base


@contextlib.contextmanager
def uvicorn_server(**env: str) -> Iterator[str]:
    """The same app and database served by one uvicorn process (uvloop, httptools)."""
    command = ["uvicorn", "--host", "127.0.0.1", "--port", "{port}"]
    # Daphne writes no access log unless asked to; lifespan is an ASGI
    # extension the app does not implement.
    command += ["--no-access-log", "--lifespan", "off"]
    with _app_server(command, env) as base:
        yield base


@contextlib.contextmanager
def _app_server(command: list[str], env: dict[str, str]) -> Iterator[str]:
    """Run ``python -m <command> advisor.asgi:application`` on a fresh SQLite database."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as folder:
        environment = {
            **os.environ,
            "DATABASE_URL": f"sqlite:///{folder}/bench.sqlite3",
            "DJANGO_DEBUG": "0",
            "DJANGO_SECRET_KEY": "bench",
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
            **env,
        }
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "-v0"],
            cwd=ROOT,
            env=environment,
            check=True,
        )
        server = subprocess.Popen(
            [sys.executable, "-m", *(part.format(port=port) for part in command)]
            + ["advisor.asgi:application"],
            cwd=ROOT,
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        SERVERS[base] = server
        try:
            for _ in range(100):
                try:
                    httpx.get(f"{base}/api/questions/", timeout=1)
                    break
                except httpx.TransportError:
                    time.sleep(0.1)
            yield base
        finally:
            del SERVERS[base]
            server.terminate()
            server.wait(timeout=10)


def write_section(name: str, lines: list[str]) -> str:
    """Replace this benchmark's section of docs/benchmarks.md (or add it); return it."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    section = "\n".join([start, *lines, end])
    REPORT.parent.mkdir(exist_ok=True)
    text = (
        REPORT.read_text()
        if REPORT.exists()
        else "# Benchmarks\n\nFigures measured on this machine by the scripts in `bench/`; "
        "`make bench` rewrites them.\n"
    )
    if start in text:
        head, rest = text.split(start, 1)
        text = head + section + rest.split(end, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    REPORT.write_text(text)
    print(section)
    return section
