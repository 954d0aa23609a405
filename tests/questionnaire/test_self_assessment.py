"""The advisor's own answers for its decision notifications (docs/self-assessment.json) say SSE."""

from __future__ import annotations

import json
from pathlib import Path

from questionnaire.catalogue import get_catalogue
from questionnaire.scoring import evaluate

DOCS = Path(__file__).resolve().parents[2] / "docs"
DATA = json.loads((DOCS / "self-assessment.json").read_text())
CATALOGUE = get_catalogue(DATA["catalogue_version"])
ANSWERS = {slug: answer["value"] for slug, answer in DATA["answers"].items()}


def test_every_question_is_answered_once_with_an_option_and_a_why() -> None:
    assert sorted(ANSWERS) == sorted(question.slug for question in CATALOGUE.questions)
    for question in CATALOGUE.questions:
        assert ANSWERS[question.slug] in {option.value for option in question.options}
        assert DATA["answers"][question.slug]["why"].strip()


def test_the_answers_say_sse_strongly() -> None:
    result = evaluate(CATALOGUE, ANSWERS)
    assert result.recommendation == DATA["expected"]["recommendation"] == "sse"
    assert result.confidence == "strong"
    assert result.pattern.slug == "sse-with-post"


def test_the_page_shows_the_same_answers_and_verdict() -> None:
    page = (DOCS / "self-assessment.md").read_text()
    result = evaluate(CATALOGUE, ANSWERS)
    for question in CATALOGUE.questions:
        answer = DATA["answers"][question.slug]
        [label] = [option.label for option in question.options if option.value == answer["value"]]
        assert f"| {question.text} | {label} | {answer['why']} |" in page
    scores = result.scores
    assert f"**SSE, strong confidence: {scores['sse']} points to {scores['websocket']}.**" in page
    for caveat in result.caveats:
        assert f"| {caveat.title} |" in page
