"""What every socket and stream of the site writes: compact JSON text, server time."""

from __future__ import annotations

import json
import time
from typing import Any


def now_ms() -> float:
    """Server time in milliseconds since the epoch, as events, pongs and errors carry it."""
    return round(time.time() * 1000, 3)


def to_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
