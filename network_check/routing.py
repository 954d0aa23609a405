"""The check's probes, routed outside Django's URLconf (advisor.asgi composes them)."""

from __future__ import annotations

from django.urls import path

from advisor.origins import same_origin_stream
from workspaces.streams import anonymous_mode_off, sign_in_required

from .probes import ProbeConsumer, probe_stream

websocket_urlpatterns = [
    path(
        "network-check/ws/",
        sign_in_required(ProbeConsumer.as_asgi(), when=anonymous_mode_off),
        name="ws",
    ),
]

# Served ahead of Django: a stream must see its disconnect (see live_demo/sse.py).
http_urlpatterns = [
    # Another site's page gets 403: CORS would hide the burst from it, but its
    # visitors would still use up the per-process cap of probe streams.
    path(
        "network-check/events/",
        sign_in_required(same_origin_stream(probe_stream), when=anonymous_mode_off),
        name="network-check-events",
    ),
]
