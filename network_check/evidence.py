"""A stored check as it is shown: what the evidence partial renders, wherever it is.

The check page's panel, the result page and the PDF report all render
``templates/network_check/_evidence.html#evidence`` from an ``Evidence``: the
same findings and suggestions, compared with the answers given where there
are answers. Nothing here queries the database (the report renders in a
worker thread): it is given the check already loaded.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from questionnaire.catalogue import Catalogue

from .findings import SCOPE, Finding, findings, proxy_notice, simulation_notice
from .models import NetworkCheck
from .suggestions import suggestions


@dataclass(frozen=True)
class ShownSuggestion:
    """One answer the check suggests, in the catalogue's words; with the answer given, if any."""

    question: str
    question_text: str
    value: str
    label: str
    finding: str
    meaning: str
    # Set only where the evidence belongs to answers (a revision): the label
    # of the answer given, and whether it is the one suggested.
    answered: str | None = None
    follows: bool = False


@dataclass(frozen=True)
class Evidence:
    check_id: str
    created_at: datetime
    user_agent: str
    findings: tuple[Finding, ...]
    suggestions: tuple[ShownSuggestion, ...]
    # Set for a run whose probes were told to misbehave: not evidence at all.
    simulation: str | None = None
    # Set for a run whose SSE probe went through the proxy's buffering location.
    proxy: str | None = None
    scope: str = SCOPE
    # Whether the suggestions are compared with stored answers.
    answered: bool = False

    @property
    def followed(self) -> int:
        return sum(suggestion.follows for suggestion in self.suggestions)


def evidence_of(
    check: NetworkCheck, catalogue: Catalogue, answers: Mapping[str, str] | None = None
) -> Evidence:
    """``check`` in ``catalogue``'s words; with ``answers``, whether they follow it."""
    shown = []
    for suggestion in suggestions(check.measurement, catalogue):
        question = catalogue.question(suggestion.question)
        answered = None
        if answers is not None:
            given = answers.get(suggestion.question, "")
            option = question.option(given)
            answered = option.label if option else (given or "(not answered)")
        shown.append(
            ShownSuggestion(
                question=suggestion.question,
                question_text=question.text,
                value=suggestion.value,
                label=suggestion.label,
                finding=suggestion.finding,
                meaning=suggestion.meaning,
                answered=answered,
                follows=answers is not None
                and answers.get(suggestion.question) == suggestion.value,
            )
        )
    return Evidence(
        check_id=str(check.pk),
        created_at=check.created_at,
        user_agent=check.user_agent,
        findings=tuple(findings(check.measurement)),
        suggestions=tuple(shown),
        simulation=simulation_notice(check.measurement),
        proxy=proxy_notice(check.measurement),
        answered=answers is not None,
    )
