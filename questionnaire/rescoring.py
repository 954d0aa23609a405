"""Re-scoring under a newer catalogue: is a revision stale, and would its verdict change?

A revision keeps the result it was scored with (``models.Revision``). When a
newer catalogue is published, the same answers may score differently: this
says how, without changing anything. Adopting the newer result is a new
revision, made by an editor through the edit form (``?adopt=1`` opens it on
the first question the newer catalogue added), and, like any new revision,
sends a decision under review or taken back to review.

Only an assessment's latest revision is compared: earlier ones are history.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from .catalogue import Catalogue, Rule, get_catalogue
from .decisions import REOPENED_BY_REVISION
from .display import SHORT_NAMES, answer_effect, answer_points
from .models import Assessment, Revision
from .scoring import Result, evaluate


@dataclass(frozen=True)
class Outlook:
    """What the current catalogue says about a revision's answers."""

    scored_with: str
    current: str
    # None when the revision was scored with the current catalogue.
    result: Result | None
    # Questions the current catalogue asks that the revision has no answer for.
    unanswered: tuple[str, ...]

    @property
    def stale(self) -> bool:
        return self.result is not None

    @property
    def would_change(self) -> bool:
        """Whether the verdict (the transport) would differ under the current catalogue."""
        return self.result is not None and self.result.recommendation != self.scored_recommendation

    scored_recommendation: str = ""


def outlook(revision: Revision, catalogue: Catalogue | None = None) -> Outlook:
    catalogue = catalogue or get_catalogue()
    scored = revision.result.get("recommendation", "")
    if revision.catalogue_version == catalogue.version:
        return Outlook(revision.catalogue_version, catalogue.version, None, (), scored)
    answers = {
        slug: value
        for slug, value in revision.answers.items()
        if catalogue.question(slug) and catalogue.question(slug).option(value)
    }
    unanswered = tuple(
        question.slug
        for question in catalogue.questions
        if question.slug not in answers and not question.optional
    )
    result = evaluate(catalogue, answers, with_flips=False)
    return Outlook(revision.catalogue_version, catalogue.version, result, unanswered, scored)


@dataclass(frozen=True)
class Verdict:
    """One side of the comparison: a recommendation, its confidence and the totals."""

    recommendation: str
    confidence: str
    scores: Mapping[str, int]

    @property
    def name(self) -> str:
        return SHORT_NAMES[self.recommendation]


@dataclass(frozen=True)
class ReasonChange:
    """An answer whose points differ under the newer catalogue, each side in words."""

    question: str
    answer: str
    before: str
    after: str


@dataclass(frozen=True)
class QuestionChange:
    slug: str
    text: str
    section: str
    # Added and required, so adopting the newer catalogue waits for its answer.
    needs_answer: bool = False


@dataclass(frozen=True)
class Comparison:
    """A stale revision side by side with what the current catalogue says of its answers."""

    outlook: Outlook
    changelog: tuple[str, ...]
    then: Verdict
    now: Verdict
    reasons: tuple[ReasonChange, ...]
    new_caveats: tuple[Rule, ...]
    dropped_caveats: tuple[str, ...]
    added: tuple[QuestionChange, ...]
    removed: tuple[QuestionChange, ...]

    @property
    def current(self) -> str:
        return self.outlook.current

    @property
    def would_change(self) -> bool:
        return self.outlook.would_change

    @property
    def unanswered(self) -> tuple[str, ...]:
        return self.outlook.unanswered


def compare(revision: Revision, catalogue: Catalogue | None = None) -> Comparison | None:
    """The side-by-side comparison of a stale revision; None when it is not stale."""
    view = outlook(revision, catalogue)
    if view.result is None:
        return None
    current, scored_with, stored = view.result.catalogue, revision.catalogue, revision.result
    stored_caveats = {caveat["slug"] for caveat in stored["caveats"]}
    return Comparison(
        outlook=view,
        changelog=current.changelog,
        then=Verdict(stored["recommendation"], stored["confidence"], stored["scores"]),
        now=Verdict(view.result.recommendation, view.result.confidence, view.result.scores),
        reasons=_changed_reasons(stored, view.result),
        new_caveats=tuple(
            caveat for caveat in view.result.caveats if caveat.slug not in stored_caveats
        ),
        dropped_caveats=tuple(
            caveat["title"]
            for caveat in stored["caveats"]
            if caveat["slug"] not in {rule.slug for rule in view.result.caveats}
        ),
        added=tuple(
            QuestionChange(
                question.slug,
                question.text,
                current.section(question.section).title,
                needs_answer=question.slug in view.unanswered,
            )
            for question in current.questions
            if scored_with.question(question.slug) is None
        ),
        removed=tuple(
            QuestionChange(
                question.slug, question.text, scored_with.section(question.section).title
            )
            for question in scored_with.questions
            if current.question(question.slug) is None
        ),
    )


def _changed_reasons(stored: Mapping, result: Result) -> tuple[ReasonChange, ...]:
    """Each answer that gives different points now, in the newer catalogue's order.

    The stored snapshot says what each answer gave then (in the words it was
    scored with); the newer result what it gives now.
    """
    before = {reason["question"]: reason for reason in stored["reasons"]}
    after = {reason.question.slug: reason for reason in result.reasons}
    changes = []
    for slug in dict.fromkeys([*after, *before]):
        then = answer_points(before[slug]) if slug in before else None
        now = dict(after[slug].points) if slug in after else None
        if then == now:
            continue
        question = after[slug].question.text if slug in after else before[slug]["question_text"]
        answer = after[slug].answer_label if slug in after else before[slug]["answer_label"]
        changes.append(ReasonChange(question, answer, _effect(then), _effect(now)))
    return tuple(changes)


def _effect(points: Mapping[str, int] | None) -> str:
    return "Not asked" if points is None else answer_effect(points)


def outlook_document(revision: Revision) -> dict:
    """The API's ``outlook`` of an assessment document: what the current catalogue says."""
    view = outlook(revision)
    return {
        "stale": view.stale,
        "current_catalogue": view.current,
        "would_change": view.would_change,
        "recommendation": view.result.recommendation if view.result else None,
        "confidence": view.result.confidence if view.result else None,
        "unanswered": list(view.unanswered),
    }


def page_context(assessment: Assessment, revisions: list[Revision], revision: Revision) -> dict:
    """What the result page shows of a newer catalogue: the comparison, for the latest revision."""
    latest = revision.number == revisions[-1].number
    return {
        "current_catalogue": get_catalogue().version,
        "comparison": compare(revision) if latest else None,
        # Adopting is a new revision, which sends these decisions back to review.
        "adoption_reopens": assessment.workspace_id is not None
        and assessment.status in REOPENED_BY_REVISION,
    }
