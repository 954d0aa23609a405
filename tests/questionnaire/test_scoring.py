from __future__ import annotations

import itertools
import json
import random
from dataclasses import replace

import pytest

from questionnaire.catalogue import CATALOGUE_DIR, get_catalogue, parse_catalogue
from questionnaire.scoring import (
    contributions,
    evaluate,
    find_flips,
    net_score,
    validate_answers,
    verdict,
)

CATALOGUE = get_catalogue()

# The eight built-in use cases and the transport each must get, written here
# rather than read from the catalogue so that a data change that turns a use
# case around fails.
USE_CASES = {
    "collaborative-editing": "websocket",
    "chat": "websocket",
    "trading": "websocket",
    "iot-control": "websocket",
    "activity-feed": "sse",
    "notifications": "sse",
    "order-tracking": "sse",
    "dashboard": "sse",
}

# The cases below leave out the optional question (stream_buffering), as a
# version 1 client would: it counts as its default, "unknown".

# A clear WebSocket case whose other answers trigger no caveat: continuous
# real-time collaboration on an open, modern path.
WEBSOCKET_CASE = {
    "client_messages": "frequent",
    "upstream_latency": "realtime",
    "interaction_pattern": "collaborative",
    "middleboxes": "open",
    "http_version": "http2",
    "hosting": "long_running",
    "load_balancer": "upgrade_ok",
    "payload_format": "text",
    "message_rate": "medium",
    "team_experience": "expert",
    "delivery": "best_effort",
    "auth": "cookie",
    "clients": "browser",
    "scale": "medium",
}

# A clear SSE case whose other answers trigger no caveat: a read-only broadcast
# over HTTP/2 on an open path.
SSE_CASE = {
    "client_messages": "none",
    "upstream_latency": "relaxed",
    "interaction_pattern": "broadcast",
    "middleboxes": "open",
    "http_version": "http2",
    "hosting": "long_running",
    "load_balancer": "upgrade_ok",
    "payload_format": "text",
    "message_rate": "low",
    "team_experience": "some",
    "delivery": "best_effort",
    "auth": "cookie",
    "clients": "browser",
    "scale": "medium",
}

# Per caveat: answers that must raise it, and answers that must not.
CAVEAT_CASES = {
    "http1-connection-limit": (
        {**SSE_CASE, "http_version": "http1"},
        SSE_CASE,
    ),
    "proxy-buffering": (
        {**SSE_CASE, "middleboxes": "corporate"},
        SSE_CASE,
    ),
    "upgrade-blocked": (
        {**WEBSOCKET_CASE, "middleboxes": "unknown"},
        WEBSOCKET_CASE,
    ),
    "base64-overhead": (
        {**SSE_CASE, "payload_format": "mixed"},
        SSE_CASE,
    ),
    "token-auth-sse": (
        {**SSE_CASE, "auth": "token"},
        {**WEBSOCKET_CASE, "auth": "token"},
    ),
    "token-auth-websocket": (
        {**WEBSOCKET_CASE, "auth": "token"},
        {**SSE_CASE, "auth": "token"},
    ),
    "request-timeouts": (
        {**SSE_CASE, "hosting": "paas"},
        SSE_CASE,
    ),
    "serverless-websocket": (
        {**WEBSOCKET_CASE, "hosting": "serverless"},
        {**SSE_CASE, "hosting": "serverless"},
    ),
    "balancer-upgrade": (
        {**WEBSOCKET_CASE, "load_balancer": "http_only"},
        WEBSOCKET_CASE,
    ),
    "build-resume": (
        {**WEBSOCKET_CASE, "delivery": "must_resume"},
        WEBSOCKET_CASE,
    ),
    "upstream-over-http": (
        {**SSE_CASE, "client_messages": "occasional"},
        SSE_CASE,
    ),
    "mobile-battery": (
        {**SSE_CASE, "clients": "mobile"},
        WEBSOCKET_CASE,
    ),
    "sse-non-browser": (
        {**SSE_CASE, "clients": "devices"},
        SSE_CASE,
    ),
    "sse-replay": (
        {**SSE_CASE, "delivery": "must_resume"},
        {**WEBSOCKET_CASE, "delivery": "must_resume"},
    ),
    "serverless-sse": (
        {**SSE_CASE, "hosting": "serverless"},
        SSE_CASE,
    ),
    "high-rate-sse": (
        {**SSE_CASE, "message_rate": "high"},
        SSE_CASE,
    ),
    "connections-at-scale": (
        {**SSE_CASE, "scale": "large"},
        SSE_CASE,
    ),
    "sse-buffered": (
        {**SSE_CASE, "stream_buffering": "buffered"},
        {**SSE_CASE, "stream_buffering": "streamed"},
    ),
}

# Combinations that decide the choice on their own: mild answers must not outvote them.
DECISIVE = {
    "continuous-realtime-input": {"client_messages": "frequent", "upstream_latency": "realtime"},
    "binary-at-high-rate": {"payload_format": "binary", "message_rate": "high"},
}

MILD_SSE_ADVANTAGE = 3

REALTIME_INPUT = {"client_messages": "frequent", "upstream_latency": "realtime"}
RELAXED_INPUT = {"client_messages": "frequent", "upstream_latency": "relaxed"}


def _random_answer_sets(seed: int, count: int) -> list[dict[str, str]]:
    rng = random.Random(seed)
    return [
        {question.slug: rng.choice(question.values) for question in CATALOGUE.questions}
        for _ in range(count)
    ]


FLIP_CASES = [
    *(pytest.param(dict(preset.answers), id=preset.slug) for preset in CATALOGUE.presets),
    *(
        pytest.param(answers, id=f"random-{index}")
        for index, answers in enumerate(_random_answer_sets(seed=20261125, count=40))
    ),
]


def _smallest_flip_by_brute_force(
    answers: dict[str, str], max_size: int = 3, catalogue=CATALOGUE
) -> int | None:
    """Size of the smallest set of changes that reverses the verdict, or None."""
    # A left-out optional question may be changed from its default like any answer.
    answers = catalogue.with_defaults(answers)
    recommendation = evaluate(catalogue, answers, with_flips=False).recommendation
    questions = [question for question in catalogue.questions if question.slug in answers]
    for size in range(1, max_size + 1):
        for chosen in itertools.combinations(questions, size):
            alternatives = [
                [value for value in question.values if value != answers[question.slug]]
                for question in chosen
            ]
            for values in itertools.product(*alternatives):
                trial = {
                    **answers,
                    **{
                        question.slug: value
                        for question, value in zip(chosen, values, strict=True)
                    },
                }
                if evaluate(catalogue, trial, with_flips=False).recommendation != recommendation:
                    return size
    return None


def _apply(answers: dict[str, str], flip) -> dict[str, str]:
    return {**answers, **{change.question.slug: change.after for change in flip.changes}}


def _catalogue_with(**changes):
    return replace(CATALOGUE, **changes)


# --- Seed use cases -------------------------------------------------------------


def test_presets_cover_every_use_case():
    assert {preset.slug for preset in CATALOGUE.presets} == set(USE_CASES)


@pytest.mark.parametrize(("slug", "transport"), USE_CASES.items())
def test_evaluate_preset_matches_use_case(slug, transport):
    preset = CATALOGUE.preset(slug)

    assert evaluate(CATALOGUE, preset.answers).recommendation == transport


# --- Decisive answers -----------------------------------------------------------


@pytest.mark.parametrize("decisive", DECISIVE.values(), ids=DECISIVE.keys())
def test_evaluate_decisive_answers_beat_every_mild_sse_answer(decisive):
    answers = dict(decisive)
    for question in CATALOGUE.questions:
        if question.slug in decisive:
            continue
        mild = [
            option
            for option in question.options
            if option.points["sse"] - option.points["websocket"] <= MILD_SSE_ADVANTAGE
        ]
        strongest = max(mild, key=lambda option: option.points["sse"] - option.points["websocket"])
        answers[question.slug] = strongest.value

    assert evaluate(CATALOGUE, answers).recommendation == "websocket"


# --- Verdict and confidence -----------------------------------------------------


@pytest.mark.parametrize(
    ("scores", "confidence"),
    [
        ({"websocket": 30, "sse": 10}, "strong"),
        ({"websocket": 40, "sse": 5}, "strong"),
        ({"websocket": 29, "sse": 11}, "moderate"),
        ({"websocket": 12, "sse": 8}, "moderate"),
        ({"websocket": 11, "sse": 9}, "slight"),
        ({"websocket": 5, "sse": 15}, "strong"),
        ({"websocket": 8, "sse": 12}, "moderate"),
        ({"websocket": 9, "sse": 11}, "slight"),
    ],
)
def test_verdict_confidence_follows_margin(scores, confidence):
    catalogue = _catalogue_with(strong_margin=0.5, moderate_margin=0.2)

    assert verdict(catalogue, scores)[1] == confidence


@pytest.mark.parametrize(
    ("scores", "recommendation"),
    [({"websocket": 11, "sse": 9}, "websocket"), ({"websocket": 9, "sse": 11}, "sse")],
)
def test_verdict_recommends_higher_score(scores, recommendation):
    assert verdict(CATALOGUE, scores)[0] == recommendation


def test_verdict_margin_is_share_of_all_points():
    assert verdict(CATALOGUE, {"websocket": 30, "sse": 10})[2] == pytest.approx(0.5)


@pytest.mark.parametrize("tie_break", ["websocket", "sse"])
def test_verdict_tie_goes_to_tie_break(tie_break):
    catalogue = _catalogue_with(tie_break=tie_break)

    assert verdict(catalogue, {"websocket": 7, "sse": 7})[:2] == (tie_break, "slight")


@pytest.mark.parametrize("tie_break", ["websocket", "sse"])
def test_verdict_zero_points_is_slight_tie_break(tie_break):
    catalogue = _catalogue_with(tie_break=tie_break)

    assert verdict(catalogue, {"websocket": 0, "sse": 0}) == (tie_break, "slight", 0.0)


# --- Reasons ----------------------------------------------------------------------


@pytest.mark.parametrize("preset", CATALOGUE.presets, ids=lambda preset: preset.slug)
def test_reasons_strongest_first(preset):
    strengths = [reason.strength for reason in evaluate(CATALOGUE, preset.answers).reasons]

    assert strengths == sorted(strengths, reverse=True)


def test_reasons_equal_strength_keep_catalogue_order():
    reasons = evaluate(CATALOGUE, WEBSOCKET_CASE).reasons
    order = [question.slug for question in CATALOGUE.questions]

    for first, second in itertools.pairwise(reasons):
        if first.strength == second.strength:
            assert order.index(first.question.slug) < order.index(second.question.slug)


def test_reasons_one_per_answered_question():
    slugs = [reason.question.slug for reason in evaluate(CATALOGUE, SSE_CASE).reasons]

    assert sorted(slugs) == sorted([*SSE_CASE, "stream_buffering", "server_commands"])


def test_reasons_only_for_answered_questions():
    answers = {"client_messages": "occasional", "hosting": "paas"}

    slugs = [reason.question.slug for reason in evaluate(CATALOGUE, answers).reasons]

    # The optional questions count as answered with their defaults.
    assert sorted(slugs) == ["client_messages", "hosting", "server_commands", "stream_buffering"]


@pytest.mark.parametrize(
    ("question", "answer", "favours"),
    [
        ("client_messages", "none", "sse"),
        ("client_messages", "frequent", "websocket"),
        ("interaction_pattern", "broadcast", "sse"),
        ("interaction_pattern", "collaborative", "websocket"),
        ("middleboxes", "strict", "sse"),
        ("middleboxes", "open", "neutral"),
        ("payload_format", "binary", "websocket"),
        ("auth", "cookie", "neutral"),
        ("auth", "token", "websocket"),
        ("clients", "devices", "websocket"),
        ("delivery", "must_resume", "sse"),
    ],
)
def test_reasons_favour_the_transport_the_domain_names(question, answer, favours):
    reasons = {
        reason.question.slug: reason for reason in evaluate(CATALOGUE, {question: answer}).reasons
    }

    assert reasons[question].favours == favours


@pytest.mark.parametrize("preset", CATALOGUE.presets, ids=lambda preset: preset.slug)
def test_reasons_favours_matches_points(preset):
    for reason in evaluate(CATALOGUE, preset.answers).reasons:
        websocket, sse = reason.points["websocket"], reason.points["sse"]
        expected = "websocket" if websocket > sse else "sse" if sse > websocket else "neutral"
        assert (reason.favours, reason.strength) == (expected, abs(websocket - sse))


def _reason(answers: dict[str, str], slug: str):
    return next(
        reason for reason in evaluate(CATALOGUE, answers).reasons if reason.question.slug == slug
    )


@pytest.mark.parametrize("latency", ["relaxed", "interactive", "realtime"])
def test_reasons_upstream_latency_void_without_client_messages(latency):
    reason = _reason({"client_messages": "none", "upstream_latency": latency}, "upstream_latency")

    assert dict(reason.points) == {"websocket": 0, "sse": 0}


def test_reasons_upstream_latency_void_gives_void_reason():
    reason = _reason(
        {"client_messages": "none", "upstream_latency": "realtime"}, "upstream_latency"
    )

    assert reason.reason == CATALOGUE.question("upstream_latency").void_reason
    assert reason.reason


def test_reasons_upstream_latency_counts_with_client_messages():
    reason = _reason(
        {"client_messages": "occasional", "upstream_latency": "realtime"}, "upstream_latency"
    )

    assert reason.favours == "websocket"


def test_evaluate_void_answer_changes_no_score():
    relaxed = evaluate(CATALOGUE, {**SSE_CASE, "upstream_latency": "relaxed"})
    realtime = evaluate(CATALOGUE, {**SSE_CASE, "upstream_latency": "realtime"})

    assert relaxed.scores == realtime.scores


# --- Interactions -------------------------------------------------------------------


def test_interaction_realtime_raises_frequent_client_messages():
    realtime = _reason(REALTIME_INPUT, "client_messages")
    relaxed = _reason(RELAXED_INPUT, "client_messages")

    assert realtime.points["websocket"] > relaxed.points["websocket"]


def test_interaction_reason_appended():
    option = CATALOGUE.question("client_messages").option("frequent")
    interaction = next(
        entry
        for entry in CATALOGUE.interactions
        if (entry.question, entry.answer) == ("client_messages", "frequent")
        and "realtime" in entry.when.get("upstream_latency", ())
    )

    reason = _reason(REALTIME_INPUT, "client_messages")

    assert reason.reason.startswith(option.reason)
    assert reason.reason.endswith(interaction.reason)


def test_interaction_absent_leaves_reason_alone():
    option = CATALOGUE.question("client_messages").option("frequent")

    reason = _reason(RELAXED_INPUT, "client_messages")

    assert reason.reason == option.reason


def test_interaction_binary_at_high_rate_raises_binary():
    high = _reason({"payload_format": "binary", "message_rate": "high"}, "payload_format")
    low = _reason({"payload_format": "binary", "message_rate": "low"}, "payload_format")

    assert high.points["websocket"] > low.points["websocket"]


# --- Sections -------------------------------------------------------------------------


@pytest.mark.parametrize("preset", CATALOGUE.presets, ids=lambda preset: preset.slug)
def test_sections_add_up_to_scores(preset):
    result = evaluate(CATALOGUE, preset.answers)

    for transport in ("websocket", "sse"):
        total = sum(scores[transport] for scores in result.sections.values())
        assert total == result.scores[transport]


def test_sections_every_catalogue_section_present():
    result = evaluate(CATALOGUE, {"client_messages": "none"})

    assert set(result.sections) == {section.slug for section in CATALOGUE.sections}


def test_sections_hold_their_own_questions_points():
    result = evaluate(CATALOGUE, {"client_messages": "none", "middleboxes": "strict"})

    assert result.sections["interactivity"]["sse"] > 0
    assert result.sections["network"]["sse"] > 0
    assert result.sections["payload"] == {"websocket": 0, "sse": 0}
    assert result.sections["overhead"] == {"websocket": 0, "sse": 0}


# --- Caveats --------------------------------------------------------------------------


def test_caveat_cases_cover_every_caveat():
    assert set(CAVEAT_CASES) == {caveat.slug for caveat in CATALOGUE.caveats}


@pytest.mark.parametrize("slug", CAVEAT_CASES)
def test_caveat_present_when_triggered(slug):
    present, _ = CAVEAT_CASES[slug]

    caveats = {caveat.slug for caveat in evaluate(CATALOGUE, present).caveats}

    assert slug in caveats


@pytest.mark.parametrize("slug", CAVEAT_CASES)
def test_caveat_absent_when_not_triggered(slug):
    _, absent = CAVEAT_CASES[slug]

    caveats = {caveat.slug for caveat in evaluate(CATALOGUE, absent).caveats}

    assert slug not in caveats


@pytest.mark.parametrize("answers", [WEBSOCKET_CASE, SSE_CASE], ids=["websocket", "sse"])
def test_caveats_none_for_quiet_cases(answers):
    assert evaluate(CATALOGUE, answers).caveats == ()


# --- Patterns ---------------------------------------------------------------------------


def test_pattern_sse_hybrid_websocket_for_continuous_input_when_sse_wins():
    answers = {
        **SSE_CASE,
        "client_messages": "frequent",
        "upstream_latency": "relaxed",
        "delivery": "must_resume",
    }

    result = evaluate(CATALOGUE, answers)

    assert (result.recommendation, result.pattern.slug) == ("sse", "sse-hybrid-websocket")


def test_pattern_websocket_hybrid_broadcast_when_websocket_wins_slightly():
    answers = {
        "client_messages": "frequent",
        "upstream_latency": "realtime",
        "interaction_pattern": "broadcast",
        "middleboxes": "unknown",
        "http_version": "http2",
        "hosting": "paas",
        "load_balancer": "http_only",
        "payload_format": "text",
        "message_rate": "low",
        "team_experience": "new",
        "delivery": "must_resume",
        "auth": "cookie",
        "clients": "mobile",
        "scale": "large",
    }

    result = evaluate(CATALOGUE, answers)

    assert (result.recommendation, result.confidence, result.pattern.slug) == (
        "websocket",
        "slight",
        "websocket-hybrid-broadcast",
    )


@pytest.mark.parametrize(
    "answers",
    [
        pytest.param(
            {
                # Receive-only binary at high rates: WebSocket wins for the updates themselves.
                "client_messages": "none",
                "upstream_latency": "relaxed",
                "interaction_pattern": "broadcast",
                "middleboxes": "open",
                "http_version": "http2",
                "hosting": "long_running",
                "load_balancer": "upgrade_ok",
                "payload_format": "binary",
                "message_rate": "high",
                "team_experience": "some",
                "delivery": "must_resume",
                "auth": "cookie",
                "clients": "mobile",
                "scale": "large",
            },
            id="receive-only-binary",
        ),
        pytest.param(
            {
                "client_messages": "occasional",
                "upstream_latency": "realtime",
                "interaction_pattern": "personal",
                "middleboxes": "open",
                "http_version": "http1",
                "hosting": "long_running",
                "load_balancer": "upgrade_ok",
                "payload_format": "text",
                "message_rate": "medium",
                "team_experience": "expert",
                "delivery": "best_effort",
                "auth": "cookie",
                "clients": "browser",
                "scale": "small",
            },
            id="occasional-actions",
        ),
    ],
)
def test_pattern_websocket_hybrid_broadcast_needs_continuous_input(answers):
    assert evaluate(CATALOGUE, answers).pattern.slug != "websocket-hybrid-broadcast"


def test_pattern_sse_with_post_for_occasional_client_messages():
    answers = {**SSE_CASE, "client_messages": "occasional", "interaction_pattern": "personal"}

    result = evaluate(CATALOGUE, answers)

    assert (result.recommendation, result.pattern.slug) == ("sse", "sse-with-post")


@pytest.mark.parametrize("middleboxes", ["corporate", "strict"])
def test_pattern_websocket_with_fallback_behind_middleboxes(middleboxes):
    result = evaluate(CATALOGUE, {**WEBSOCKET_CASE, "middleboxes": middleboxes})

    assert (result.recommendation, result.pattern.slug) == ("websocket", "websocket-with-fallback")


def test_pattern_websocket_alone_on_open_path():
    assert evaluate(CATALOGUE, WEBSOCKET_CASE).pattern.slug == "websocket"


def test_pattern_sse_alone_for_read_only_broadcast():
    assert evaluate(CATALOGUE, SSE_CASE).pattern.slug == "sse"


# --- Flips ----------------------------------------------------------------------------------


@pytest.mark.parametrize("answers", FLIP_CASES)
def test_flips_reverse_recommendation(answers):
    result = evaluate(CATALOGUE, answers)

    for flip in result.flips:
        flipped = evaluate(CATALOGUE, _apply(answers, flip), with_flips=False)
        assert flipped.recommendation != result.recommendation
        assert flip.recommendation == flipped.recommendation
        assert dict(flip.scores) == dict(flipped.scores)


@pytest.mark.parametrize("answers", FLIP_CASES)
def test_flips_change_from_the_current_answer(answers):
    current = CATALOGUE.with_defaults(answers)
    for flip in evaluate(CATALOGUE, answers).flips:
        for change in flip.changes:
            assert change.before == current[change.question.slug]
            assert change.after != change.before


@pytest.mark.parametrize("answers", FLIP_CASES)
def test_flips_have_minimum_size(answers):
    smallest = _smallest_flip_by_brute_force(answers)

    sizes = {len(flip.changes) for flip in evaluate(CATALOGUE, answers).flips}

    if smallest is None:
        assert not sizes or min(sizes) > 3
    else:
        assert sizes == {smallest}


@pytest.mark.parametrize("answers", FLIP_CASES)
def test_flips_do_not_repeat(answers):
    keys = [
        frozenset((change.question.slug, change.after) for change in flip.changes)
        for flip in evaluate(CATALOGUE, answers).flips
    ]

    assert len(keys) == len(set(keys))


@pytest.mark.parametrize("answers", FLIP_CASES)
def test_flips_at_most_three(answers):
    assert len(evaluate(CATALOGUE, answers).flips) <= 3


def test_flips_found_for_a_close_call():
    answers = {**SSE_CASE, "client_messages": "frequent", "upstream_latency": "relaxed"}

    assert evaluate(CATALOGUE, answers).flips


def test_flips_respect_limit():
    answers = dict(CATALOGUE.preset("activity-feed").answers)

    assert len(find_flips(CATALOGUE, answers, "sse", limit=1)) == 1


def test_flips_without_answers_can_only_change_the_optional_defaults():
    flips = evaluate(CATALOGUE, {}).flips

    assert [[(c.question.slug, c.before, c.after) for c in flip.changes] for flip in flips] == [
        [("server_commands", "no", "seconds")],
        [("stream_buffering", "unknown", "buffered")],
    ]


def test_flips_none_without_answers_when_nothing_is_optional():
    assert evaluate(get_catalogue("1"), {}).flips == ()


# --- validate_answers ------------------------------------------------------------------------


def test_validate_answers_complete_set_is_valid():
    assert validate_answers(CATALOGUE, WEBSOCKET_CASE) == {}


def test_validate_answers_unknown_question():
    errors = validate_answers(CATALOGUE, {**SSE_CASE, "colour": "blue"})

    assert set(errors) == {"colour"}


def test_validate_answers_unknown_option():
    errors = validate_answers(CATALOGUE, {**SSE_CASE, "http_version": "http4"})

    assert set(errors) == {"http_version"}
    assert "http4" in errors["http_version"]


@pytest.mark.parametrize("value", [3, None, ["none"], True])
def test_validate_answers_non_string_option(value):
    errors = validate_answers(CATALOGUE, {**SSE_CASE, "client_messages": value})

    assert set(errors) == {"client_messages"}


def test_validate_answers_missing_answer_in_complete_mode():
    answers = {slug: value for slug, value in SSE_CASE.items() if slug != "scale"}

    assert set(validate_answers(CATALOGUE, answers)) == {"scale"}


def test_validate_answers_partial_mode_accepts_missing():
    assert validate_answers(CATALOGUE, {"client_messages": "none"}, partial=True) == {}


def test_validate_answers_partial_mode_still_rejects_unknown_option():
    errors = validate_answers(CATALOGUE, {"client_messages": "sometimes"}, partial=True)

    assert set(errors) == {"client_messages"}


def test_validate_answers_non_string_question():
    errors = validate_answers(CATALOGUE, {1: "none"}, partial=True)

    assert set(errors) == {"1"}


@pytest.mark.parametrize("answers", [None, "client_messages=none", ["none"], 3])
def test_validate_answers_non_mapping(answers):
    errors = validate_answers(CATALOGUE, answers)

    assert set(errors) == {"answers"}


# --- to_dict ------------------------------------------------------------------------------


def _document(answers: dict[str, str]) -> dict:
    return evaluate(CATALOGUE, answers).to_dict()


def test_to_dict_is_json_serialisable():
    document = _document(dict(CATALOGUE.preset("notifications").answers))

    assert json.loads(json.dumps(document)) == document


def test_to_dict_top_level_keys():
    document = _document(SSE_CASE)

    assert {
        "recommendation",
        "confidence",
        "scores",
        "sections",
        "pattern",
        "reasons",
        "caveats",
        "flips",
        "checklist",
    } <= set(document)


def test_to_dict_scores_per_transport():
    assert set(_document(SSE_CASE)["scores"]) == {"websocket", "sse"}


def test_to_dict_reason_keys():
    for reason in _document(WEBSOCKET_CASE)["reasons"]:
        assert {"question", "answer", "favours", "points", "reason"} <= set(reason)


def test_to_dict_reason_points_never_negative():
    assert all(reason["points"] >= 0 for reason in _document(SSE_CASE)["reasons"])


def test_to_dict_reasons_name_the_answers():
    reasons = _document(SSE_CASE)["reasons"]

    assert {reason["question"]: reason["answer"] for reason in reasons} == {
        **SSE_CASE,
        "stream_buffering": "unknown",
        "server_commands": "no",
    }


def test_to_dict_reason_scores_add_up_to_the_totals_for_random_answers():
    # ``points`` is only the difference; ``scores`` must account for every
    # point the totals count, answers that give both sides points included.
    rng = random.Random(11)
    for _ in range(300):
        answers = {question.slug: rng.choice(question.values) for question in CATALOGUE.questions}
        document = _document(answers)
        for transport in ("websocket", "sse"):
            total = sum(reason["scores"][transport] for reason in document["reasons"])
            assert total == document["scores"][transport]


def test_to_dict_reason_scores_of_an_answer_that_gives_both_sides():
    answers = {"client_messages": "occasional", "upstream_latency": "realtime"}
    reasons = {reason["question"]: reason for reason in _document(answers)["reasons"]}

    assert reasons["client_messages"]["scores"] == {"websocket": 3, "sse": 3}
    assert (reasons["client_messages"]["favours"], reasons["client_messages"]["points"]) == (
        "neutral",
        0,
    )


def test_to_dict_checklist_of_recommended_transport():
    document = _document(SSE_CASE)

    assert document["checklist"]["security"] == list(CATALOGUE.checklists["sse"].security)


def test_to_dict_flip_changes_name_question_and_values():
    document = _document(dict(CATALOGUE.preset("chat").answers))

    change = document["flips"][0]["changes"][0]

    assert {"question", "from", "to"} <= set(change)


# --- Partial answers ---------------------------------------------------------------------------


def test_evaluate_partial_no_client_messages_leans_sse():
    assert evaluate(CATALOGUE, {"client_messages": "none"}).recommendation == "sse"


def test_evaluate_partial_continuous_input_leans_websocket():
    assert evaluate(CATALOGUE, {"client_messages": "frequent"}).recommendation == "websocket"


def test_evaluate_partial_is_not_complete():
    assert not evaluate(CATALOGUE, {"client_messages": "none"}).complete


@pytest.mark.parametrize("tie_break", ["websocket", "sse"])
def test_evaluate_no_answers_goes_to_tie_break(tie_break):
    catalogue = _catalogue_with(tie_break=tie_break)

    result = evaluate(catalogue, {})

    assert (result.recommendation, result.confidence) == (tie_break, "slight")


def test_evaluate_no_answers_uses_fallback_pattern():
    result = evaluate(CATALOGUE, {})

    assert result.pattern.slug == CATALOGUE.tie_break


def test_realtime_latency_with_occasional_actions_keeps_sse_with_post():
    # A few actions a minute that want a fast answer are still well served by
    # HTTP requests on a kept-alive connection; latency alone must not carry
    # a one-way application over to WebSocket.
    answers = {**SSE_CASE, "client_messages": "occasional", "interaction_pattern": "personal"}
    relaxed = evaluate(CATALOGUE, {**answers, "upstream_latency": "relaxed"})
    realtime = evaluate(CATALOGUE, {**answers, "upstream_latency": "realtime"})
    assert relaxed.recommendation == realtime.recommendation == "sse"
    assert realtime.pattern.slug == "sse-with-post"


def test_net_score_matches_contributions_for_random_answers():
    # net_score is the flip search's fast path; it must add up exactly what
    # the reasons shown to the user add up, partial answers included.
    rng = random.Random(7)
    for _ in range(300):
        answers = {
            question.slug: rng.choice(question.values)
            for question in CATALOGUE.questions
            if rng.random() < 0.8
        }
        parts = contributions(CATALOGUE, answers)
        assert net_score(CATALOGUE, answers) == sum(part.net for part in parts)


def test_mobile_caveat_applies_to_websocket_too():
    # Background suspension hits whichever transport is open.
    result = evaluate(CATALOGUE, {**WEBSOCKET_CASE, "clients": "mobile"})
    assert result.recommendation == "websocket"
    assert "mobile-battery" in {caveat.slug for caveat in result.caveats}


def test_browser_only_caveats_skip_device_clients():
    answers = {**SSE_CASE, "clients": "devices", "http_version": "http1", "auth": "token"}
    result = evaluate(CATALOGUE, answers)
    slugs = {caveat.slug for caveat in result.caveats}
    assert result.recommendation == "sse"
    assert "http1-connection-limit" not in slugs
    assert "token-auth-sse" not in slugs
    assert "sse-non-browser" in slugs


def test_browser_rules_do_not_score_for_device_clients():
    # Devices can send Authorization and open many connections: neither
    # question may weigh for them.
    answers = {**SSE_CASE, "clients": "devices", "http_version": "http1", "auth": "token"}
    reasons = {reason.question.slug: reason for reason in evaluate(CATALOGUE, answers).reasons}
    assert reasons["http_version"].strength == 0
    assert reasons["auth"].strength == 0


def test_hybrid_patterns_not_offered_to_devices():
    answers = {
        **WEBSOCKET_CASE,
        "client_messages": "frequent",
        "upstream_latency": "relaxed",
        "interaction_pattern": "personal",
        "middleboxes": "unknown",
        "hosting": "paas",
        "load_balancer": "unknown",
        "payload_format": "mixed",
        "team_experience": "new",
        "auth": "token",
        "clients": "devices",
        "scale": "large",
        # Commands are their own question since version 3; "devices" means
        # programs that are not browsers, commanded or not.
        "server_commands": "seconds",
    }
    result = evaluate(CATALOGUE, answers)
    assert result.recommendation == "websocket"
    assert "hybrid" not in result.pattern.slug


def test_chat_with_occasional_messages_still_websocket():
    chat = dict(CATALOGUE.preset("chat").answers)
    assert evaluate(CATALOGUE, {**chat, "client_messages": "occasional"}).recommendation == (
        "websocket"
    )


# --- The optional question --------------------------------------------------------------


def test_validate_answers_optional_question_may_be_left_out():
    assert "stream_buffering" not in SSE_CASE
    assert validate_answers(CATALOGUE, SSE_CASE) == {}


def test_validate_answers_optional_question_still_needs_a_known_option():
    errors = validate_answers(CATALOGUE, {**SSE_CASE, "stream_buffering": "sometimes"})

    assert set(errors) == {"stream_buffering"}
    assert "streamed, buffered, unknown" in errors["stream_buffering"]


@pytest.mark.parametrize("value", [None, True, ["buffered"]])
def test_validate_answers_optional_question_non_string(value):
    errors = validate_answers(CATALOGUE, {**SSE_CASE, "stream_buffering": value})

    assert set(errors) == {"stream_buffering"}


def test_validate_answers_empty_set_names_only_required_questions():
    errors = validate_answers(CATALOGUE, {})

    optional = {"stream_buffering", "server_commands"}
    assert set(errors) == {q.slug for q in CATALOGUE.questions if q.slug not in optional}


@pytest.mark.parametrize("answers", [SSE_CASE, WEBSOCKET_CASE, {}], ids=["sse", "ws", "empty"])
def test_evaluate_left_out_optional_is_the_same_as_its_default(answers):
    left_out = evaluate(CATALOGUE, answers).to_dict()
    explicit = evaluate(CATALOGUE, {**answers, "stream_buffering": "unknown"}).to_dict()

    assert left_out == explicit


def test_evaluate_result_holds_the_default():
    result = evaluate(CATALOGUE, SSE_CASE)

    assert (result.answers["stream_buffering"], result.complete) == ("unknown", True)


def test_evaluate_buffered_stream_favours_websocket():
    reasons = {
        r.question.slug: r for r in evaluate(CATALOGUE, {"stream_buffering": "buffered"}).reasons
    }

    reason = reasons["stream_buffering"]
    assert (reason.favours, reason.strength, reason.source.slug) == (
        "websocket",
        6,
        "whatwg-sse-proxy",
    )


@pytest.mark.parametrize("value", ["streamed", "unknown"])
def test_evaluate_unbuffered_or_unmeasured_stream_is_neutral(value):
    reasons = {
        r.question.slug: r for r in evaluate(CATALOGUE, {"stream_buffering": value}).reasons
    }

    assert reasons["stream_buffering"].favours == "neutral"


def test_caveat_condition_sees_the_left_out_default():
    # proxy-buffering holds for stream_buffering "streamed" or "unknown": a
    # left-out answer must meet it as "unknown", not fail as a missing fact.
    result = evaluate(CATALOGUE, {**SSE_CASE, "middleboxes": "corporate"})

    assert "proxy-buffering" in {caveat.slug for caveat in result.caveats}


def test_buffered_stream_flips_a_close_sse_call():
    answers = {**SSE_CASE, "client_messages": "frequent", "upstream_latency": "relaxed"}

    flips = find_flips(CATALOGUE, answers, "sse", limit=10)

    changes = [[(c.question.slug, c.before, c.after) for c in flip.changes] for flip in flips]
    assert [("stream_buffering", "unknown", "buffered")] in changes


def test_buffered_stream_alone_does_not_turn_the_seed_sse_cases():
    for slug, transport in USE_CASES.items():
        answers = {**CATALOGUE.preset(slug).answers, "stream_buffering": "buffered"}
        assert evaluate(CATALOGUE, answers).recommendation == transport, slug


def _catalogue_with_interaction_on_the_default():
    """The current catalogue plus an interaction that needs stream_buffering "unknown"."""
    data = json.loads((CATALOGUE_DIR / f"{CATALOGUE.version}.json").read_text(encoding="utf-8"))
    data["interactions"].append(
        {
            "question": "payload_format",
            "answer": "binary",
            "when": {"stream_buffering": ["unknown"]},
            "points": {"websocket": 5, "sse": 0},
            "reason": "Test interaction.",
        }
    )
    return parse_catalogue(data)


def test_interaction_condition_sees_the_left_out_default():
    catalogue = _catalogue_with_interaction_on_the_default()
    answers = {"payload_format": "binary"}

    (reason,) = [
        r for r in contributions(catalogue, answers) if r.question.slug == "payload_format"
    ]

    assert (reason.points["websocket"], net_score(catalogue, answers)) == (6 + 5, 6 + 5)


@pytest.mark.parametrize("answers", FLIP_CASES)
def test_flips_with_coupled_optional_question_have_minimum_size(answers):
    # Coupled through an interaction, the left-out optional question joins the
    # exact group search with its default as the current answer.
    catalogue = _catalogue_with_interaction_on_the_default()
    answers = {slug: value for slug, value in answers.items() if slug != "stream_buffering"}
    smallest = _smallest_flip_by_brute_force(answers, catalogue=catalogue)

    result = evaluate(catalogue, answers)

    sizes = {len(flip.changes) for flip in result.flips}
    if smallest is None:
        assert not sizes or min(sizes) > 3
    else:
        assert sizes == {smallest}
    for flip in result.flips:
        trial = {**answers, **{c.question.slug: c.after for c in flip.changes}}
        assert evaluate(catalogue, trial, with_flips=False).recommendation == flip.recommendation


def test_buffered_stream_alone_is_no_flip_where_it_loses_an_interaction():
    # Binary with the stream unmeasured gets 5 extra points in this catalogue;
    # "buffered" would add 6 and lose those 5: not enough to turn 11 against 13.
    catalogue = _catalogue_with_interaction_on_the_default()
    answers = {**SSE_CASE, "payload_format": "binary"}
    assert evaluate(catalogue, answers).scores == {"websocket": 11, "sse": 13}

    flips = find_flips(catalogue, answers, "sse", limit=10)

    assert [("stream_buffering", "unknown", "buffered")] not in [
        [(c.question.slug, c.before, c.after) for c in flip.changes] for flip in flips
    ]
    assert flips
