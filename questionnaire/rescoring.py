"""Re-scoring under a newer catalogue: is a revision stale, and would its verdict change?

A revision keeps the result it was scored with (``models.Revision``). When a
newer catalogue is published, the same answers may score differently: this
says how, without changing anything. Adopting the newer result is a new
revision, made by an editor through the edit form.
"""

from __future__ import annotations

from dataclasses import dataclass

from .catalogue import Catalogue, get_catalogue
from .models import Revision
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
