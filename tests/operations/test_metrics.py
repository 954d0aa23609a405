"""GET /metrics and what it counts (operations/metrics.py)."""

from __future__ import annotations

import pytest
from django.conf import settings
from prometheus_client import REGISTRY

from live_demo.feed import Closed, Feed, get_feed, reset_feed

from .asgi import request

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def new_feed(history: int = 5) -> Feed:
    return Feed({**settings.LIVE_DEMO, "HISTORY": history, "FEED_RATE": 0})


# Who may read them ------------------------------------------------------------


async def test_metrics_served_to_loopback_by_default():
    answer = await request("/metrics")
    assert answer.status == 200
    assert answer.headers["content-type"].startswith("text/plain; version=")
    assert b"# TYPE advisor_http_requests_total counter" in answer.body
    assert b"advisor_open_connections{" in answer.body


async def test_metrics_refused_to_another_address():
    answer = await request("/metrics", client="203.0.113.9")
    assert answer.status == 403
    assert b"ADVISOR_METRICS_ALLOW" in answer.body


async def test_metrics_allow_list_takes_networks(settings):
    settings.ADVISOR_METRICS_ALLOW = ["10.0.0.0/8"]
    assert (await request("/metrics", client="10.1.2.3")).status == 200
    assert (await request("/metrics", client="127.0.0.1")).status == 403


async def test_metrics_empty_allow_list_refuses_even_loopback(settings):
    settings.ADVISOR_METRICS_ALLOW = []
    assert (await request("/metrics")).status == 403


async def test_metrics_token_opens_them_from_anywhere(settings):
    settings.ADVISOR_METRICS_TOKEN = "s3cret-scrape-token"
    headers = {"Authorization": "Bearer s3cret-scrape-token"}
    assert (await request("/metrics", client="203.0.113.9", headers=headers)).status == 200


async def test_metrics_wrong_token_refused(settings):
    settings.ADVISOR_METRICS_TOKEN = "s3cret-scrape-token"
    for given in ("Bearer wrong", "Bearer ", "Basic s3cret-scrape-token", "s3cret-scrape-token"):
        answer = await request("/metrics", client="203.0.113.9", headers={"Authorization": given})
        assert answer.status == 403, given


async def test_metrics_no_token_configured_takes_none(settings):
    settings.ADVISOR_METRICS_TOKEN = ""
    answer = await request("/metrics", client="203.0.113.9", headers={"Authorization": "Bearer "})
    assert answer.status == 403


async def test_metrics_behind_trusted_proxy_judge_the_forwarded_client(settings):
    # Through the proxy, the peer is loopback: the client it forwards is what counts.
    settings.TRUSTED_PROXIES = ["127.0.0.1"]
    outside = {"X-Forwarded-For": "203.0.113.9"}
    assert (await request("/metrics", headers=outside)).status == 403
    settings.ADVISOR_METRICS_ALLOW = ["198.51.100.0/24"]
    inside = {"X-Forwarded-For": "198.51.100.7"}
    assert (await request("/metrics", headers=inside)).status == 200


async def test_metrics_long_forwarded_header_never_passes_for_the_proxy(settings):
    # The proxy (loopback, allowed by default) appends the real client to
    # whatever the client sent; a header past the length read must not fall
    # back to the proxy's own address.
    settings.TRUSTED_PROXIES = ["127.0.0.1"]
    spoof = {"X-Forwarded-For": "1.1.1.1," * 300 + "203.0.113.9"}
    assert (await request("/metrics", headers=spoof)).status == 403
    unreadable = {"X-Forwarded-For": "1" * 3000}
    assert (await request("/metrics", headers=unreadable)).status == 403


async def test_metrics_a_trusted_hop_claiming_loopback_refused(settings):
    # A host in a trusted network sends "127.0.0.1" itself; the proxy appends it.
    settings.TRUSTED_PROXIES = ["10.0.0.0/8", "127.0.0.1"]
    claim = {"X-Forwarded-For": "127.0.0.1, 10.9.9.9"}
    assert (await request("/metrics", headers=claim)).status == 403
    # Through the proxy from inside the proxy tier: refused too (scrape each
    # process at its own address, or send the token).
    assert (await request("/metrics", headers={"X-Forwarded-For": "127.0.0.1"})).status == 403
    # Straight to the process, no header: the peer is the client.
    assert (await request("/metrics")).status == 200


async def test_metrics_forwarded_header_from_untrusted_peer_ignored(settings):
    settings.TRUSTED_PROXIES = []
    answer = await request(
        "/metrics", client="203.0.113.9", headers={"X-Forwarded-For": "127.0.0.1"}
    )
    assert answer.status == 403


async def test_metrics_refused_through_a_proxy_not_listed_as_trusted(settings):
    # nginx on the same host, DJANGO_TRUSTED_PROXIES forgotten: its requests
    # come from loopback, but carry the header a proxy adds.
    settings.TRUSTED_PROXIES = []
    answer = await request("/metrics", headers={"X-Forwarded-For": "203.0.113.9"})
    assert answer.status == 403


async def test_metrics_answer_an_ip_address_host(settings):
    settings.ALLOWED_HOSTS = ["advisor.example.com"]
    assert (await request("/metrics", host="10.0.0.7:8001")).status == 200
    assert (await request("/metrics", host="[::1]:8001")).status == 200
    assert (await request("/metrics", host="advisor.example.com")).status == 200


async def test_metrics_refuse_another_host_name(settings):
    # DNS rebinding: another site's name pointed at 127.0.0.1, read from a browser there.
    settings.ALLOWED_HOSTS = ["advisor.example.com"]
    for host in ("rebind.attacker.example:8000", "10.0.0.7.attacker.example"):
        answer = await request("/metrics", host=host)
        assert answer.status == 400, host
        assert b"advisor_" not in answer.body


# What they count --------------------------------------------------------------


async def test_requests_counted_by_route_name_not_path():
    labels = {"route": "live_demo:stats", "method": "GET", "status": "200"}
    before = value("advisor_http_requests_total", **labels)
    await request("/demo/stats/")
    assert value("advisor_http_requests_total", **labels) == before + 1
    assert (
        value("advisor_http_request_duration_seconds_count", route="live_demo:stats", method="GET")
        >= 1
    )


async def test_unknown_paths_share_one_label():
    labels = {"route": "unmatched", "method": "GET", "status": "404"}
    before = value("advisor_http_requests_total", **labels)
    await request("/no/such/page/1")
    await request("/no/such/page/2")
    assert value("advisor_http_requests_total", **labels) == before + 2
    body = (await request("/metrics")).body
    assert b"/no/such/page" not in body


async def test_stream_route_counted_by_its_name():
    labels = {"route": "demo-events", "method": "GET", "status": "200"}
    before = value("advisor_http_requests_total", **labels)
    await reset_feed()
    try:
        await request("/demo/events/")
    finally:
        await reset_feed()
    assert value("advisor_http_requests_total", **labels) == before + 1


async def test_odd_methods_share_one_label():
    before = value("advisor_http_requests_total", route="healthz", method="other", status="405")
    await request("/healthz", method="BREW")
    assert (
        value("advisor_http_requests_total", route="healthz", method="other", status="405")
        == before + 1
    )


async def test_feed_published_and_delivered_counted():
    feed = new_feed()
    published = value("advisor_feed_events_published_total")
    received = value("advisor_feed_events_received_total")
    deliveries = value("advisor_feed_deliveries_total")
    feed.subscribe("websocket")
    feed.subscribe("sse")
    await feed.publish("tick", {"n": 1})
    await feed.publish("tick", {"n": 2})
    assert value("advisor_feed_events_published_total") == published + 2
    assert value("advisor_feed_events_received_total") == received + 2
    assert value("advisor_feed_deliveries_total") == deliveries + 4


async def test_slow_subscriber_cut_off_counted():
    feed = new_feed()
    subscriber = feed.subscribe("sse")
    subscriber.max_backlog = 1
    before = value("advisor_feed_subscribers_closed_total", reason="slow")
    await feed.publish("tick", {"n": 1})
    await feed.publish("tick", {"n": 2})
    with pytest.raises(Closed):
        await subscriber.next_batch()
    # Closed once, counted once, however often asked.
    subscriber.close("slow")
    assert value("advisor_feed_subscribers_closed_total", reason="slow") == before + 1


async def test_resumes_and_gaps_counted():
    feed = new_feed(history=2)
    ids = [(await feed.publish("tick", {"n": n})).id for n in range(5)]
    resumes = value("advisor_feed_resumes_total", transport="sse")
    expired = value("advisor_feed_gaps_total", reason="expired")
    restarted = value("advisor_feed_gaps_total", reason="restarted")
    await feed.start_from(feed.subscribe("sse"), ids[3])  # in the history: no gap
    await feed.start_from(feed.subscribe("sse"), ids[1])  # older than the history
    await feed.start_from(feed.subscribe("sse"), ids[-1] + 95)  # newer than the feed
    await feed.start_from(feed.subscribe("sse"), None)  # a first connect: no resume
    assert value("advisor_feed_resumes_total", transport="sse") == resumes + 3
    assert value("advisor_feed_gaps_total", reason="expired") == expired + 1
    assert value("advisor_feed_gaps_total", reason="restarted") == restarted + 1


async def test_open_connections_read_from_the_feed():
    await reset_feed()
    try:
        feed = await get_feed()
        held = [feed.subscribe("websocket") for _ in range(3)] + [feed.subscribe("sse")]
        body = (await request("/metrics")).body.decode()
        assert 'advisor_open_connections{endpoint="demo",transport="websocket"} 3.0' in body
        assert 'advisor_open_connections{endpoint="demo",transport="sse"} 1.0' in body
        for subscriber in held:
            feed.unsubscribe(subscriber)
        body = (await request("/metrics")).body.decode()
        assert 'advisor_open_connections{endpoint="demo",transport="websocket"} 0.0' in body
    finally:
        await reset_feed()
