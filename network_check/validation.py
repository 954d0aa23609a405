"""The network check's measurement as the browser posts it: what is accepted, cleaned.

The browser measures the path between itself and this advisor server (a
WebSocket upgrade with pings, a burst of SSE events, the HTTP version, several
event streams at once) and posts the figures. This module only judges that
document: plain functions, no ORM, no request, no settings.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping

from advisor.json_fields import (
    bounded_integer,
    json_integer,
    listed,
    required_object,
    unknown_keys,
)

FIELDS = ("websocket", "sse", "http_version", "sse_streams")
# Sent only by a run whose probes were told to misbehave (the page's ?simulate=),
# and by a run whose SSE probe went through the proxy's buffering location
# (via, with the receipt the probe gave: network_check/via.py checks it).
OPTIONAL_FIELDS = ("simulated", "via", "via_receipt")
SIMULATIONS = ("blocked", "buffering")
VIAS = ("buffering-proxy",)
MAX_RECEIPT_LENGTH = 200
WEBSOCKET_FIELDS = ("status", "close_code", "rtt_ms")
SSE_FIELDS = ("status", "events_expected", "interval_ms", "arrivals_ms")
SSE_STREAMS_FIELDS = ("attempted", "opened")
WEBSOCKET_STATUSES = ("ok", "blocked", "error")
SSE_STATUSES = ("ok", "failed")
MAX_MS = 60_000
MAX_RTT_SAMPLES = 100
EVENTS_RANGE = (2, 50)
INTERVAL_RANGE = (50, 1000)
STREAMS_RANGE = (1, 16)
MAX_CLOSE_CODE = 4999
MAX_HTTP_VERSION_LENGTH = 32


def validate_measurement(doc: object) -> tuple[dict | None, dict[str, str]]:
    """(the cleaned document, {}) or (None, every problem keyed by dotted field)."""
    if not isinstance(doc, Mapping):
        return None, {"measurement": "must be an object"}
    errors: dict[str, str] = {}
    unknown_keys(doc, (*FIELDS, *OPTIONAL_FIELDS), "", errors)
    clean: dict = {}
    for key in FIELDS:
        if key not in doc:
            errors[key] = "required"
    if "websocket" in doc:
        clean["websocket"] = _websocket(doc["websocket"], errors)
    if "sse" in doc:
        clean["sse"] = _sse(doc["sse"], errors)
    if "http_version" in doc:
        clean["http_version"] = _http_version(doc["http_version"], errors)
    if "sse_streams" in doc:
        clean["sse_streams"] = _sse_streams(doc["sse_streams"], errors)
    if "simulated" in doc:
        clean["simulated"] = _simulated(doc["simulated"], errors)
    if "via" in doc or "via_receipt" in doc:
        clean.update(_via(doc, clean.get("simulated") or [], errors))
    if errors:
        return None, errors
    return clean, {}


def _websocket(value: object, errors: dict[str, str]) -> dict | None:
    part = required_object(value, "websocket", WEBSOCKET_FIELDS, errors)
    if part is None:
        return None
    status = _choice(part, "websocket", "status", WEBSOCKET_STATUSES, errors)
    close_code = part.get("close_code")
    if close_code is not None and json_integer(close_code, 0, MAX_CLOSE_CODE) is None:
        errors["websocket.close_code"] = (
            f"must be a whole number from 0 to {MAX_CLOSE_CODE}, or null"
        )
    rtt = _milliseconds(part, "websocket", "rtt_ms", MAX_RTT_SAMPLES, errors)
    if status == "ok" and rtt == []:
        errors["websocket.rtt_ms"] = "needs at least one round trip when the status is ok"
    return {"status": status, "close_code": close_code, "rtt_ms": rtt}


def _sse(value: object, errors: dict[str, str]) -> dict | None:
    part = required_object(value, "sse", SSE_FIELDS, errors)
    if part is None:
        return None
    status = _choice(part, "sse", "status", SSE_STATUSES, errors)
    expected = bounded_integer(part, "sse", "events_expected", EVENTS_RANGE, errors)
    interval = bounded_integer(part, "sse", "interval_ms", INTERVAL_RANGE, errors)
    arrivals = _milliseconds(
        part, "sse", "arrivals_ms", expected if expected is not None else EVENTS_RANGE[1], errors
    )
    if arrivals and any(later < earlier for earlier, later in itertools.pairwise(arrivals)):
        errors["sse.arrivals_ms"] = "must not decrease: each event arrives after the one before"
    return {
        "status": status,
        "events_expected": expected,
        "interval_ms": interval,
        "arrivals_ms": arrivals,
    }


def _http_version(value: object, errors: dict[str, str]) -> str | None:
    if not isinstance(value, str):
        errors["http_version"] = 'must be a string such as "h2" or "http/1.1" ("" when unknown)'
        return None
    if len(value) > MAX_HTTP_VERSION_LENGTH:
        errors["http_version"] = f"must be at most {MAX_HTTP_VERSION_LENGTH} characters"
        return None
    if not value.isascii() or not value.isprintable():
        errors["http_version"] = "must be printable ASCII, as browsers report protocol names"
        return None
    return value.strip()


def _sse_streams(value: object, errors: dict[str, str]) -> dict | None:
    part = required_object(value, "sse_streams", SSE_STREAMS_FIELDS, errors)
    if part is None:
        return None
    attempted = bounded_integer(part, "sse_streams", "attempted", STREAMS_RANGE, errors)
    opened = bounded_integer(
        part, "sse_streams", "opened", (0, attempted or STREAMS_RANGE[1]), errors
    )
    if attempted is None and opened is not None:
        # Without a valid attempted count, opened cannot be judged against it.
        opened = None
    return {"attempted": attempted, "opened": opened}


def _simulated(value: object, errors: dict[str, str]) -> list[str] | None:
    expected = f"must be a list of distinct simulations, each one of {', '.join(SIMULATIONS)}"
    if (
        not isinstance(value, list)
        or not all(isinstance(item, str) and item in SIMULATIONS for item in value)
        or len(set(value)) != len(value)
    ):
        errors["simulated"] = expected
        return None
    # One order, so that the same simulations always read the same.
    return [name for name in SIMULATIONS if name in value]


def _via(doc: Mapping, simulated: list[str], errors: dict[str, str]) -> dict:
    """`via` and the `via_receipt` that must come with it (checked for its signature
    by the API, which knows the key)."""
    via, given = doc.get("via"), doc.get("via_receipt")
    if via not in VIAS:
        errors["via"] = f"must be {listed(VIAS)}, with via_receipt"
        return {}
    if not isinstance(given, str) or not 0 < len(given) <= MAX_RECEIPT_LENGTH:
        errors["via_receipt"] = (
            "must be the receipt the SSE probe sent in its done event (a string of at most "
            f"{MAX_RECEIPT_LENGTH} characters)"
        )
        return {}
    if "buffering" in simulated:
        errors["via"] = "a run through a real proxy cannot also simulate one (simulated)"
        return {}
    return {"via": via, "via_receipt": given}


def _choice(
    part: Mapping, name: str, key: str, choices: tuple[str, ...], errors: dict[str, str]
) -> str | None:
    if key not in part:
        return None
    value = part[key]
    if value not in choices or not isinstance(value, str):
        errors[f"{name}.{key}"] = f"must be one of {', '.join(choices)}"
        return None
    return value


def _milliseconds(
    part: Mapping, name: str, key: str, most: int, errors: dict[str, str]
) -> list[float | int] | None:
    if key not in part:
        return None
    values = part[key]
    field = f"{name}.{key}"
    if not isinstance(values, list):
        errors[field] = f"must be a list of milliseconds, each from 0 to {MAX_MS}"
        return None
    if len(values) > most:
        errors[field] = f"must hold at most {most} values"
        return None
    for index, value in enumerate(values):
        # NaN and the infinities fail the range test, as they should.
        if type(value) not in (int, float) or not 0 <= value <= MAX_MS:
            errors[field] = f"item {index} must be a number of milliseconds from 0 to {MAX_MS}"
            return None
    return list(values)
