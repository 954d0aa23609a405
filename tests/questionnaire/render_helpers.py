"""Stand-ins for ``report.render_pdf`` that run in a render worker process.

Workers import them by name, so they live in a module of their own. Each
takes what the real one takes, the report's HTML, which the tests replace
with what the stand-in needs to know.
"""

from __future__ import annotations

import os
import time
from pathlib import Path


def pid_pdf(html: str) -> bytes:
    """A "PDF" naming the process that made it."""
    return f"%PDF- made by {os.getpid()}".encode()


def gated_pdf(html: str) -> bytes:
    """Made once the file named by ``html`` (a path) exists: a render the test holds."""
    gate = Path(html)
    deadline = time.monotonic() + 10
    while not gate.exists():
        if time.monotonic() > deadline:
            raise TimeoutError("the test never opened the gate")
        time.sleep(0.01)
    return b"%PDF- gated " + gate.name.encode()


def out_of_memory(html: str) -> bytes:
    """A render that fails in its worker, as one that runs out of memory does."""
    raise MemoryError("a render that needed more than the worker had")
