"""The Prometheus metrics of this process, and GET /metrics that serves them.

prometheus-client rather than django-prometheus: most of what is worth
counting here never passes through Django's middleware (the event streams,
the WebSockets and the live feed are served ahead of it, advisor/asgi.py),
and django-prometheus's database and model counters wrap the ORM's cursors
on every query. prometheus-client gives the counters and the text format,
and nothing on a path we did not choose.

Costs, by design:
- open connections are read when Prometheus scrapes (`OpenConnectionsCollector`),
  from the tables the caps keep anyway: nothing per connection or per event;
- the feed adds one to a counter per event published, resume, gap and
  closed subscriber, and one addition per event fanned out (by the number
  of subscribers it went to), never one per delivery;
- each HTTP request adds one counter and one histogram observation
  (operations/requests.py).

Each process has its own registry: with several server processes, Prometheus
scrapes each at its own address (docs/deploy.md). prometheus-client's
multiprocess mode is not used: it cannot serve collectors read at scrape
time (the open connections), and with one address per process it buys
nothing.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Iterator
from functools import lru_cache

from django.conf import settings
from prometheus_client import REGISTRY, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

from advisor.clients import address_to_judge
from advisor.origins import Scope, header, plain_response

# HTTP requests, labelled by route name (never the raw path: the label set
# stays as small as the URLconf), method and status.
HTTP_REQUESTS = Counter(
    "advisor_http_requests",
    "HTTP requests answered, by route name, method and status.",
    ["route", "method", "status"],
)
HTTP_LATENCY = Histogram(
    "advisor_http_request_duration_seconds",
    "Seconds from a request's arrival to its response's headers (for a stream: until it opens).",
    ["route", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

# The live demo's feed (live_demo/feed/).
EVENTS_PUBLISHED = Counter(
    "advisor_feed_events_published", "Events this process published to the live demo's feed."
)
EVENTS_FANNED_OUT = Counter(
    "advisor_feed_events_received",
    "Feed events this process handed to its subscribers (each once, however many subscribers).",
)
DELIVERIES = Counter(
    "advisor_feed_deliveries",
    "Feed events handed to subscribers: one per event per subscriber connected at the time.",
)
SUBSCRIBERS_CLOSED = Counter(
    "advisor_feed_subscribers_closed",
    "Feed subscribers closed by the server, by reason: slow (cut off, its backlog over "
    "the bound), dropped (on request, or the feed restarted), shutdown.",
    ["reason"],
)
RESUMES = Counter(
    "advisor_feed_resumes",
    "Connections that resumed from a Last-Event-ID or resume message, by transport.",
    ["transport"],
)
GAPS = Counter(
    "advisor_feed_gaps",
    "Resumes told of a gap (events no longer kept: expired; the feed started again: restarted).",
    ["reason"],
)
# PDF reports rendered in advance when their assessment changed (questionnaire/prerender.py).
REPORTS_PRERENDERED = Counter(
    "advisor_reports_prerendered",
    "Reports offered for rendering in advance, by outcome: rendered (stored for its first "
    "download), cached (already there), busy (no idle render worker: left to the download), "
    "failed (logged).",
    ["outcome"],
)
for _outcome in ("rendered", "cached", "busy", "failed"):
    REPORTS_PRERENDERED.labels(_outcome)
for _reason in ("slow", "dropped", "shutdown"):
    SUBSCRIBERS_CLOSED.labels(_reason)
for _transport in ("websocket", "sse"):
    RESUMES.labels(_transport)
for _reason in ("expired", "restarted"):
    GAPS.labels(_reason)


def observe_request(route: str, method: str, status: int, seconds: float | None) -> None:
    method = method if method in METHODS else "other"
    HTTP_REQUESTS.labels(route, method, str(status)).inc()
    if seconds is not None:
        HTTP_LATENCY.labels(route, method).observe(seconds)


class OpenConnectionsCollector(Collector):
    """Open streams and WebSockets, read from the caps' own tables at scrape time."""

    @staticmethod
    def family() -> GaugeMetricFamily:
        return GaugeMetricFamily(
            "advisor_open_connections",
            "Open long-lived connections in this process, by endpoint and transport.",
            labels=["endpoint", "transport"],
        )

    def describe(self) -> Iterator[GaugeMetricFamily]:
        # Registering asks for the names only: collect() would import the apps.
        yield self.family()

    def collect(self) -> Iterator[GaugeMetricFamily]:
        # Imported here: the apps import this module to count, not the reverse.
        from live_demo.feed import current_feed
        from network_check.probes import open_probe_streams
        from questionnaire.live import streams as decision_streams

        family = self.family()
        feed = current_feed()
        counts = feed.counts() if feed is not None else {}
        family.add_metric(["demo", "websocket"], counts.get("websocket", 0))
        family.add_metric(["demo", "sse"], counts.get("sse", 0))
        family.add_metric(["decision-stream", "sse"], decision_streams.count())
        family.add_metric(["network-check", "sse"], open_probe_streams())
        yield family


REGISTRY.register(OpenConnectionsCollector())


# GET /metrics --------------------------------------------------------------

REFUSED = (
    b"Metrics are served to the addresses in ADVISOR_METRICS_ALLOW, or with the "
    b"bearer token of ADVISOR_METRICS_TOKEN.\n"
)


@lru_cache(maxsize=8)
def _networks(entries: tuple[str, ...]):
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)


def metrics_allowed(scope: Scope) -> bool:
    """A bearer token equal to ADVISOR_METRICS_TOKEN, or a client in ADVISOR_METRICS_ALLOW.

    The client is `address_to_judge`: behind a proxy listed in
    DJANGO_TRUSTED_PROXIES, the address the proxy forwards, never the
    proxy's. A forwarded chain of trusted proxies only (a request from
    inside the proxy tier, or a host there claiming loopback) and a header
    that cannot be read are refused: scrape each process at its own address,
    or send the token.
    """
    token = settings.ADVISOR_METRICS_TOKEN
    if token:
        scheme, _, given = (header(scope, b"authorization") or "").strip().partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(
            given.strip().encode(), token.encode()
        ):
            return True
    address = address_to_judge(scope)
    if address is None:
        return False
    return any(address in network for network in _networks(tuple(settings.ADVISOR_METRICS_ALLOW)))


async def metrics(scope: Scope, receive, send) -> None:
    if scope["method"] not in {"GET", "HEAD"}:
        await plain_response(send, 405, b"GET the metrics.\n", [(b"allow", b"GET, HEAD")])
        return
    if not metrics_allowed(scope):
        await plain_response(send, 403, REFUSED)
        return
    body = generate_latest(REGISTRY)
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", CONTENT_TYPE_LATEST.encode()),
                (b"cache-control", b"no-store"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})
