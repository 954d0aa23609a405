from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest


@pytest.fixture(autouse=True)
def no_redis(settings) -> None:
    """The probes need no channel layer or feed: keep live servers off any Redis."""
    settings.LIVE_DEMO = {**settings.LIVE_DEMO, "REDIS_URL": ""}


@pytest.fixture
def serve(settings, daphne_servers) -> Callable[..., str]:
    """Start daphne with these LIVE_DEMO options (the probes' limits live there too)."""

    def start(**options: Any) -> str:
        settings.LIVE_DEMO = {**settings.LIVE_DEMO, **options}
        return daphne_servers()

    return start
