"""The eight use cases of the comparison article the product grew from, as preset slugs."""

from __future__ import annotations

PRESETS = [
    "collaborative-editing",
    "chat",
    "trading",
    "iot-control",
    "activity-feed",
    "notifications",
    "order-tracking",
    "dashboard",
]
