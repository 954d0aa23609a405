from __future__ import annotations

import json

import pytest

from network_check.suggestions import MEASURES, OUTCOMES, catalogue_problems, suggestions
from questionnaire.catalogue import (
    CATALOGUE_DIR,
    Catalogue,
    available_versions,
    get_catalogue,
    parse_catalogue,
)

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


# --- Suggestions: the catalogue's mapping (measured_by) ---------------------------------


def catalogue_with(change, version: str = "2") -> Catalogue:
    """A published catalogue's document, changed by ``change``, parsed as the app parses it."""
    data = json.loads((CATALOGUE_DIR / f"{version}.json").read_text(encoding="utf-8"))
    change({q["slug"]: q for section in data["sections"] for q in section["questions"]})
    return parse_catalogue(data)


BLOCKED_WS = {"websocket": {"status": "blocked", "close_code": 1006, "rtt_ms": []}}


def test_suggestion_follows_a_remapped_outcome():
    def remap(questions):
        questions["middleboxes"]["measured_by"]["outcomes"]["websocket_blocked"] = "unknown"

    assert suggested(catalogue_with(remap), **BLOCKED_WS)["middleboxes"] == "unknown"


def test_unmapped_outcome_suggests_nothing_for_that_question():
    def unmap(questions):
        del questions["middleboxes"]["measured_by"]["outcomes"]["websocket_blocked"]

    shown = suggested(catalogue_with(unmap), **BLOCKED_WS)

    assert ("middleboxes" in shown, shown["stream_buffering"]) == (False, "streamed")


def test_question_without_measured_by_gets_no_suggestion():
    def drop(questions):
        del questions["http_version"]["measured_by"]

    assert "http_version" not in suggested(catalogue_with(drop))


def test_any_question_may_take_a_measure():
    # The data decides which question a measure answers, not a list in the code.
    def measure_load_balancer(questions):
        questions["load_balancer"]["measured_by"] = {
            "check": "network",
            "measure": "path",
            "outcomes": {"websocket_blocked": "http_only", "open": "upgrade_ok"},
        }

    catalogue = catalogue_with(measure_load_balancer)
    open_path = suggested(catalogue)["load_balancer"]
    blocked = suggested(catalogue, **BLOCKED_WS)["load_balancer"]

    assert (open_path, blocked) == ("upgrade_ok", "http_only")


def test_another_checks_questions_are_not_this_checks():
    def other_check(questions):
        questions["middleboxes"]["measured_by"]["check"] = "something-else"

    assert "middleboxes" not in suggested(catalogue_with(other_check))


def test_suggestions_follow_the_catalogues_order(catalogue):
    shown = [s.question for s in suggestions(cleaned(), catalogue)]

    assert shown == [q.slug for q in catalogue.measured_by("network")]


def test_first_catalogue_suggests_no_stream_buffering():
    # Version 1 does not ask it; its other answers are suggested as in version 2.
    first = get_catalogue("1")

    assert suggested(first, sse=sse(arrivals_ms=[1801.0] * 10)) == {
        "middleboxes": "corporate",
        "http_version": "http2",
    }


def test_published_catalogues_name_only_known_measures_and_outcomes():
    assert {v: catalogue_problems(get_catalogue(v)) for v in available_versions()} == {
        v: [] for v in available_versions()
    }


def test_every_outcome_of_the_published_mapping_is_mapped(catalogue):
    # Nothing measured goes unsaid: each outcome a measure reports has an answer.
    for question in catalogue.measured_by("network"):
        assert set(question.measured_by.outcomes) == set(OUTCOMES[question.measured_by.measure])


def test_unknown_measure_and_outcome_are_problems():
    def misname(questions):
        questions["middleboxes"]["measured_by"]["measure"] = "telepathy"
        questions["http_version"]["measured_by"]["outcomes"]["http4"] = "http2"

    assert catalogue_problems(catalogue_with(misname)) == [
        "middleboxes: unknown measure 'telepathy'",
        "http_version: protocol has no outcome 'http4'",
    ]


@pytest.mark.parametrize("measure", sorted(MEASURES))
def test_each_measure_reports_only_its_listed_outcomes(measure):
    documents = [
        cleaned(),
        cleaned(**BLOCKED_WS),
        cleaned(websocket=ws(status="error", close_code=1006, rtt_ms=[])),
        cleaned(sse=sse(arrivals_ms=[1801.0] * 10)),
        cleaned(sse=sse(status="failed", arrivals_ms=[])),
        cleaned(http_version="http/1.1"),
        cleaned(http_version="", sse_streams=streams(attempted=8, opened=6)),
        cleaned(http_version=""),
    ]
    reported = {outcome.name for doc in documents if (outcome := MEASURES[measure](doc))}

    assert reported == set(OUTCOMES[measure])
