from __future__ import annotations

import pytest

from advisor.stats import percentile
from network_check.findings import findings, http_kind, sse_delivery

from .measurements import cleaned, finding, sse, streams, ws

# --- SSE classification --------------------------------------------------------------


def probe(arrivals: list[float], *, status: str = "ok", count: int = 10, interval: int = 200):
    return {
        "status": status,
        "events_expected": count,
        "interval_ms": interval,
        "arrivals_ms": arrivals,
    }


def test_sse_delivery_spread_as_sent_is_streamed():
    assert sse_delivery(probe([10 + 200 * n for n in range(10)])) == "streamed"


def test_sse_delivery_exactly_half_the_sending_time_is_streamed():
    # (10 - 1) * 200 ms = 1800 ms of sending; 900 ms of spread is the threshold.
    assert sse_delivery(probe([100 + 100 * n for n in range(10)])) == "streamed"


def test_sse_delivery_just_under_half_is_buffered():
    assert sse_delivery(probe([100] * 9 + [999.9])) == "buffered"


def test_sse_delivery_all_at_once_is_buffered():
    assert sse_delivery(probe([1805.5] * 10)) == "buffered"


def test_sse_delivery_none_arrived_is_failed():
    assert sse_delivery(probe([])) == "failed"


def test_sse_delivery_status_failed_wins_over_arrivals():
    assert sse_delivery(probe([10, 210], status="failed")) == "failed"


def test_sse_delivery_single_event_of_many_is_buffered():
    assert sse_delivery(probe([1800])) == "buffered"


def test_sse_delivery_burst_cut_short_but_spread_is_streamed():
    # The browser gave up after 6 events, but those came as they were sent.
    assert sse_delivery(probe([10 + 200 * n for n in range(6)])) == "streamed"


def test_sse_delivery_two_events_at_the_slowest_pace():
    assert sse_delivery(probe([5, 1005], count=2, interval=1000)) == "streamed"


def test_sse_delivery_two_events_together_at_the_fastest_pace():
    assert sse_delivery(probe([5, 29], count=2, interval=50)) == "buffered"


# --- HTTP version and percentiles ---------------------------------------------------


@pytest.mark.parametrize(
    ("version", "kind"),
    [
        ("h2", "http2"),
        ("h3", "http2"),
        ("h2c", "http2"),
        ("h3-29", "http2"),
        ("HTTP/2", "http2"),
        ("http/2.0", "http2"),
        ("http/3", "http2"),
        ("http/1.1", "http1"),
        ("HTTP/1.0", "http1"),
        ("", "unknown"),
        ("spdy/3", "unknown"),
    ],
)
def test_http_kind(version, kind):
    assert http_kind(version) == kind


def test_percentile_nearest_rank():
    samples = list(range(1, 101))

    assert (percentile(samples, 0.5), percentile(samples, 0.95)) == (50, 95)


def test_percentile_of_one_sample():
    assert (percentile([7], 0.5), percentile([7], 0.95)) == (7, 7)


# --- Findings --------------------------------------------------------------------


def test_findings_cover_every_measurement_in_order():
    assert [f.key for f in findings(cleaned())] == [
        "websocket_upgrade",
        "websocket_rtt",
        "sse_delivery",
        "sse_first_event",
        "http_version",
        "sse_streams",
    ]


def test_findings_open_path_all_ok():
    assert all(f.ok for f in findings(cleaned()))


def test_finding_rtt_percentiles():
    rtt = [float(n) for n in range(1, 21)]

    assert finding("websocket_rtt", websocket=ws(rtt_ms=rtt)).value == (
        "p50 10 ms, p95 19 ms over 20 pings"
    )


def test_finding_rtt_not_measured_when_blocked():
    blocked = ws(status="blocked", close_code=1006, rtt_ms=[])

    assert finding("websocket_rtt", websocket=blocked).value == "Not measured"


def test_finding_upgrade_blocked_names_close_code():
    blocked = ws(status="blocked", close_code=1006, rtt_ms=[])
    upgrade = finding("websocket_upgrade", websocket=blocked)

    assert (upgrade.value, upgrade.ok) == ("Blocked (close code 1006)", False)


def test_finding_upgrade_error():
    broken = ws(status="error", close_code=1011, rtt_ms=[8])

    assert finding("websocket_upgrade", websocket=broken).value == (
        "Failed after opening (close code 1011)"
    )


def test_finding_sse_buffered():
    delivery = finding("sse_delivery", sse=sse(arrivals_ms=[1801.0] * 10))

    assert (delivery.value, delivery.ok) == (
        "Buffered: 10 of 10 events arrived all at once, though sent over 1.8 s",
        False,
    )


def test_finding_sse_streamed():
    assert finding("sse_delivery").value == (
        "Streamed: 10 of 10 events arrived over 1.8 s, as sent over 1.8 s"
    )


def test_finding_sse_failed():
    failed = finding("sse_delivery", sse=sse(status="failed", arrivals_ms=[]))

    assert (failed.value, failed.ok) == ("Failed: no event arrived", False)


def test_finding_first_event_time():
    first = finding("sse_first_event")

    assert (first.value, first.ok) == ("15 ms", True)


def test_finding_first_event_late_when_buffered():
    first = finding("sse_first_event", sse=sse(arrivals_ms=[1801.0] * 10))

    assert (first.value, first.ok) == ("1.8 s", False)


def test_finding_http_version_http1():
    shown = finding("http_version", http_version="http/1.1")

    assert (shown.value, shown.ok) == ("HTTP/1.1", False)


def test_finding_http_version_unknown():
    assert finding("http_version", http_version="").value == "Not reported by the browser"


def test_finding_streams_limited():
    shown = finding("sse_streams", sse_streams=streams(opened=6))

    assert (shown.value, shown.ok) == ("6 of 8 opened at once", False)


def test_finding_no_stream_opened_not_blamed_on_limit():
    shown = finding("sse_streams", sse_streams=streams(attempted=8, opened=0))

    assert "connection limit (about six" not in shown.meaning
    assert not shown.ok
