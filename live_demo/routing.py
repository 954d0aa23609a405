"""Routes outside Django's URLconf: the demo's and the network check's WebSockets and streams."""

from __future__ import annotations

from django.urls import path

from .consumers import DemoConsumer
from .probes import ProbeConsumer, probe_stream
from .sse import event_stream

websocket_urlpatterns = [
    path("ws/demo/", DemoConsumer.as_asgi(), name="ws-demo"),
    path("network-check/ws/", ProbeConsumer.as_asgi(), name="ws-network-check"),
]

# Served ahead of Django: a stream must see its disconnect (see sse.py).
http_urlpatterns = [
    path("demo/events/", event_stream),
    path("network-check/events/", probe_stream),
]
