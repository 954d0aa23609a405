from __future__ import annotations

from django.apps import AppConfig
from django.conf import settings


class LiveDemoConfig(AppConfig):
    name = "live_demo"
    verbose_name = "Live demo"

    def ready(self) -> None:
        from serving.daphne_limits import limit_daphne_message_rate, limit_daphne_text_messages
        from serving.direct_write import check_versions

        from .protocol import CLOSE_TOO_FAST

        options = settings.LIVE_DEMO
        limit_daphne_text_messages(options["MAX_TEXT_BYTES"], options["MAX_BINARY_BYTES"])
        limit_daphne_message_rate(flood_guard, CLOSE_TOO_FAST, "too many messages")
        check_versions(options["DIRECT_WRITES"])


def flood_guard():
    """The limiter daphne applies to each WebSocket's frames, before the application.

    It passes up to FLOOD_FACTOR times the consumers' rate (so a consumer still
    sees a client over its rate, drops the excess and warns), drops the rest,
    and calls a client that keeps over that for FLOOD_SECONDS a flood. Read at
    each connection: the settings as the serving process has them.
    """
    from advisor.limits import RateLimiter

    options = settings.LIVE_DEMO
    return RateLimiter(
        options["MAX_MESSAGES_PER_SECOND"] * options["FLOOD_FACTOR"],
        flood_factor=1.0,
        flood_seconds=options["FLOOD_SECONDS"],
    )
