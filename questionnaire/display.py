"""Turns a stored result into what pages and reports show: chart bars, labels, diffs.

Everything here reads a revision's stored snapshot and the catalogue version
it was scored with, so an old assessment keeps reading the way it did.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime

from network_check.evidence import Evidence, evidence_of

from . import cases
from .catalogue import TRANSPORTS, Catalogue
from .models import Revision

# The names sentences and labels use; the catalogue's are for headings.
SHORT_NAMES = {"websocket": "WebSocket", "sse": "SSE"}
# Why a tie goes where the catalogue's ``tie_break`` sends it, where there is a reason.
TIE_BREAK_REASONS = {"sse": "the simpler of the two to build and run"}
# Each row's label sits above its two bars, so the chart is narrow enough to
# be drawn at its own size on a phone: scaled down, its text would be too
# small to read.
CHART_PADDING = 10
CHART_BAR_WIDTH = 280
CHART_ROW_HEIGHT = 60


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
    padding: int = CHART_PADDING
    bar_width: int = CHART_BAR_WIDTH

    @property
    def width(self) -> int:
        # Room after the longest bar for its number.
        return self.padding + self.bar_width + 40


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
                y=top + 14,
                total=total,
                bars=tuple(
                    Bar(
                        transport=transport,
                        points=scores[transport],
                        width=round(CHART_BAR_WIDTH * scores[transport] / largest, 1),
                        y=top + 20 + offset * 17,
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
            catalogues = (revision.catalogue, previous.catalogue)
            for slug in dict.fromkeys([*previous.answers, *revision.answers]):
                before = _compared_answer(previous.answers, slug, catalogues)
                after = _compared_answer(revision.answers, slug, catalogues)
                if before == after:
                    continue
                question, after_label = answer_label(
                    _knowing(slug, revision.catalogue, previous.catalogue), slug, after or ""
                )
                _, before_label = answer_label(
                    _knowing(slug, previous.catalogue, revision.catalogue), slug, before or ""
                )
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


def _compared_answer(
    answers: Mapping[str, str], slug: str, catalogues: tuple[Catalogue, ...]
) -> str | None:
    """The answer to compare: a missing answer to an optional question counts as its default.

    A revision scored before the question existed (an older catalogue) left
    it out, as a new revision may: neither is a change of answer.
    """
    if slug in answers:
        return answers[slug]
    for catalogue in catalogues:
        question = catalogue.question(slug)
        if question is not None and question.optional:
            return question.default
    return None


def _knowing(slug: str, *catalogues: Catalogue) -> Catalogue:
    """The first catalogue that asks ``slug``, to put its answer in words."""
    return next((c for c in catalogues if c.question(slug) is not None), catalogues[0])


def tie_break_rule(recommendation: str) -> str:
    """The rule that made ``recommendation`` of a tie, as a clause."""
    why = TIE_BREAK_REASONS.get(recommendation)
    rule = f"the tie-break rule gives a tie to {SHORT_NAMES[recommendation]}"
    return f"{rule}, {why}" if why else rule


def answer_points(reason: Mapping) -> dict[str, int]:
    """What one stored answer gave each transport.

    Snapshots from before ``scores`` was stored per answer hold only the
    difference (``points``), credited here to the side it favours.
    """
    if "scores" in reason:
        return {transport: reason["scores"][transport] for transport in TRANSPORTS}
    points = dict.fromkeys(TRANSPORTS, 0)
    if reason["favours"] in points:
        points[reason["favours"]] = reason["points"]
    return points


def answer_effect(points: Mapping[str, int]) -> str:
    """What an answer did, in words that account for every point it gave."""
    given = [transport for transport in TRANSPORTS if points[transport]]
    if not given:
        return "Neutral"
    if len(given) == 1:
        return f"Favours {SHORT_NAMES[given[0]]}, {_points(points[given[0]])}"
    each = ", ".join(f"{SHORT_NAMES[transport]} +{points[transport]}" for transport in TRANSPORTS)
    if points["websocket"] == points["sse"]:
        return f"{each}: they cancel out"
    favoured = max(TRANSPORTS, key=lambda transport: points[transport])
    difference = abs(points["websocket"] - points["sse"])
    return f"Favours {SHORT_NAMES[favoured]} by {_points(difference)} ({each})"


def answers_shown(result: Mapping) -> list[dict]:
    """The stored reasons, each with what it gave each side in words."""
    shown = []
    for reason in result["reasons"]:
        points = answer_points(reason)
        shown.append(
            {**reason, "effect": answer_effect(points), "both_sides": all(points.values())}
        )
    return shown


@dataclass(frozen=True)
class ChecklistBlock:
    """One transport's checklist, as a pattern that builds on it needs it."""

    transport: str
    name: str
    recommended: bool
    implementation: tuple[str, ...]
    security: tuple[str, ...]


def checklists(result: Mapping, catalogue: Catalogue) -> list[ChecklistBlock]:
    """Every checklist the delivery pattern needs, the recommended transport's first.

    The pattern is looked up by its stored slug in the catalogue the result
    was scored with; the recommended transport's list is the stored one.
    """
    chosen = result["recommendation"]
    pattern = catalogue.pattern(result["pattern"]["slug"])
    listed = pattern.checklists if pattern else ()
    also = [transport for transport in listed if transport != chosen]
    blocks = []
    for transport in (chosen, *also):
        if transport == chosen:
            implementation = result["checklist"]["implementation"]
            security = result["checklist"]["security"]
        else:
            implementation = catalogue.checklists[transport].implementation
            security = catalogue.checklists[transport].security
        blocks.append(
            ChecklistBlock(
                transport=transport,
                name=catalogue.transport_names[transport],
                recommended=transport == chosen,
                implementation=tuple(implementation),
                security=tuple(security),
            )
        )
    return blocks


def result_context(revisions: list[Revision], revision: Revision) -> dict:
    """What the result page and the PDF report both show of ``revision``.

    ``revisions`` are all of the assessment's revisions, oldest first, already
    loaded: nothing here touches the database, so a report can be rendered
    from this context in a worker thread.
    """
    context = revision_context(revisions, revision)
    catalogue, result = context["catalogue"], context["result"]
    tie = result["scores"]["websocket"] == result["scores"]["sse"]
    return {
        **context,
        "tie": tie,
        "tie_break_rule": tie_break_rule(result["recommendation"]) if tie else "",
        "reasons": answers_shown(result),
        "checklists": checklists(result, catalogue),
        "chart": score_chart(result, catalogue),
        "evidence": network_evidence(revision, catalogue),
        "similar": cases.evidence(revision.answers, result["recommendation"]),
    }


def revision_context(revisions: list[Revision], revision: Revision) -> dict:
    """The little of ``result_context`` that a result page shows around its cached snapshot."""
    catalogue = revision.catalogue
    result = revision.result
    return {
        "revision": revision,
        "is_latest": revision.number == revisions[-1].number,
        "result": result,
        "catalogue": catalogue,
        "transport_name": catalogue.transport_names[result["recommendation"]],
        "history": revision_history(revisions),
    }


def network_evidence(revision: Revision, catalogue: Catalogue) -> Evidence | None:
    """The network check stored with ``revision``, and whether its answers follow it.

    Needs the check loaded with the revision (``select_related``) to stay off
    the database.
    """
    if revision.network_check_id is None:
        return None
    return evidence_of(revision.network_check, catalogue, revision.answers)


# A decision's status in the words of a record (the PDF, the ADR): MADR's
# where it has one, "proposed" being its word for a decision under review.
RECORD_STATUSES = {
    "draft": "draft",
    "in_review": "proposed",
    "accepted": "accepted",
    "rejected": "rejected",
    "superseded": "superseded",
}


# What a share link's holder reads instead of another assessment's title,
# id or file name: those are the workspace's, not the link's.
ANOTHER_DECISION = "another decision of this workspace"
EARLIER_DECISIONS = "one or more earlier decisions of this workspace"


@dataclass(frozen=True)
class DecisionRecord:
    """Where the decision stands, as a record of one revision states it.

    A record of an earlier revision is itself superseded, by the latest
    revision: the decision (and its approvals that count) is on that one,
    so the older record must not read as accepted.
    """

    # MADR's status: draft, proposed, accepted, rejected, superseded (by
    # another assessment), "superseded by revision N".
    status: str
    # For people: "Accepted", "Superseded by revision 3".
    label: str
    # When the record last changed: the revision's date, or the status's if later.
    date: datetime
    # ``decisions.panel_context``'s decision; None outside a workspace.
    decision: Mapping | None
    # The number of the latest revision, which the decision is on.
    latest: int
    # Read through a share link: other assessments go unnamed.
    shared: bool = False

    @property
    def reviews(self) -> list[tuple[object, str]]:
        """Every review (``decisions.Approval``) with whether it counts now, and if not why."""
        if self.decision is None:
            return []
        return [(approval, self._standing(approval)) for approval in self.decision["approvals"]]

    def _standing(self, approval) -> str:
        if approval.verdict != "approve":
            return ""
        if approval.counts:
            return "counted"
        if approval.revision < self.latest:
            return "not counted: an earlier revision"
        return "not counted"

    @property
    def taken(self) -> bool:
        return self.decision is not None and self.decision["status"] in TAKEN_STATUSES

    @property
    def approved_revision(self) -> int:
        """The revision the approvals are of: the accepted one once taken, else the latest."""
        acceptance = self.decision["acceptance"] if self.taken else None
        if acceptance is not None and acceptance.revision is not None:
            return acceptance.revision
        return self.latest

    @property
    def successor(self) -> str:
        """The assessment that supersedes this one, as a reader may see it named."""
        superseded_by = self.decision["superseded_by"] if self.decision else None
        if superseded_by is None or self.shared:
            return ANOTHER_DECISION
        return f"“{superseded_by.display_title}”"

    @property
    def approvals_sentence(self) -> str:
        """How many of the required approvals the decision has, as plain text.

        A taken decision says when it was accepted, with the approvals and the
        rule it was taken under, and when it was superseded: "Accepted on
        2026-11-30 with 2 of 2 required approvals of revision 1; superseded
        by “Chat v2” on 2027-01-12". Empty outside a workspace.
        """
        decision = self.decision
        if decision is None:
            return ""
        required = decision["required_approvals"]
        count = f"{decision['approval_count']} of {required} required approval{_s(required)}"
        if not self.taken:
            return f"{count} of the latest revision, revision {self.latest}"
        acceptance = decision["acceptance"]
        when = f" on {acceptance.at:%Y-%m-%d}" if acceptance is not None else ""
        sentence = f"Accepted{when} with {count} of revision {self.approved_revision}"
        if decision["status"] == "superseded":
            sentence += f"; superseded by {self.successor}"
            if decision["status_changed_at"] is not None:
                sentence += f" on {decision['status_changed_at']:%Y-%m-%d}"
        return sentence

    @property
    def predecessors(self) -> str:
        """What this decision supersedes: “Chat v1”, “Chat beta”; for a share
        link's holder, neither names nor how many."""
        older = self.decision["supersedes"] if self.decision else []
        if not older:
            return ""
        if self.shared:
            return EARLIER_DECISIONS
        return ", ".join(f"“{assessment.display_title}”" for assessment in older)


TAKEN_STATUSES = {"accepted", "superseded"}


def decision_record(
    decision: Mapping | None, revision: Revision, latest: int, *, shared: bool = False
) -> DecisionRecord:
    """The status a record of ``revision`` states, from the decision panel's data.

    No decision (an anonymous or unassigned assessment: nobody reviews it) is
    a draft. ``shared``: for a share link's holder, who must not learn other
    assessments' titles. Reads only what it is given: no query while the PDF
    is rendered.
    """
    date = revision.created_at
    if decision is None:
        return DecisionRecord("draft", "Draft", date, None, latest, shared)
    if revision.number < latest:
        return DecisionRecord(
            f"superseded by revision {latest}",
            f"Superseded by revision {latest}",
            date,
            decision,
            latest,
            shared,
        )
    changed = decision["status_changed_at"]
    if changed is not None and changed > date:
        date = changed
    record = DecisionRecord(
        RECORD_STATUSES[decision["status"]],
        decision["status_label"],
        date,
        decision,
        latest,
        shared,
    )
    if decision["superseded_by"] is not None:
        record = replace(record, label=f"Superseded by {record.successor}")
    return record


def _s(number: int) -> str:
    return "" if number == 1 else "s"


def _points(number: int) -> str:
    return f"{number} point{'' if number == 1 else 's'}"
