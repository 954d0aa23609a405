from __future__ import annotations

import copy
import json

import pytest

from questionnaire.catalogue import (
    CATALOGUE_DIR,
    CatalogueError,
    available_versions,
    get_catalogue,
    parse_catalogue,
)
from questionnaire.scoring import evaluate

# The first published questionnaire: section -> question -> options, in order.
QUESTIONNAIRE_1 = {
    "interactivity": {
        "client_messages": ("none", "occasional", "frequent"),
        "upstream_latency": ("relaxed", "interactive", "realtime"),
        "interaction_pattern": ("broadcast", "personal", "collaborative"),
    },
    "network": {
        "middleboxes": ("open", "corporate", "strict", "unknown"),
        "http_version": ("http2", "http1", "unknown"),
        "hosting": ("long_running", "paas", "serverless"),
        "load_balancer": ("upgrade_ok", "http_only", "unknown"),
    },
    "payload": {
        "payload_format": ("text", "binary", "mixed"),
        "message_rate": ("low", "medium", "high"),
    },
    "overhead": {
        "team_experience": ("new", "some", "expert"),
        "delivery": ("best_effort", "must_resume"),
        "auth": ("cookie", "token", "none"),
        "clients": ("browser", "mobile", "devices"),
        "scale": ("small", "medium", "large"),
    },
}
# Version 2 adds one optional question, answered by the network check.
QUESTIONNAIRE_2 = copy.deepcopy(QUESTIONNAIRE_1)
QUESTIONNAIRE_2["network"] = {
    "middleboxes": ("open", "corporate", "strict", "unknown"),
    "http_version": ("http2", "http1", "unknown"),
    "stream_buffering": ("streamed", "buffered", "unknown"),
    "hosting": ("long_running", "paas", "serverless"),
    "load_balancer": ("upgrade_ok", "http_only", "unknown"),
}
# Version 3 adds another optional one: does the server command clients and wait?
QUESTIONNAIRE = copy.deepcopy(QUESTIONNAIRE_2)
QUESTIONNAIRE["interactivity"]["server_commands"] = ("no", "later", "seconds")

CATALOGUE = get_catalogue()
OPTIONS = [
    pytest.param(question, option, id=f"{question.slug}={option.value}")
    for question in CATALOGUE.questions
    for option in question.options
]


def _data(version: str = CATALOGUE.version) -> dict:
    """A fresh copy of a published document (the current one by default), safe to break."""
    return json.loads((CATALOGUE_DIR / f"{version}.json").read_text(encoding="utf-8"))


def _question(data: dict, slug: str) -> dict:
    return next(
        question
        for section in data["sections"]
        for question in section["questions"]
        if question["slug"] == slug
    )


def _caveat(data: dict, slug: str) -> dict:
    return next(caveat for caveat in data["caveats"] if caveat["slug"] == slug)


# --- The published catalogue ---------------------------------------------------------


def test_catalogue_sections_in_order():
    assert [section.slug for section in CATALOGUE.sections] == list(QUESTIONNAIRE)


def test_catalogue_has_exactly_the_specified_questions():
    assert {
        section.slug: {question.slug: question.values for question in section.questions}
        for section in CATALOGUE.sections
    } == QUESTIONNAIRE


def test_catalogue_has_sixteen_questions():
    assert len(CATALOGUE.questions) == 16


def test_second_catalogue_keeps_its_fifteen_questions():
    second = get_catalogue("2")

    assert {
        section.slug: {question.slug: question.values for question in section.questions}
        for section in second.sections
    } == QUESTIONNAIRE_2


def test_first_catalogue_keeps_its_fourteen_questions():
    first = get_catalogue("1")

    assert {
        section.slug: {question.slug: question.values for question in section.questions}
        for section in first.sections
    } == QUESTIONNAIRE_1


def test_first_catalogue_has_no_optional_question():
    assert not any(question.optional for question in get_catalogue("1").questions)


def test_catalogue_version_3_is_current():
    assert (CATALOGUE.version, CATALOGUE.published) == ("3", "2026-11-30")


# --- The optional question -------------------------------------------------------------


def test_stream_buffering_is_optional_with_not_measured_default():
    question = CATALOGUE.question("stream_buffering")

    assert (question.optional, question.default, question.option("unknown").label) == (
        True,
        "unknown",
        "Not measured",
    )


def test_stream_buffering_comes_after_http_version():
    slugs = [question.slug for question in CATALOGUE.section("network").questions]

    assert slugs.index("stream_buffering") == slugs.index("http_version") + 1


def test_stream_buffering_only_buffered_weighs():
    question = CATALOGUE.question("stream_buffering")

    assert {option.value: dict(option.points) for option in question.options} == {
        "streamed": {"websocket": 0, "sse": 0},
        "buffered": {"websocket": 6, "sse": 0},
        "unknown": {"websocket": 0, "sse": 0},
    }


def test_stream_buffering_cites_the_proxy_notes():
    sources = {option.source.slug for option in CATALOGUE.question("stream_buffering").options}

    assert sources <= {"whatwg-sse-proxy", "nginx-buffering"}


def test_server_commands_is_optional_with_no_as_default():
    question = CATALOGUE.question("server_commands")

    assert (question.optional, question.default, question.option("no").points) == (
        True,
        "no",
        {"websocket": 0, "sse": 0},
    )


def test_other_questions_are_required_without_default():
    optional = {"stream_buffering", "server_commands"}
    others = [question for question in CATALOGUE.questions if question.slug not in optional]

    assert {(question.optional, question.default) for question in others} == {(False, None)}


def test_with_defaults_fills_a_left_out_optional_question():
    assert CATALOGUE.with_defaults({"scale": "small"}) == {
        "scale": "small",
        "stream_buffering": "unknown",
        "server_commands": "no",
    }


def test_with_defaults_keeps_a_given_optional_answer():
    answers = {"stream_buffering": "buffered", "server_commands": "seconds"}

    assert CATALOGUE.with_defaults(answers) == answers


def test_with_defaults_returns_a_new_dict():
    answers = {"scale": "small"}

    CATALOGUE.with_defaults(answers)

    assert answers == {"scale": "small"}


def test_with_defaults_of_first_catalogue_adds_nothing():
    assert get_catalogue("1").with_defaults({"scale": "small"}) == {"scale": "small"}


def test_sse_buffered_caveat_cites_a_source():
    caveat = next(rule for rule in CATALOGUE.caveats if rule.slug == "sse-buffered")

    assert (dict(caveat.when), caveat.source.slug) == (
        {"recommendation": frozenset({"sse"}), "stream_buffering": frozenset({"buffered"})},
        "nginx-buffering",
    )


def test_sse_checklist_raises_idle_timeouts_above_the_heartbeat():
    implementation = CATALOGUE.checklists["sse"].implementation

    assert any("idle" in item and "heartbeat interval" in item for item in implementation)


@pytest.mark.parametrize(("stream_buffering", "shown"), [("buffered", False), ("unknown", True)])
def test_proxy_buffering_caveat_gives_way_to_the_measured_one(stream_buffering, shown):
    # A measured buffering proxy gets the firmer caveat; "may buffer" would repeat it.
    answers = {
        **CATALOGUE.preset("notifications").answers,
        "stream_buffering": stream_buffering,
    }

    slugs = {caveat.slug for caveat in evaluate(CATALOGUE, answers).caveats}

    assert ("proxy-buffering" in slugs, "sse-buffered" in slugs) == (shown, not shown)


def test_catalogue_question_knows_its_section():
    assert CATALOGUE.question("hosting").section == "network"


def test_catalogue_unknown_question_is_none():
    assert CATALOGUE.question("nope") is None


@pytest.mark.parametrize(("question", "option"), OPTIONS)
def test_option_has_points_for_both_transports(question, option):
    assert set(option.points) == {"websocket", "sse"}


@pytest.mark.parametrize(("question", "option"), OPTIONS)
def test_option_has_reason(question, option):
    assert option.reason.strip()


@pytest.mark.parametrize(("question", "option"), OPTIONS)
def test_option_source_is_https(question, option):
    assert option.source.url.startswith("https://")


@pytest.mark.parametrize("caveat", CATALOGUE.caveats, ids=lambda caveat: caveat.slug)
def test_caveat_source_is_https(caveat):
    assert caveat.source is not None
    assert caveat.source.url.startswith("https://")


def test_catalogue_tie_break_is_a_transport():
    assert CATALOGUE.tie_break in {"websocket", "sse"}


def test_catalogue_margins_ordered():
    assert 0 < CATALOGUE.moderate_margin < CATALOGUE.strong_margin < 1


# --- parse_catalogue ----------------------------------------------------------------------


@pytest.mark.parametrize("version", available_versions())
def test_parse_catalogue_accepts_every_published_file(version):
    assert parse_catalogue(_data(version)).version == version


@pytest.mark.parametrize("default", ["sometimes", None, ["unknown"], 3])
def test_parse_catalogue_optional_default_not_an_option(default):
    data = _data()
    _question(data, "stream_buffering")["default"] = default

    with pytest.raises(CatalogueError, match="stream_buffering: default"):
        parse_catalogue(data)


def test_parse_catalogue_optional_without_default():
    data = _data()
    del _question(data, "stream_buffering")["default"]

    with pytest.raises(CatalogueError, match="stream_buffering: default None"):
        parse_catalogue(data)


@pytest.mark.parametrize("optional", ["yes", 1, None])
def test_parse_catalogue_optional_not_a_bool(optional):
    data = _data()
    _question(data, "stream_buffering")["optional"] = optional

    with pytest.raises(CatalogueError, match="stream_buffering: optional must be true or false"):
        parse_catalogue(data)


def test_parse_catalogue_default_on_a_required_question():
    data = _data()
    _question(data, "hosting")["default"] = "paas"

    with pytest.raises(CatalogueError, match="hosting: only an optional question has a default"):
        parse_catalogue(data)


def test_parse_catalogue_optional_false_is_required():
    data = _data()
    question = _question(data, "stream_buffering")
    question["optional"] = False
    del question["default"]

    assert not parse_catalogue(data).question("stream_buffering").optional


def test_parse_catalogue_unknown_source():
    data = _data()
    data["sections"][0]["questions"][0]["options"][0]["source"] = "nope"

    with pytest.raises(CatalogueError, match="nope"):
        parse_catalogue(data)


def test_parse_catalogue_unknown_caveat_source():
    data = _data()
    _caveat(data, "proxy-buffering")["source"] = "nope"

    with pytest.raises(CatalogueError, match="nope"):
        parse_catalogue(data)


def test_parse_catalogue_duplicate_question():
    data = _data()
    questions = data["sections"][0]["questions"]
    questions[1]["slug"] = questions[0]["slug"]

    with pytest.raises(CatalogueError, match="duplicate"):
        parse_catalogue(data)


def test_parse_catalogue_duplicate_question_across_sections():
    data = _data()
    data["sections"][3]["questions"].append(copy.deepcopy(data["sections"][0]["questions"][0]))

    with pytest.raises(CatalogueError, match="duplicate"):
        parse_catalogue(data)


def test_parse_catalogue_caveat_names_unknown_question():
    data = _data()
    _caveat(data, "proxy-buffering")["when"]["colour"] = ["blue"]

    with pytest.raises(CatalogueError, match="colour"):
        parse_catalogue(data)


def test_parse_catalogue_caveat_names_unknown_option():
    data = _data()
    _caveat(data, "http1-connection-limit")["when"]["http_version"] = ["http1", "http4"]

    with pytest.raises(CatalogueError, match="http4"):
        parse_catalogue(data)


def test_parse_catalogue_caveat_names_unknown_recommendation():
    data = _data()
    _caveat(data, "proxy-buffering")["when"]["recommendation"] = ["long-polling"]

    with pytest.raises(CatalogueError, match="long-polling"):
        parse_catalogue(data)


def test_parse_catalogue_preset_answer_not_an_option():
    data = _data()
    data["presets"][0]["answers"]["client_messages"] = "sometimes"

    with pytest.raises(CatalogueError, match="sometimes"):
        parse_catalogue(data)


def test_parse_catalogue_preset_answer_unknown_question():
    data = _data()
    data["presets"][0]["answers"]["colour"] = "blue"

    with pytest.raises(CatalogueError, match="colour"):
        parse_catalogue(data)


def test_parse_catalogue_negative_points():
    data = _data()
    data["sections"][0]["questions"][0]["options"][0]["points"]["websocket"] = -1

    with pytest.raises(CatalogueError, match="non-negative"):
        parse_catalogue(data)


def test_parse_catalogue_points_missing_a_transport():
    data = _data()
    del data["sections"][0]["questions"][0]["options"][0]["points"]["sse"]

    with pytest.raises(CatalogueError):
        parse_catalogue(data)


def test_parse_catalogue_interaction_names_unknown_option():
    data = _data()
    data["interactions"][0]["answer"] = "constantly"

    with pytest.raises(CatalogueError, match="constantly"):
        parse_catalogue(data)


def test_parse_catalogue_missing_key_is_catalogue_error():
    data = _data()
    del data["tie_break"]

    with pytest.raises(CatalogueError):
        parse_catalogue(data)


def test_parse_catalogue_unknown_tie_break():
    data = _data()
    data["tie_break"] = "long-polling"

    with pytest.raises(CatalogueError, match="tie_break"):
        parse_catalogue(data)


def _pattern(data: dict, slug: str) -> dict:
    return next(pattern for pattern in data["patterns"] if pattern["slug"] == slug)


@pytest.mark.parametrize(
    ("slug", "checklists"),
    [
        ("websocket-with-fallback", ("websocket", "sse")),
        ("websocket-hybrid-broadcast", ("websocket", "sse")),
        ("sse-hybrid-websocket", ("sse", "websocket")),
        ("sse-hybrid-collaborative", ("sse", "websocket")),
        ("websocket-with-resume", ()),
        ("sse-with-post", ()),
        ("sse", ()),
    ],
)
def test_catalogue_pattern_checklists(slug, checklists):
    assert CATALOGUE.pattern(slug).checklists == checklists


def test_catalogue_unknown_pattern_is_none():
    assert CATALOGUE.pattern("carrier-pigeon") is None


def test_parse_catalogue_pattern_checklists_default_to_none_listed():
    data = _data()
    del _pattern(data, "websocket-with-fallback")["checklists"]

    assert parse_catalogue(data).pattern("websocket-with-fallback").checklists == ()


def test_parse_catalogue_pattern_checklist_unknown_transport():
    data = _data()
    _pattern(data, "websocket-with-fallback")["checklists"] = ["websocket", "long-polling"]

    with pytest.raises(CatalogueError, match="websocket-with-fallback"):
        parse_catalogue(data)


def test_parse_catalogue_pattern_checklist_twice():
    data = _data()
    _pattern(data, "websocket-with-fallback")["checklists"] = ["websocket", "websocket"]

    with pytest.raises(CatalogueError, match="distinct"):
        parse_catalogue(data)


def test_parse_catalogue_pattern_checklists_leave_out_the_recommended():
    data = _data()
    _pattern(data, "websocket-with-fallback")["checklists"] = ["sse"]

    with pytest.raises(CatalogueError, match="include the recommended websocket"):
        parse_catalogue(data)


def test_parse_catalogue_pattern_checklists_not_a_list():
    data = _data()
    _pattern(data, "websocket-with-fallback")["checklists"] = "websocket"

    with pytest.raises(CatalogueError, match="list of transports"):
        parse_catalogue(data)


# --- Loading ------------------------------------------------------------------------------------


def test_get_catalogue_is_cached():
    assert get_catalogue() is get_catalogue()


def test_get_catalogue_version_is_cached():
    assert get_catalogue("1") is get_catalogue("1")


def test_get_catalogue_unknown_version():
    with pytest.raises(CatalogueError, match="nope"):
        get_catalogue("nope")


def test_get_catalogue_default_is_newest():
    assert get_catalogue().version == available_versions()[-1]


def test_available_versions_include_first():
    assert "1" in available_versions()


# --- measured_by: questions a check can answer ------------------------------------------


def test_network_check_answers_the_network_questions():
    assert [q.slug for q in CATALOGUE.measured_by("network")] == [
        "middleboxes",
        "http_version",
        "stream_buffering",
    ]


def test_first_catalogue_network_check_answers_its_two():
    assert [q.slug for q in get_catalogue("1").measured_by("network")] == [
        "middleboxes",
        "http_version",
    ]


def test_measured_by_parsed():
    measured = CATALOGUE.question("middleboxes").measured_by

    assert (measured.check, measured.measure, measured.outcomes["websocket_blocked"]) == (
        "network",
        "path",
        "strict",
    )


def test_section_names_the_checks_that_answer_it():
    assert {section.slug: section.checks for section in CATALOGUE.sections} == {
        "interactivity": (),
        "network": ("network",),
        "payload": (),
        "overhead": (),
    }


def test_measured_by_to_an_unknown_option_refused():
    data = _data()
    _question(data, "middleboxes")["measured_by"]["outcomes"]["open"] = "wide_open"

    with pytest.raises(CatalogueError, match="unknown options"):
        parse_catalogue(data)


@pytest.mark.parametrize(
    "measured_by",
    [
        {"check": "network", "measure": "path"},
        {"check": 1, "measure": "path", "outcomes": {}},
        {"check": "network", "measure": "path", "outcomes": ["open"]},
        {"check": "network", "measure": "path", "outcomes": {"open": 1}},
    ],
)
def test_malformed_measured_by_refused(measured_by):
    data = _data()
    _question(data, "middleboxes")["measured_by"] = measured_by

    with pytest.raises(CatalogueError):
        parse_catalogue(data)


def test_measured_by_does_not_change_scoring():
    # The mapping is for suggestions only: a catalogue without it scores alike.
    data = _data()
    for section in data["sections"]:
        for question in section["questions"]:
            question.pop("measured_by", None)
    bare = parse_catalogue(data)
    for preset in CATALOGUE.presets:
        answers = dict(preset.answers)
        assert evaluate(bare, answers).to_dict() == evaluate(CATALOGUE, answers).to_dict()
