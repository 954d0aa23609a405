"""The scoring engine: answers + catalogue -> a recommendation an expert would sign.

Plain functions over the catalogue's dataclasses: no ORM, no request, no
settings. Each answer gives points to ``websocket`` and ``sse``; interactions in
the catalogue add decisive points when answers combine (continuous input under
a real-time budget, binary at high rates), so many mild answers cannot outvote
them. The verdict is the transport with more points, its confidence the margin
as a share of all points.

An optional question left unanswered counts as its default everywhere here
(scores, conditions, flips), through ``Catalogue.with_defaults``.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from .catalogue import TRANSPORTS, Catalogue, Question, Rule, Source

Answers = Mapping[str, str]

NEUTRAL = "neutral"


@dataclass(frozen=True)
class Contribution:
    """What one answer added to each transport's score, and why."""

    question: Question
    answer: str
    answer_label: str
    points: Mapping[str, int]
    reason: str
    source: Source | None

    @property
    def net(self) -> int:
        """Points towards WebSocket minus points towards SSE."""
        return self.points["websocket"] - self.points["sse"]

    @property
    def favours(self) -> str:
        if self.net > 0:
            return "websocket"
        return "sse" if self.net < 0 else NEUTRAL

    @property
    def strength(self) -> int:
        return abs(self.net)


@dataclass(frozen=True)
class Change:
    question: Question
    before: str
    after: str

    @property
    def before_label(self) -> str:
        return self.question.option(self.before).label

    @property
    def after_label(self) -> str:
        return self.question.option(self.after).label


@dataclass(frozen=True)
class Flip:
    """A smallest set of answer changes that reverses the recommendation."""

    changes: tuple[Change, ...]
    recommendation: str
    scores: Mapping[str, int]


@dataclass(frozen=True)
class Result:
    catalogue: Catalogue
    answers: Mapping[str, str]
    recommendation: str
    confidence: str
    margin: float
    scores: Mapping[str, int]
    sections: Mapping[str, Mapping[str, int]]
    reasons: tuple[Contribution, ...]
    pattern: Rule
    caveats: tuple[Rule, ...]
    flips: tuple[Flip, ...]

    @property
    def complete(self) -> bool:
        return len(self.answers) == len(self.catalogue.questions)

    @property
    def websocket_share(self) -> int:
        """WebSocket's part of the leaning bars, in percent, to the nearest 5.

        Each side counts one point more than it has (points are never
        negative), so that a side with none still shows. A step of 5 because
        the bars take their widths from classes in app.css (.ws-share-0 to
        .ws-share-100): the Content-Security-Policy refuses style attributes.
        """
        websocket, sse = self.scores["websocket"] + 1, self.scores["sse"] + 1
        return round(websocket / (websocket + sse) * 20) * 5

    @property
    def other(self) -> str:
        return other_transport(self.recommendation)

    @property
    def transport_name(self) -> str:
        return self.catalogue.transport_names[self.recommendation]

    @property
    def checklist(self):
        return self.catalogue.checklists[self.recommendation]

    def to_dict(self) -> dict:
        """The JSON document of the API, and the snapshot a revision stores."""
        return {
            "catalogue_version": self.catalogue.version,
            "recommendation": self.recommendation,
            "confidence": self.confidence,
            "margin": round(self.margin, 3),
            "scores": dict(self.scores),
            "sections": {slug: dict(scores) for slug, scores in self.sections.items()},
            "pattern": {
                "slug": self.pattern.slug,
                "title": self.pattern.title,
                "description": self.pattern.text,
            },
            "reasons": [
                {
                    "question": reason.question.slug,
                    "answer": reason.answer,
                    "favours": reason.favours,
                    "points": reason.strength,
                    # What it gave each side: an answer may give both, and
                    # then ``points`` (the difference) hides what the totals count.
                    "scores": dict(reason.points),
                    "reason": reason.reason,
                    "section": reason.question.section,
                    "question_text": reason.question.text,
                    "answer_label": reason.answer_label,
                    "source": _source_dict(reason.source),
                }
                for reason in self.reasons
            ],
            "caveats": [
                {
                    "slug": caveat.slug,
                    "title": caveat.title,
                    "text": caveat.text,
                    "source": _source_dict(caveat.source),
                }
                for caveat in self.caveats
            ],
            "flips": [
                {
                    "recommendation": flip.recommendation,
                    "scores": dict(flip.scores),
                    "changes": [
                        {
                            "question": change.question.slug,
                            "from": change.before,
                            "to": change.after,
                            "question_text": change.question.text,
                            "from_label": change.before_label,
                            "to_label": change.after_label,
                        }
                        for change in flip.changes
                    ],
                }
                for flip in self.flips
            ],
            "checklist": {
                "implementation": list(self.checklist.implementation),
                "security": list(self.checklist.security),
            },
        }


def _source_dict(source: Source | None) -> dict | None:
    return None if source is None else {"title": source.title, "url": source.url}


def other_transport(transport: str) -> str:
    return "sse" if transport == "websocket" else "websocket"


def validate_answers(
    catalogue: Catalogue, answers: object, *, partial: bool = False
) -> dict[str, str]:
    """Every problem with ``answers``, keyed by question slug (empty when valid)."""
    if not isinstance(answers, Mapping):
        return {"answers": "must be an object mapping question slugs to option values"}
    errors: dict[str, str] = {}
    for slug, value in answers.items():
        question = catalogue.question(slug) if isinstance(slug, str) else None
        if question is None:
            errors[str(slug)] = "unknown question"
        elif not isinstance(value, str) or question.option(value) is None:
            expected = ", ".join(question.values)
            errors[slug] = f"unknown option {value!r}; expected one of {expected}"
    if not partial:
        for question in catalogue.questions:
            if question.slug not in answers and not question.optional:
                errors[question.slug] = "this question needs an answer"
    return errors


def matches(when: Mapping[str, frozenset[str]], facts: Mapping[str, str]) -> bool:
    """True when every condition holds; a condition on a missing fact fails."""
    return all(facts.get(key) in values for key, values in when.items())


def contributions(
    catalogue: Catalogue, answers: Answers, questions: Iterable[Question] | None = None
) -> list[Contribution]:
    """Each answered question's points, in catalogue order (or of ``questions``)."""
    answers = catalogue.with_defaults(answers)
    result = []
    for question in catalogue.questions if questions is None else questions:
        value = answers.get(question.slug)
        if value is None:
            continue
        option = question.option(value)
        if question.void_when and matches(question.void_when, answers):
            result.append(
                Contribution(
                    question=question,
                    answer=value,
                    answer_label=option.label,
                    points=dict.fromkeys(TRANSPORTS, 0),
                    reason=question.void_reason,
                    source=option.source,
                )
            )
            continue
        points = dict(option.points)
        reason = option.reason
        for interaction in catalogue.interactions_of(question.slug, value):
            if matches(interaction.when, answers):
                for transport in TRANSPORTS:
                    points[transport] += interaction.points[transport]
                reason = f"{reason} {interaction.reason}"
        result.append(
            Contribution(
                question=question,
                answer=value,
                answer_label=option.label,
                points=points,
                reason=reason,
                source=option.source,
            )
        )
    return result


def net_score(
    catalogue: Catalogue, answers: Answers, questions: Iterable[Question] | None = None
) -> int:
    """WebSocket's points minus SSE's: the whole verdict in one number.

    The same arithmetic as ``contributions`` without building its records;
    the flip search calls it many times per evaluation.
    """
    answers = catalogue.with_defaults(answers)
    total = 0
    for question in catalogue.questions if questions is None else questions:
        value = answers.get(question.slug)
        if value is None or (question.void_when and matches(question.void_when, answers)):
            continue
        points = question.option(value).points
        total += points["websocket"] - points["sse"]
        for interaction in catalogue.interactions_of(question.slug, value):
            if matches(interaction.when, answers):
                total += interaction.points["websocket"] - interaction.points["sse"]
    return total


def verdict(catalogue: Catalogue, scores: Mapping[str, int]) -> tuple[str, str, float]:
    """(recommendation, confidence, margin) from the two totals."""
    websocket, sse = scores["websocket"], scores["sse"]
    if websocket == sse:
        recommendation = catalogue.tie_break
    else:
        recommendation = "websocket" if websocket > sse else "sse"
    total = websocket + sse
    margin = abs(websocket - sse) / total if total else 0.0
    if margin >= catalogue.strong_margin:
        confidence = "strong"
    elif margin >= catalogue.moderate_margin:
        confidence = "moderate"
    else:
        confidence = "slight"
    return recommendation, confidence, margin


def evaluate(catalogue: Catalogue, answers: Answers, *, with_flips: bool = True) -> Result:
    """Score ``answers`` (validated, possibly partial) against ``catalogue``."""
    answers = catalogue.with_defaults(answers)
    parts = contributions(catalogue, answers)
    scores = {transport: sum(part.points[transport] for part in parts) for transport in TRANSPORTS}
    sections = {
        section.slug: {
            transport: sum(
                part.points[transport] for part in parts if part.question.section == section.slug
            )
            for transport in TRANSPORTS
        }
        for section in catalogue.sections
    }
    recommendation, confidence, margin = verdict(catalogue, scores)
    facts = {**answers, "recommendation": recommendation, "confidence": confidence}
    pattern = next(rule for rule in catalogue.patterns if matches(rule.when, facts))
    caveats = tuple(rule for rule in catalogue.caveats if matches(rule.when, facts))
    # Strongest first; ties keep catalogue order (sorted is stable).
    reasons = tuple(sorted(parts, key=lambda part: -part.strength))
    flips = find_flips(catalogue, answers, recommendation) if with_flips else ()
    return Result(
        catalogue=catalogue,
        answers=dict(answers),
        recommendation=recommendation,
        confidence=confidence,
        margin=margin,
        scores=scores,
        sections=sections,
        reasons=reasons,
        pattern=pattern,
        caveats=caveats,
        flips=flips,
    )


# --- What would flip it -------------------------------------------------------
#
# Most questions add their points independently of the others; a few are
# coupled through interactions and void conditions. Coupled questions are
# grouped and each group's joint answers enumerated exactly; independent
# questions are then taken greedily, best gain first, which is exact for an
# additive sum. Its cost does not grow with the number of changes needed,
# where a brute-force search grows by a factor of about ten per extra change.


def find_flips(
    catalogue: Catalogue, answers: Answers, recommendation: str, *, limit: int = 3
) -> tuple[Flip, ...]:
    """Up to ``limit`` smallest sets of answer changes that reverse the verdict.

    An optional question's default is an answer like any other: changing it
    (to what a measurement found, say) can be part of a flip.
    """
    answers = catalogue.with_defaults(answers)
    target = other_transport(recommendation)
    sign = 1 if target == "websocket" else -1

    def advantage(candidate: Answers) -> int:
        return sign * net_score(catalogue, candidate)

    def flipped(value: int) -> bool:
        return value > 0 or (value == 0 and catalogue.tie_break == target)

    answered = [question for question in catalogue.questions if question.slug in answers]
    groups = _coupled_groups(catalogue, answered)
    coupled = {slug for group in groups for slug in group}
    base = advantage(answers)

    # Independent questions: the single best change of each, by gain.
    singles: list[tuple[int, Change]] = []
    for question in answered:
        if question.slug in coupled:
            continue
        current = answers[question.slug]
        best = max(
            (
                (sign * (_option_net(question, value) - _option_net(question, current)), value)
                for value in question.values
                if value != current
            ),
            default=None,
        )
        if best is not None and best[0] > 0:
            singles.append((best[0], Change(question, current, best[1])))
    singles.sort(key=lambda item: -item[0])

    # Coupled groups: joint assignments with their exact gains, merged group by
    # group. Groups do not affect each other's points, so a combination's gain
    # is the sum of its parts and only the best gains per change count matter.
    combined: list[tuple[int, tuple[Change, ...]]] = [(0, ())]
    for group in groups:
        options = _group_assignments(catalogue, answers, group, sign)
        combined = _best_per_count(
            (gain + more, changes + extra) for gain, changes in combined for more, extra in options
        )
    # gains_upto[n]: the most that n independent changes can gain (non-decreasing).
    gains_upto = list(itertools.accumulate((gain for gain, _ in singles), initial=0))
    needed = 0 if catalogue.tie_break == target else 1
    candidates: list[tuple[int, int, tuple[Change, ...]]] = []
    for gain, changes in combined:
        value = base + gain
        # Then the fewest independent changes that finish the job.
        count = bisect.bisect_left(gains_upto, needed - value)
        if count < len(gains_upto):
            extra = tuple(change for _, change in singles[:count])
            candidates.append(
                (len(changes) + count, -(value + gains_upto[count]), changes + extra)
            )
    if not candidates:
        return ()
    fewest = min(cost for cost, _, _ in candidates)
    best = sorted(
        (candidate for candidate in candidates if candidate[0] == fewest),
        key=lambda item: item[1],
    )
    flips = [candidate[2] for candidate in best]
    # Alternatives of the same size: swap the last independent change for the
    # next best one, so the user sees more than one way out when there is one.
    for changes in list(flips):
        if changes and changes[-1].question.slug not in coupled:
            used = {change.question.slug for change in changes}
            for _, change in singles:
                if change.question.slug not in used:
                    flips.append(changes[:-1] + (change,))
    result: list[Flip] = []
    seen: set[frozenset] = set()
    for changes in flips:
        key = frozenset((change.question.slug, change.after) for change in changes)
        trial = {**answers, **{change.question.slug: change.after for change in changes}}
        if key in seen or not flipped(advantage(trial)):
            continue
        seen.add(key)
        scores = evaluate(catalogue, trial, with_flips=False).scores
        result.append(Flip(changes=changes, recommendation=target, scores=scores))
        if len(result) == limit:
            break
    return tuple(result)


def _option_net(question: Question, value: str) -> int:
    points = question.option(value).points
    return points["websocket"] - points["sse"]


def _coupled_groups(catalogue: Catalogue, answered: Iterable[Question]) -> list[list[str]]:
    """Answered questions whose points depend on each other, as connected groups."""
    answered_slugs = {question.slug for question in answered}
    links: dict[str, set[str]] = {}

    def link(slugs: set[str]) -> None:
        slugs &= answered_slugs
        for slug in slugs:
            links.setdefault(slug, set()).update(slugs)

    for interaction in catalogue.interactions:
        link({interaction.question, *interaction.when})
    for question in catalogue.questions:
        if question.void_when:
            link({question.slug, *question.void_when})
    groups: list[list[str]] = []
    seen: set[str] = set()
    for start in sorted(links):
        if start in seen:
            continue
        group, stack = [], [start]
        while stack:
            slug = stack.pop()
            if slug in seen:
                continue
            seen.add(slug)
            group.append(slug)
            stack.extend(links[slug] - seen)
        groups.append(sorted(group))
    return groups


def _group_assignments(
    catalogue: Catalogue, answers: Answers, group: list[str], sign: int, keep: int = 3
) -> list[tuple[int, tuple[Change, ...]]]:
    """A coupled group's joint answers worth combining, as (gain towards the target, changes).

    Groups add up independently, so for each number of changes only the
    largest gains can be part of a smallest flip; ``keep`` of them per count
    leave room for alternatives while keeping the combinations few.
    """
    questions = [catalogue.question(slug) for slug in group]
    current = sign * net_score(catalogue, answers, questions)
    assignments = []
    for values in itertools.product(*(question.values for question in questions)):
        trial = {**answers, **dict(zip(group, values, strict=True))}
        gain = sign * net_score(catalogue, trial, questions) - current
        changes = tuple(
            Change(question, answers[question.slug], value)
            for question, value in zip(questions, values, strict=True)
            if value != answers[question.slug]
        )
        assignments.append((gain, changes))
    return _best_per_count(assignments, keep)


def _best_per_count(
    assignments: Iterable[tuple[int, tuple[Change, ...]]], keep: int = 3
) -> list[tuple[int, tuple[Change, ...]]]:
    """The ``keep`` largest gains for each number of changes."""
    by_count: dict[int, list[tuple[int, tuple[Change, ...]]]] = {}
    for gain, changes in assignments:
        by_count.setdefault(len(changes), []).append((gain, changes))
    return [
        assignment
        for count in sorted(by_count)
        for assignment in sorted(by_count[count], key=lambda item: -item[0])[:keep]
    ]
