from __future__ import annotations

import copy
import math

import pytest

from questionnaire.catalogue import Catalogue
from questionnaire.network import (
    findings,
    http_kind,
    percentile,
    simulation_notice,
    sse_delivery,
    suggestions,
    validate_measurement,
)


def measurement(**parts: object) -> dict:
    """A valid measurement of an open path (WebSocket ok, SSE streamed, HTTP/2), with overrides."""
    document = {
        "websocket": {"status": "ok", "close_code": 1000, "rtt_ms": [4, 5.5, 6, 30]},
        "sse": {
            "status": "ok",
            "events_expected": 10,
            "interval_ms": 200,
            "arrivals_ms": [15 + 200 * n for n in range(10)],
        },
        "http_version": "h2",
        "sse_streams": {"attempted": 8, "opened": 8},
    }
    document.update(copy.deepcopy(parts))
    return document


def ws(**fields: object) -> dict:
    return {**measurement()["websocket"], **fields}


def sse(**fields: object) -> dict:
    return {**measurement()["sse"], **fields}


def streams(**fields: object) -> dict:
    return {**measurement()["sse_streams"], **fields}


def errors_of(document: object) -> set[str]:
    clean, errors = validate_measurement(document)
    assert clean is None
    return set(errors)


def cleaned(**parts: object) -> dict:
    clean, errors = validate_measurement(measurement(**parts))
    assert errors == {}
    return clean


def suggested(catalogue: Catalogue, **parts: object) -> dict[str, str]:
    return {s.question: s.value for s in suggestions(cleaned(**parts), catalogue)}


def finding(key: str, **parts: object):
    return next(f for f in findings(cleaned(**parts)) if f.key == key)


# --- Validation: the whole document ---------------------------------------------


def test_validate_accepts_valid_measurement():
    clean, errors = validate_measurement(measurement())

    assert (errors, clean) == ({}, measurement())


def test_validate_rejects_non_object():
    assert errors_of(["websocket"]) == {"measurement"}


@pytest.mark.parametrize("key", ["websocket", "sse", "http_version", "sse_streams"])
def test_validate_requires_every_part(key):
    document = measurement()
    del document[key]

    assert errors_of(document) == {key}


def test_validate_rejects_unknown_top_level_key():
    assert errors_of({**measurement(), "extra": 1}) == {"extra"}


def test_validate_names_every_problem_at_once():
    document = measurement(
        websocket=ws(status="maybe"), sse=sse(interval_ms=5), http_version=2, more=True
    )

    assert errors_of(document) == {
        "websocket.status",
        "sse.interval_ms",
        "http_version",
        "more",
    }


# --- Validation: websocket ---------------------------------------------------------


@pytest.mark.parametrize("status", ["ok", "blocked", "error"])
def test_validate_websocket_statuses(status):
    rtt = [5] if status == "ok" else []
    assert cleaned(websocket=ws(status=status, rtt_ms=rtt))["websocket"]["status"] == status


@pytest.mark.parametrize(
    ("part", "field"),
    [
        (ws(status="open"), "websocket.status"),
        (ws(status=None), "websocket.status"),
        (ws(status=["ok"]), "websocket.status"),
        (ws(close_code=-1), "websocket.close_code"),
        (ws(close_code=5000), "websocket.close_code"),
        (ws(close_code=1000.0), "websocket.close_code"),
        (ws(close_code="1000"), "websocket.close_code"),
        (ws(close_code=True), "websocket.close_code"),
        (ws(rtt_ms="5"), "websocket.rtt_ms"),
        (ws(rtt_ms=[5, -1]), "websocket.rtt_ms"),
        (ws(rtt_ms=[60_000.5]), "websocket.rtt_ms"),
        (ws(rtt_ms=["5"]), "websocket.rtt_ms"),
        (ws(rtt_ms=[None]), "websocket.rtt_ms"),
        (ws(rtt_ms=[False]), "websocket.rtt_ms"),
        (ws(rtt_ms=[math.nan]), "websocket.rtt_ms"),
        (ws(rtt_ms=[math.inf]), "websocket.rtt_ms"),
        (ws(rtt_ms=[1] * 101), "websocket.rtt_ms"),
        (ws(rtt_ms=[]), "websocket.rtt_ms"),
        ({**ws(), "pings": 10}, "websocket.pings"),
        ("ok", "websocket"),
    ],
)
def test_validate_websocket_rejects(part, field):
    assert errors_of(measurement(websocket=part)) == {field}


@pytest.mark.parametrize("key", ["status", "close_code", "rtt_ms"])
def test_validate_websocket_requires_each_field(key):
    part = ws()
    del part[key]

    assert errors_of(measurement(websocket=part)) == {f"websocket.{key}"}


@pytest.mark.parametrize("code", [0, 1006, 4999, None])
def test_validate_websocket_close_code_range(code):
    assert cleaned(websocket=ws(close_code=code))["websocket"]["close_code"] == code


def test_validate_websocket_rtt_bounds_accepted():
    rtt = [0, 60_000] + [1.25] * 98

    assert cleaned(websocket=ws(rtt_ms=rtt))["websocket"]["rtt_ms"] == rtt


def test_validate_websocket_blocked_needs_no_round_trip():
    assert cleaned(websocket=ws(status="blocked", rtt_ms=[]))["websocket"]["rtt_ms"] == []


# --- Validation: sse -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("part", "field"),
    [
        (sse(status="streamed"), "sse.status"),
        (sse(events_expected=1), "sse.events_expected"),
        (sse(events_expected=51), "sse.events_expected"),
        (sse(events_expected=10.0), "sse.events_expected"),
        (sse(events_expected="10"), "sse.events_expected"),
        (sse(interval_ms=49), "sse.interval_ms"),
        (sse(interval_ms=1001), "sse.interval_ms"),
        (sse(interval_ms=None), "sse.interval_ms"),
        (sse(arrivals_ms={"0": 5}), "sse.arrivals_ms"),
        (sse(arrivals_ms=[5, 4]), "sse.arrivals_ms"),
        (sse(arrivals_ms=[-0.5]), "sse.arrivals_ms"),
        (sse(arrivals_ms=[60_001]), "sse.arrivals_ms"),
        (sse(events_expected=2, arrivals_ms=[1, 2, 3]), "sse.arrivals_ms"),
        ({**sse(), "retry": 1}, "sse.retry"),
        (None, "sse"),
    ],
)
def test_validate_sse_rejects(part, field):
    assert errors_of(measurement(sse=part)) == {field}


@pytest.mark.parametrize("key", ["status", "events_expected", "interval_ms", "arrivals_ms"])
def test_validate_sse_requires_each_field(key):
    part = sse()
    del part[key]

    assert errors_of(measurement(sse=part)) == {f"sse.{key}"}


@pytest.mark.parametrize(("expected", "interval"), [(2, 50), (50, 1000), (2, 1000), (50, 50)])
def test_validate_sse_range_ends_accepted(expected, interval):
    clean = cleaned(sse=sse(events_expected=expected, interval_ms=interval, arrivals_ms=[]))

    assert (clean["sse"]["events_expected"], clean["sse"]["interval_ms"]) == (expected, interval)


def test_validate_sse_equal_arrivals_accepted():
    assert cleaned(sse=sse(arrivals_ms=[7, 7, 7]))["sse"]["arrivals_ms"] == [7, 7, 7]


# --- Validation: http_version and sse_streams ---------------------------------------


@pytest.mark.parametrize("version", ["h2", "h3", "http/1.1", "", "x" * 32])
def test_validate_http_version_accepted(version):
    assert cleaned(http_version=version)["http_version"] == version


@pytest.mark.parametrize("version", [None, 2, ["h2"], "x" * 33, "h2\x00", "h²"])
def test_validate_http_version_rejected(version):
    assert errors_of(measurement(http_version=version)) == {"http_version"}


@pytest.mark.parametrize(
    ("part", "field"),
    [
        (streams(attempted=0), "sse_streams.attempted"),
        (streams(attempted=17, opened=1), "sse_streams.attempted"),
        (streams(opened=-1), "sse_streams.opened"),
        (streams(attempted=4, opened=5), "sse_streams.opened"),
        (streams(opened=2.5), "sse_streams.opened"),
        ({"attempted": 8}, "sse_streams.opened"),
        ({"opened": 8}, "sse_streams.attempted"),
        ({**streams(), "closed": 0}, "sse_streams.closed"),
        ([8, 8], "sse_streams"),
    ],
)
def test_validate_sse_streams_rejects(part, field):
    assert errors_of(measurement(sse_streams=part)) == {field}


@pytest.mark.parametrize(("attempted", "opened"), [(1, 0), (1, 1), (16, 16), (16, 0)])
def test_validate_sse_streams_range_ends_accepted(attempted, opened):
    clean = cleaned(sse_streams={"attempted": attempted, "opened": opened})

    assert clean["sse_streams"] == {"attempted": attempted, "opened": opened}


# --- Validation: simulated runs ------------------------------------------------------


def test_validate_real_run_has_no_simulated_key():
    assert "simulated" not in cleaned()


@pytest.mark.parametrize(
    ("simulated", "stored"),
    [
        (["blocked"], ["blocked"]),
        (["buffering"], ["buffering"]),
        (["buffering", "blocked"], ["blocked", "buffering"]),
        ([], []),
    ],
)
def test_validate_simulated_accepted(simulated, stored):
    assert cleaned(simulated=simulated)["simulated"] == stored


@pytest.mark.parametrize(
    "simulated",
    ["blocked", ["slow"], ["blocked", "blocked"], [1], [None], {"blocked": True}, None, [["x"]]],
)
def test_validate_simulated_rejected(simulated):
    assert errors_of(measurement(simulated=simulated)) == {"simulated"}


def test_simulation_notice_says_not_evidence():
    assert simulation_notice(cleaned(simulated=["buffering", "blocked"])) == (
        "Simulated run (blocked, buffering): not evidence about your network."
    )


@pytest.mark.parametrize("parts", [{}, {"simulated": []}])
def test_simulation_notice_none_for_real_run(parts):
    assert simulation_notice(cleaned(**parts)) is None


def test_simulated_run_still_suggests(catalogue):
    # The demonstration shows what the check would say on such a path.
    blocked = {"status": "blocked", "close_code": 1006, "rtt_ms": []}

    assert suggested(catalogue, websocket=blocked, simulated=["blocked"])["middleboxes"] == (
        "strict"
    )


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


# --- Suggestions: the mapping ---------------------------------------------------------


BUFFERED = {"arrivals_ms": [1801.0] * 10}
FAILED = {"status": "failed", "arrivals_ms": []}


def test_suggest_open_path(catalogue):
    assert suggested(catalogue)["middleboxes"] == "open"


def test_suggest_websocket_blocked_is_strict(catalogue):
    blocked = ws(status="blocked", close_code=None, rtt_ms=[])

    assert suggested(catalogue, websocket=blocked)["middleboxes"] == "strict"


def test_suggest_websocket_blocked_is_strict_even_if_sse_buffered(catalogue):
    blocked = ws(status="blocked", close_code=1006, rtt_ms=[])

    assert suggested(catalogue, websocket=blocked, sse=sse(**BUFFERED))["middleboxes"] == "strict"


def test_suggest_websocket_error_is_corporate(catalogue):
    broken = ws(status="error", close_code=1006, rtt_ms=[])

    assert suggested(catalogue, websocket=broken)["middleboxes"] == "corporate"


def test_suggest_sse_buffered_is_corporate(catalogue):
    assert suggested(catalogue, sse=sse(**BUFFERED))["middleboxes"] == "corporate"


def test_suggest_sse_failed_is_corporate(catalogue):
    assert suggested(catalogue, sse=sse(**FAILED))["middleboxes"] == "corporate"


@pytest.mark.parametrize(
    ("part", "value"),
    [({}, "streamed"), (BUFFERED, "buffered"), (FAILED, "buffered")],
)
def test_suggest_stream_buffering(catalogue, part, value):
    if catalogue.question("stream_buffering") is None:
        pytest.skip("the catalogue does not ask stream_buffering yet")
    assert suggested(catalogue, sse=sse(**part))["stream_buffering"] == value


@pytest.mark.parametrize(
    ("version", "value"),
    [
        ("h2", "http2"),
        ("h3", "http2"),
        ("http/2", "http2"),
        ("h2c", "http2"),
        ("http/1.1", "http1"),
        ("http/1.0", "http1"),
    ],
)
def test_suggest_http_version_from_protocol(catalogue, version, value):
    assert suggested(catalogue, http_version=version)["http_version"] == value


def test_suggest_http1_from_stream_limit_when_version_unknown(catalogue):
    limited = streams(attempted=8, opened=6)

    assert suggested(catalogue, http_version="", sse_streams=limited)["http_version"] == "http1"


def test_suggest_no_http_version_when_unknown_and_all_streams_open(catalogue):
    assert "http_version" not in suggested(catalogue, http_version="")


def test_suggest_no_http_version_when_more_than_six_streams_opened(catalogue):
    # Seven of eight is no HTTP/1.1 limit: something else failed one stream.
    partly = streams(attempted=8, opened=7)

    assert "http_version" not in suggested(catalogue, http_version="", sse_streams=partly)


def test_suggest_no_http_version_when_no_stream_opened(catalogue):
    # None at all is streams failing, not a connection limit.
    none = streams(attempted=16, opened=0)

    assert "http_version" not in suggested(catalogue, http_version="", sse_streams=none)


def test_finding_no_stream_opened_not_blamed_on_limit():
    shown = finding("sse_streams", sse_streams=streams(attempted=8, opened=0))

    assert "connection limit (about six" not in shown.meaning
    assert not shown.ok


def test_suggest_protocol_wins_over_stream_count(catalogue):
    limited = streams(attempted=8, opened=6)

    assert suggested(catalogue, http_version="h2", sse_streams=limited)["http_version"] == "http2"


def test_suggestions_use_catalogue_labels(catalogue):
    shown = suggestions(cleaned(), catalogue)

    assert [s.label for s in shown] == [
        catalogue.question(s.question).option(s.value).label for s in shown
    ]


def test_suggestions_name_their_finding(catalogue):
    blocked = ws(status="blocked", close_code=1006, rtt_ms=[])
    shown = suggestions(cleaned(websocket=blocked), catalogue)

    assert shown[0].finding == "WebSocket upgrade blocked"


class WithoutQuestion:
    """A catalogue that does not ask one question (an older version, say)."""

    def __init__(self, catalogue: Catalogue, slug: str) -> None:
        self.catalogue, self.slug = catalogue, slug

    def question(self, slug: str):
        return None if slug == self.slug else self.catalogue.question(slug)


def test_suggestions_skip_questions_the_catalogue_does_not_ask(catalogue):
    older = WithoutQuestion(catalogue, "middleboxes")

    assert "middleboxes" not in {s.question for s in suggestions(cleaned(), older)}
