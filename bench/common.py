"""What every benchmark shares: Django set up, ports, percentiles, the report file.

Benchmarks are run by hand (`make bench`), never by the test suite; each
writes its own section of docs/benchmarks.md between its markers. The servers
they load are started by bench/servers.py.
"""

from __future__ import annotations

import logging
import os
import platform
import socket
import sys
import time
from pathlib import Path

import django

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "advisor.settings")
# The benchmark process itself serves nothing (it scores, migrates, drives
# clients): development settings, as before the settings defaulted to
# production. The servers it measures get production settings from
# servers.our_app (DJANGO_DEBUG=0 and a key of their own).
os.environ.setdefault("DJANGO_DEBUG", "1")
django.setup()

# The project's one percentile (nearest rank), for every benchmark.
from advisor.stats import percentile  # noqa: E402, F401

REPORT = ROOT / "docs" / "benchmarks.md"

logging.getLogger("httpx").setLevel(logging.WARNING)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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
