from __future__ import annotations

import pytest

from network_check.suggestions import suggestions
from questionnaire.catalogue import Catalogue

from .measurements import cleaned, sse, streams, suggested, ws

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

    def measured_by(self, check: str):
        return tuple(q for q in self.catalogue.measured_by(check) if q.slug != self.slug)


def test_suggestions_skip_questions_the_catalogue_does_not_ask(catalogue):
    older = WithoutQuestion(catalogue, "middleboxes")

    assert "middleboxes" not in {s.question for s in suggestions(cleaned(), older)}
