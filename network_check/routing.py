"""The check's probes, routed outside Django's URLconf (advisor.asgi composes them)."""

from __future__ import annotations

from django.urls import path

from advisor.origins import same_origin_stream

from .probes import ProbeConsumer, probe_stream

websocket_urlpatterns = [
    path("network-check/ws/", ProbeConsumer.as_asgi(), name="ws"),
]

# Served ahead of Django: a stream must see its disconnect (see live_demo/sse.py).
http_urlpatterns = [
    # Another site's page gets 403: CORS would hide the burst from it, but its
    # visitors would still use up the per-process cap of probe streams.
    path("network-check/events/", same_origin_stream(probe_stream)),
]
