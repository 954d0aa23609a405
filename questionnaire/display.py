"""Turns a stored result into what pages and reports show: chart bars, labels, diffs.

Everything here reads a revision's stored snapshot and the catalogue version
it was scored with, so an old assessment keeps reading the way it did.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from .catalogue import TRANSPORTS, Catalogue
from .models import Revision

CHART_LABEL_WIDTH = 190
CHART_BAR_WIDTH = 330
CHART_ROW_HEIGHT = 46


@dataclass(frozen=True)
class Bar:
    transport: str
    points: int
    width: float
    y: float


@dataclass(frozen=True)
class ChartRow:
    label: str
    bars: tuple[Bar, ...]
    y: float
    total: bool = False


@dataclass(frozen=True)
class Chart:
    rows: tuple[ChartRow, ...]
    height: int
    label_width: int = CHART_LABEL_WIDTH
    bar_width: int = CHART_BAR_WIDTH

    @property
    def width(self) -> int:
        return self.label_width + self.bar_width + 40


def score_chart(result: Mapping, catalogue: Catalogue) -> Chart:
    """Bars per section and in total for both transports, scaled to the largest."""
    entries = [
        (section.title, result["sections"].get(section.slug, dict.fromkeys(TRANSPORTS, 0)), False)
        for section in catalogue.sections
    ]
    entries.append(("Total", result["scores"], True))
    largest = max((scores[t] for _, scores, _ in entries for t in TRANSPORTS), default=0) or 1
    rows = []
    for index, (label, scores, total) in enumerate(entries):
        top = 10 + index * CHART_ROW_HEIGHT + (8 if total else 0)
        rows.append(
            ChartRow(
                label=label,
                y=top + 19,
                total=total,
                bars=tuple(
                    Bar(
                        transport=transport,
                        points=scores[transport],
                        width=round(CHART_BAR_WIDTH * scores[transport] / largest, 1),
                        y=top + offset * 17,
                    )
                    for offset, transport in enumerate(TRANSPORTS)
                ),
            )
        )
    return Chart(rows=tuple(rows), height=20 + len(entries) * CHART_ROW_HEIGHT + 8)


def answer_label(catalogue: Catalogue, slug: str, value: str) -> tuple[str, str]:
    """(question text, answer label) in ``catalogue``'s words, raw slugs if unknown."""
    question = catalogue.question(slug)
    option = question.option(value) if question else None
    return (question.text if question else slug, option.label if option else value)


@dataclass(frozen=True)
class AnswerChange:
    question: str
    before: str
    after: str


@dataclass(frozen=True)
class RevisionDiff:
    revision: Revision
    changes: tuple[AnswerChange, ...]
    recommendation_before: str | None
    recommendation_after: str

    @property
    def verdict_changed(self) -> bool:
        return (
            self.recommendation_before is not None
            and self.recommendation_before != self.recommendation_after
        )


def revision_history(revisions: list[Revision]) -> list[RevisionDiff]:
    """Each revision with what changed since the one before, newest first."""
    history = []
    previous: Revision | None = None
    for revision in revisions:
        changes: list[AnswerChange] = []
        if previous is not None:
            for slug in dict.fromkeys([*previous.answers, *revision.answers]):
                before, after = previous.answers.get(slug), revision.answers.get(slug)
                if before == after:
                    continue
                question, after_label = answer_label(revision.catalogue, slug, after or "")
                _, before_label = answer_label(previous.catalogue, slug, before or "")
                changes.append(
                    AnswerChange(
                        question=question,
                        before=before_label or "(not asked)",
                        after=after_label or "(not asked)",
                    )
                )
        history.append(
            RevisionDiff(
                revision=revision,
                changes=tuple(changes),
                recommendation_before=previous.result["recommendation"] if previous else None,
                recommendation_after=revision.result["recommendation"],
            )
        )
        previous = revision
    return history[::-1]


def result_context(revisions: list[Revision], revision: Revision) -> dict:
    """What the result page and the PDF report both show of ``revision``.

    ``revisions`` are all of the assessment's revisions, oldest first, already
    loaded: nothing here touches the database, so a report can be rendered
    from this context in a worker thread.
    """
    catalogue = revision.catalogue
    result = revision.result
    return {
        "revision": revision,
        "is_latest": revision.number == revisions[-1].number,
        "result": result,
        "catalogue": catalogue,
        "transport_name": catalogue.transport_names[result["recommendation"]],
        "chart": score_chart(result, catalogue),
        "history": revision_history(revisions),
    }
