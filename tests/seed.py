"""The eight built-in use cases, as the catalogue's preset slugs."""

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
