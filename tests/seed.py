"""The seed article's eight use cases (DOMAIN.md), as the catalogue's preset slugs."""

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
