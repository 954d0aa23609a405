"""Measurements as a browser posts them, for the network check's tests."""

from __future__ import annotations

import copy

from network_check.findings import findings
from network_check.suggestions import suggestions
from network_check.validation import validate_measurement
from questionnaire.catalogue import Catalogue


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


# Blocked WebSocket, buffered SSE (over HTTP/2): suggests strict, buffered, http2.
BLOCKED = {
    "websocket": ws(status="blocked", close_code=1006, rtt_ms=[]),
    "sse": sse(arrivals_ms=[1802.0] * 10),
}


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
