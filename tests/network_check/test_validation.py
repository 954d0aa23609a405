from __future__ import annotations

import math

import pytest

from network_check.findings import simulation_notice
from network_check.validation import validate_measurement

from .measurements import cleaned, errors_of, measurement, sse, streams, suggested, ws

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
