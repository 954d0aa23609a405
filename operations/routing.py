"""The operations endpoints, answered ahead of everything else (advisor/asgi.py)."""

from __future__ import annotations

from advisor.origins import Scope

from .health import healthz, readyz
from .metrics import metrics

# path -> (route name, application): an exact match, the cheapest dispatch.
ENDPOINTS = {
    "/healthz": ("healthz", healthz),
    "/readyz": ("readyz", readyz),
    "/metrics": ("metrics", metrics),
}


class OperationsEndpoints:
    """/healthz, /readyz and /metrics, ahead of the host check and sign-in.

    A load balancer probes by IP address, and Prometheus scrapes each process
    at its own address: neither names a host that ALLOWED_HOSTS lists. None
    of the three reads a session or anything of a user; /metrics has its own
    guard (ADVISOR_METRICS_TOKEN, ADVISOR_METRICS_ALLOW).
    """

    def __init__(self, application) -> None:
        self.application = application

    async def __call__(self, scope: Scope, receive, send) -> None:
        endpoint = ENDPOINTS.get(scope["path"]) if scope["type"] == "http" else None
        if endpoint is None:
            await self.application(scope, receive, send)
            return
        name, application = endpoint
        info = scope.get("advisor.request")
        if info is not None:
            info.route = name
        await application(scope, receive, send)
