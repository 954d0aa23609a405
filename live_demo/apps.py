from __future__ import annotations

from django.apps import AppConfig
from django.conf import settings


class LiveDemoConfig(AppConfig):
    name = "live_demo"
    verbose_name = "Live demo"

    def ready(self) -> None:
        from serving.daphne_limits import limit_daphne_text_messages
        from serving.direct_write import check_versions

        options = settings.LIVE_DEMO
        limit_daphne_text_messages(options["MAX_TEXT_BYTES"], options["MAX_BINARY_BYTES"])
        check_versions(options["DIRECT_WRITES"])
