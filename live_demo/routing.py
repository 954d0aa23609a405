"""Routes outside Django's URLconf: the demo's WebSocket and event stream."""

from __future__ import annotations

from django.urls import path

from advisor.origins import same_origin_stream
from workspaces.streams import demo_is_private, sign_in_required

from .consumers import DemoConsumer
from .sse import event_stream
from .workload.consumers import WorkloadConsumer
from .workload.sse import workload_stream

websocket_urlpatterns = [
    path(
        "ws/demo/",
        sign_in_required(DemoConsumer.as_asgi(), when=demo_is_private),
        name="ws-demo",
    ),
    path(
        "ws/workload/",
        sign_in_required(WorkloadConsumer.as_asgi(), when=demo_is_private),
        name="ws-workload",
    ),
]

# Served ahead of Django: a stream must see its disconnect (see sse.py).
# Another site's page gets 403: CORS would hide the stream from it, but each
# of its visitors would still hold a subscriber here for as long as it liked.
http_urlpatterns = [
    path(
        "demo/events/",
        sign_in_required(same_origin_stream(event_stream), when=demo_is_private),
        name="demo-events",
    ),
    path(
        "demo/workload/events/",
        sign_in_required(same_origin_stream(workload_stream), when=demo_is_private),
        name="workload-events",
    ),
]
