"""The case library: real systems, the transport they chose, and "products like yours".

Each catalogue version may have a library in ``catalogues/cases/<version>.json``:
named systems whose transport choice is publicly documented, each with a
source, and the answers to that catalogue's questions that describe it.
Plain functions over frozen dataclasses, as the scoring engine is.

Two uses:

- ``similar_cases``: the closest cases to an answer set, by a weighted
  distance over the answers (see ``question_weights``), with the answers where
  each differs;
- ``agreement``: the engine scores every case, and its verdict is compared
  with what the case chose (the library holds the engine to practice; a
  disagreement is either fixed in a newer catalogue or kept in the data as a
  documented ``exception``).

The measures are documented in docs/cases.md.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import MappingProxyType

from .catalogue import (
    TRANSPORTS,
    Catalogue,
    CatalogueError,
    Preset,
    Question,
    Source,
    get_catalogue,
    version_key,
)
from .scoring import Result, evaluate, validate_answers

LIBRARY_DIR = Path(__file__).resolve().parent / "catalogues" / "cases"

DOMAINS = {
    "chat": "Chat and collaboration",
    "llm": "Language models and speech",
    "market-data": "Market data",
    "dashboards": "Dashboards",
    "feeds": "Feeds",
    "developer-tools": "Developer tooling",
    "devices": "Devices and telemetry",
    "games": "Games",
    "public-events": "Public event streams",
    "notifications": "Notifications",
    "frameworks": "Frameworks and services",
}
# What a case chose: one transport, or both offered side by side.
CHOICES = (*TRANSPORTS, "both")
# single: one transport; fallback: one, and another when it fails; hybrid: one
# transport down and plain HTTP requests (or the other transport) up; both:
# the system offers both and lets the client pick.
STYLES = ("single", "fallback", "hybrid", "both")
CHOICE_NAMES = {"websocket": "WebSocket", "sse": "SSE", "both": "Both"}

# How many cases a result shows, and how far below the third the fourth and
# fifth may fall and still be shown. Nearest neighbours in the library sit
# close together (a median of about 0.97), so a wider window would show five
# nearly every time and the count would say nothing.
SHOWN_AT_LEAST, SHOWN_AT_MOST, SHOWN_WITHIN = 3, 5, 0.02
# Answer sets whose closest cases each library keeps (a few KB each).
SIMILAR_KEPT = 1024
# The page and the PDF name this many differences per case (the API all of them).
SHOWN_DIFFERENCES = 4
# A differing answer that gives the same points still counts this much of
# its question's weight: the systems differ, even if the score does not see it.
SAME_POINTS_DIFFERENCE = 0.25
# What a differing answer shows for "yours" when the answer set never had the
# question (an assessment of an older catalogue): the default stood in for it.
NOT_ASKED = "not asked (counted as the default)"


@dataclass(frozen=True)
class Case:
    slug: str
    name: str
    domain: str
    transport: str
    style: str
    uses: str
    summary: str
    answers: Mapping[str, str]
    source: Source
    # How a stream that is neither WebSocket nor SSE (NDJSON, chunked JSON) is counted.
    wire: str = ""
    # The catalogue patterns that describe a fallback or hybrid; empty: not checked.
    patterns: tuple[str, ...] = ()
    # Why the engine's disagreement with this case is kept; empty: it must agree.
    exception: str = ""

    @property
    def transport_name(self) -> str:
        return CHOICE_NAMES[self.transport]

    @property
    def domain_title(self) -> str:
        return DOMAINS[self.domain]

    @property
    def scored(self) -> bool:
        """Whether the engine is held to this case: it chose one transport."""
        return self.transport in TRANSPORTS


@dataclass(frozen=True)
class Library:
    # The catalogue version whose questions the cases answer.
    version: str
    cases: tuple[Case, ...]
    # similar_cases' answers, by answer set: a revision's PDF asks on every
    # download, and comparing with every case was a quarter of its CPU.
    _similar: dict = field(default_factory=dict, init=False, compare=False, repr=False)

    @property
    def catalogue(self) -> Catalogue:
        return get_catalogue(self.version)

    def case(self, slug: str) -> Case | None:
        return next((case for case in self.cases if case.slug == slug), None)


def available_libraries() -> list[str]:
    return sorted(
        (path.stem for path in LIBRARY_DIR.glob("*.json")),
        key=lambda version: tuple(int(part) for part in version.split(".") if part.isdigit()),
    )


@cache
def get_library(version: str | None = None) -> Library:
    """The library for catalogue ``version``: the newest one not newer than it.

    A catalogue older than every library (versions 1 and 2) gets the oldest
    library: their answers are compared after ``comparable_answers``.
    """
    versions = available_libraries()
    if not versions:
        raise CatalogueError(f"no case library in {LIBRARY_DIR}")
    chosen = versions[0]
    if version is None:
        chosen = versions[-1]
    else:
        key = version_key(version)
        for candidate in versions:
            if version_key(candidate) <= key:
                chosen = candidate
    data = json.loads((LIBRARY_DIR / f"{chosen}.json").read_text(encoding="utf-8"))
    return parse_library(data, get_catalogue(str(data["version"])))


def parse_library(data: Mapping, catalogue: Catalogue) -> Library:
    """Build a library and check every case against ``catalogue``."""
    try:
        cases = tuple(_case(entry) for entry in data["cases"])
    except (KeyError, TypeError) as error:
        raise CatalogueError(f"malformed case library: {error!r}") from error
    library = Library(version=str(data["version"]), cases=cases)
    if library.version != catalogue.version:
        raise CatalogueError(
            f"case library {library.version} checked against catalogue {catalogue.version}"
        )
    seen: set[str] = set()
    for case in cases:
        if case.slug in seen:
            raise CatalogueError(f"duplicate case {case.slug!r}")
        seen.add(case.slug)
        problems = case_problems(case, catalogue)
        if problems:
            raise CatalogueError(f"case {case.slug}: {'; '.join(problems)}")
    return library


def _case(entry: Mapping) -> Case:
    return Case(
        slug=entry["slug"],
        name=entry["name"],
        domain=entry["domain"],
        transport=entry["transport"],
        style=entry.get("style", "single"),
        uses=entry["uses"],
        summary=entry["summary"],
        answers=MappingProxyType(dict(entry["answers"])),
        source=Source(
            slug=entry["slug"], title=entry["source"]["title"], url=entry["source"]["url"]
        ),
        wire=entry.get("wire", ""),
        patterns=tuple(entry.get("patterns", ())),
        exception=entry.get("exception", ""),
    )


def case_problems(case: Case, catalogue: Catalogue) -> list[str]:
    """What is wrong with one case's data, in words (empty when nothing is)."""
    problems = [
        f"{slug}: {message}"
        for slug, message in validate_answers(catalogue, dict(case.answers)).items()
    ]
    missing = [
        question.slug for question in catalogue.questions if question.slug not in case.answers
    ]
    if missing:
        # Optional questions too: a case describes a real system, all of it.
        problems.append(f"no answer to {', '.join(missing)}")
    if case.domain not in DOMAINS:
        problems.append(f"unknown domain {case.domain!r}")
    if case.transport not in CHOICES:
        problems.append(f"transport must be one of {', '.join(CHOICES)}")
    if case.style not in STYLES or (case.style == "both") != (case.transport == "both"):
        problems.append(
            "style must be one of single, fallback, hybrid, both (both for transport both)"
        )
    if not case.source.url.startswith("https://"):
        problems.append("the source needs an https:// address")
    unknown = [slug for slug in case.patterns if catalogue.pattern(slug) is None]
    if unknown:
        problems.append(f"unknown patterns {', '.join(unknown)}")
    return problems


# --- Products like yours ------------------------------------------------------


def _net(question: Question, value: str) -> int:
    points = question.option(value).points
    return points["websocket"] - points["sse"]


def question_weights(catalogue: Catalogue) -> Mapping[str, int]:
    """How much each question can move the verdict on its own, in points.

    The spread of its options: the most WebSocket-leaning option's net points
    minus the most SSE-leaning one's. What decides verdicts weighs most when
    comparing; an interaction bonus is added per comparison, only where it
    applies (``_bonus``).
    """
    weights = {}
    for question in catalogue.questions:
        nets = [_net(question, value) for value in question.values]
        weights[question.slug] = max(nets) - min(nets)
    return MappingProxyType(weights)


def _bonus(catalogue: Catalogue, question: Question, *answer_sets: Mapping[str, str]) -> int:
    """The largest interaction bonus ``question``'s answer earns in any of ``answer_sets``.

    A question whose answer makes another decisive (continuous input under a
    real-time budget) weighs more in a comparison only where that happens on
    at least one side, not everywhere because it could.
    """
    return max(
        (
            abs(interaction.points["websocket"] - interaction.points["sse"])
            for answers in answer_sets
            for interaction in catalogue.interactions_of(
                question.slug, answers.get(question.slug, "")
            )
            if all(answers.get(slug) in values for slug, values in interaction.when.items())
        ),
        default=0,
    )


def comparable_answers(catalogue: Catalogue, answers: Mapping[str, str]) -> dict[str, str]:
    """``answers`` as ``catalogue`` reads them: unknown ones dropped, defaults filled in."""
    kept = {
        slug: value
        for slug, value in answers.items()
        if catalogue.question(slug) is not None and catalogue.question(slug).option(value)
    }
    return catalogue.with_defaults(kept)


@dataclass(frozen=True)
class Difference:
    question: Question
    yours: str
    theirs: str
    # False where the answer set never had this question and its default stood in.
    asked: bool = True

    @property
    def yours_label(self) -> str:
        return self.question.option(self.yours).label if self.asked else NOT_ASKED

    @property
    def theirs_label(self) -> str:
        return self.question.option(self.theirs).label


@dataclass(frozen=True)
class Match:
    case: Case
    similarity: float
    differences: tuple[Difference, ...]
    # How many questions were compared (both sides have an answer).
    compared: int = 0

    @property
    def same(self) -> int:
        """How many of the compared answers are the same: what the page shows."""
        return self.compared - len(self.differences)

    @property
    def main_differences(self) -> tuple[Difference, ...]:
        """The most decisive differences, as many as a reader takes in at a glance."""
        return self.differences[:SHOWN_DIFFERENCES]

    @property
    def more_differences(self) -> int:
        return max(0, len(self.differences) - SHOWN_DIFFERENCES)

    def to_dict(self) -> dict:
        """One entry of the API's ``similar_cases``."""
        return {
            "name": self.case.name,
            "transport": self.case.transport,
            "similarity": round(self.similarity, 2),
            "same_answers": self.same,
            "compared_answers": self.compared,
            "wire": self.case.wire,
            "exception": self.case.exception,
            "differing_answers": [
                {
                    "question": difference.question.slug,
                    "question_text": difference.question.text,
                    "yours": difference.yours,
                    "yours_label": difference.yours_label,
                    "theirs": difference.theirs,
                    "theirs_label": difference.theirs_label,
                }
                for difference in self.differences
            ],
            "source": {"title": self.case.source.title, "url": self.case.source.url},
        }


def similarity(
    catalogue: Catalogue,
    answers: Mapping[str, str],
    case: Case,
    weights: Mapping[str, int] | None = None,
    asked: frozenset[str] | None = None,
) -> Match:
    """How alike ``answers`` and ``case`` are, from 0 (opposite) to 1 (the same answers).

    1 minus the weighted share of disagreement: each question answered
    differently counts its weight times how far apart the two answers' points
    are (as a share of the question's spread, at least SAME_POINTS_DIFFERENCE).
    Questions either side leaves unanswered are left out. A question weighs
    its ``question_weights`` plus any interaction bonus its answer earns on
    either side. ``weights``: the catalogue's ``question_weights``, when the
    caller already has them; ``asked``: the questions the answer set really
    had (the others hold defaults), all of them when None.
    """
    weights = weights or question_weights(catalogue)
    total = distance = 0.0
    compared = 0
    differences = []
    for question in catalogue.questions:
        yours, theirs = answers.get(question.slug), case.answers.get(question.slug)
        if yours is None or theirs is None:
            continue
        compared += 1
        spread = weights[question.slug]
        weight = spread + _bonus(catalogue, question, answers, case.answers)
        total += weight
        if yours == theirs:
            continue
        differences.append(
            Difference(question, yours, theirs, asked is None or question.slug in asked)
        )
        apart = abs(_net(question, yours) - _net(question, theirs)) / spread if spread else 0.0
        distance += weight * max(apart, SAME_POINTS_DIFFERENCE)
    # Strongest differences first: the ones a reader should look at.
    differences.sort(key=lambda difference: -weights[difference.question.slug])
    return Match(case, 1 - distance / total if total else 0.0, tuple(differences), compared)


def similar_cases(answers: Mapping[str, str], library: Library | None = None) -> tuple[Match, ...]:
    """The three to five cases closest to ``answers``, closest first.

    Kept per library and answer set (at most ``SIMILAR_KEPT``): the answer
    depends on nothing else, and its matches are immutable.
    """
    library = library or get_library()
    key = tuple(sorted(answers.items()))
    found = library._similar.get(key)
    if found is None:
        found = _closest(answers, library)
        if len(library._similar) >= SIMILAR_KEPT:
            library._similar.clear()
        library._similar[key] = found
    return found


def _closest(answers: Mapping[str, str], library: Library) -> tuple[Match, ...]:
    catalogue = library.catalogue
    mine = comparable_answers(catalogue, answers)
    weights = question_weights(catalogue)
    asked = frozenset(answers)
    ranked = sorted(
        (similarity(catalogue, mine, case, weights, asked) for case in library.cases),
        key=lambda match: (-match.similarity, match.case.name),
    )
    if len(ranked) <= SHOWN_AT_LEAST:
        return tuple(ranked)
    floor = ranked[SHOWN_AT_LEAST - 1].similarity - SHOWN_WITHIN
    extra = [match for match in ranked[SHOWN_AT_LEAST:SHOWN_AT_MOST] if match.similarity >= floor]
    return tuple(ranked[:SHOWN_AT_LEAST] + extra)


@dataclass(frozen=True)
class Evidence:
    """The closest cases beside a verdict, and whether they mostly went the other way."""

    matches: tuple[Match, ...]
    recommendation: str
    library_version: str

    @property
    def chose(self) -> Mapping[str, int]:
        """How many of the shown cases chose each single transport."""
        return {
            transport: sum(1 for match in self.matches if match.case.transport == transport)
            for transport in TRANSPORTS
        }

    @property
    def other(self) -> str:
        return "sse" if self.recommendation == "websocket" else "websocket"

    @property
    def other_name(self) -> str:
        return CHOICE_NAMES[self.other]

    @property
    def other_count(self) -> int:
        """Shown cases that chose the other transport and are not documented exceptions."""
        return sum(
            1
            for match in self.matches
            if match.case.transport == self.other and not match.case.exception
        )

    @property
    def mostly_other(self) -> bool:
        """More than half of the shown cases chose the other transport, not as exceptions.

        A documented exception chose against what its own answers score, for
        reasons outside the questionnaire: it is shown, and named apart
        (``exceptions``), but it does not count towards this notice.
        """
        return self.other_count * 2 > len(self.matches)

    @property
    def exceptions(self) -> tuple[Match, ...]:
        """The shown cases the library keeps as documented exceptions to the engine."""
        return tuple(match for match in self.matches if match.case.exception)

    @property
    def notice(self) -> str:
        """The plain sentence beside the verdict (page and PDF alike), or ""."""
        if not self.mostly_other:
            return ""
        return (
            f"Most of the closest real systems chose {self.other_name}, not "
            f"{CHOICE_NAMES[self.recommendation]}: {self.other_count} of the "
            f"{len(self.matches)} shown under \u201cProducts like yours\u201d."
        )

    @property
    def exceptions_note(self) -> str:
        """Which close systems are documented exceptions (page and PDF alike), or ""."""
        if not self.exceptions:
            return ""
        count = len(self.exceptions)
        names = ", ".join(
            f"{match.case.name} ({match.case.transport_name})" for match in self.exceptions
        )
        return (
            f"{count} close system{'s are' if count > 1 else ' is a'} documented "
            f"exception{'s' if count > 1 else ''} to the advice, chosen for reasons the "
            f"questionnaire does not ask about: {names}."
        )


def _library_or_none() -> Library | None:
    """The newest library, or None where its catalogue is not published.

    Only a test that swaps the catalogue directory meets None: the library
    test checks the shipped library against the shipped catalogue.
    """
    try:
        library = get_library()
        library.catalogue  # noqa: B018 - loads it, so that a missing one is known here
    except CatalogueError:
        return None
    return library


def evidence(answers: Mapping[str, str], recommendation: str) -> Evidence | None:
    """What the result page and the PDF show of the library for one result.

    Any revision's answers, of any catalogue version: they are compared as
    the library's catalogue reads them (``comparable_answers``), and the
    revision's own stored result is left as it was saved.
    """
    library = _library_or_none()
    if library is None:
        return None
    return Evidence(similar_cases(answers, library), recommendation, library.version)


def similar_cases_document(answers: Mapping[str, str]) -> list[dict]:
    """The API's ``similar_cases``: closest first."""
    library = _library_or_none()
    return (
        [] if library is None else [match.to_dict() for match in similar_cases(answers, library)]
    )


def case_preset(catalogue: Catalogue, slug: str) -> Preset | None:
    """A case's answers as a preset of ``catalogue``: "start an assessment from this case"."""
    library = _library_or_none()
    case = library.case(slug) if library else None
    if case is None:
        return None
    return Preset(
        slug=case.slug,
        title=case.name,
        description=case.summary,
        answers=MappingProxyType(comparable_answers(catalogue, case.answers)),
    )


# --- The library holds the engine ---------------------------------------------


@dataclass(frozen=True)
class Verdict:
    case: Case
    result: Result

    @property
    def agrees(self) -> bool:
        """The engine recommends what the case chose (and its pattern, where one is named)."""
        if not self.case.scored or self.result.recommendation != self.case.transport:
            return False
        return not self.case.patterns or self.result.pattern.slug in self.case.patterns


def verdicts(library: Library, catalogue: Catalogue | None = None) -> tuple[Verdict, ...]:
    """Every case scored by ``catalogue`` (the library's own by default)."""
    catalogue = catalogue or library.catalogue
    return tuple(
        Verdict(
            case,
            evaluate(catalogue, comparable_answers(catalogue, case.answers), with_flips=False),
        )
        for case in library.cases
    )


@dataclass(frozen=True)
class Agreement:
    scored: int
    agreed: int
    exceptions: tuple[Verdict, ...]
    # Disagreements with no documented exception: the library test fails on these.
    unexplained: tuple[Verdict, ...]
    # Exceptions the engine now agrees with: their argument is stale.
    stale_exceptions: tuple[Verdict, ...]
    # Per confidence: (cases with it, of which chose the recommended transport).
    calibration: Mapping[str, tuple[int, int]]

    @property
    def share(self) -> float:
        return self.agreed / self.scored if self.scored else 0.0


def agreement(library: Library, catalogue: Catalogue | None = None) -> Agreement:
    scored = [verdict for verdict in verdicts(library, catalogue) if verdict.case.scored]
    calibration = {}
    for level in ("strong", "moderate", "slight"):
        at_level = [verdict for verdict in scored if verdict.result.confidence == level]
        chose = sum(
            1 for verdict in at_level if verdict.result.recommendation == verdict.case.transport
        )
        calibration[level] = (len(at_level), chose)
    return Agreement(
        scored=len(scored),
        agreed=sum(1 for verdict in scored if verdict.agrees),
        exceptions=tuple(v for v in scored if not v.agrees and v.case.exception),
        unexplained=tuple(v for v in scored if not v.agrees and not v.case.exception),
        stale_exceptions=tuple(v for v in scored if v.agrees and v.case.exception),
        calibration=MappingProxyType(calibration),
    )


def agreement_lines(summary: Agreement) -> list[str]:
    """The agreement in a few lines, for the test report and docs/cases.md."""
    lines = [
        f"{summary.agreed} of {summary.scored} cases agree with the engine "
        f"({summary.share:.0%}); {len(summary.exceptions)} documented exceptions, "
        f"{len(summary.unexplained)} unexplained."
    ]
    for level, (count, chose) in summary.calibration.items():
        share = f"{chose / count:.0%}" if count else "n/a"
        lines.append(f"{level}: {count} cases, {chose} chose the recommended transport ({share})")
    lines.extend(
        f"exception: {verdict.case.name} chose {verdict.case.transport_name}, "
        f"engine says {CHOICE_NAMES[verdict.result.recommendation]} "
        f"({verdict.result.confidence}, WebSocket {_scores(verdict.result)})"
        for verdict in summary.exceptions
    )
    lines.extend(
        f"UNEXPLAINED: {verdict.case.name} chose {verdict.case.transport_name}, engine says "
        f"{CHOICE_NAMES[verdict.result.recommendation]} (pattern {verdict.result.pattern.slug})"
        for verdict in summary.unexplained
    )
    return lines


def _scores(result: Result) -> str:
    return f"{result.scores['websocket']} to SSE {result.scores['sse']}"
