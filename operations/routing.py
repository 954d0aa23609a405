"""The operations endpoints, answered ahead of everything else (advisor/asgi.py)."""

from __future__ import annotations

import ipaddress

from django.http.request import split_domain_port

from advisor.origins import BAD_HOST, Scope, allowed_host, plain_response, raw_host

from .health import healthz, readyz
from .metrics import metrics

# path -> (route name, application): an exact match, the cheapest dispatch.
ENDPOINTS = {
    "/healthz": ("healthz", healthz),
    "/readyz": ("readyz", readyz),
    "/metrics": ("metrics", metrics),
}


def probe_host(scope: Scope) -> bool:
    """Whether the request names a host in ALLOWED_HOSTS, or an IP address.

    A load balancer probes by IP address, and Prometheus scrapes each process
    at its own address: neither names a host that ALLOWED_HOSTS lists. Any
    other name is refused, as on every route: a page of another site whose
    name an attacker points at 127.0.0.1 (DNS rebinding) must not read
    /metrics, which loopback may read, from a developer's browser.
    """
    if allowed_host(scope) is not None:
        return True
    domain, _ = split_domain_port(raw_host(scope))
    try:
        ipaddress.ip_address(domain.removeprefix("[").removesuffix("]"))
    except ValueError:
        return False
    return True


class OperationsEndpoints:
    """/healthz, /readyz and /metrics, ahead of the host check and sign-in.

    Their own host check (`probe_host`) also takes an IP address. None of
    the three reads a session or anything of a user; /metrics has its own
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
        if not probe_host(scope):
            await plain_response(send, 400, BAD_HOST)
            return
        await application(scope, receive, send)
