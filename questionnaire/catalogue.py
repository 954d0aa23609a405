"""The question catalogue: versioned data files read once, as frozen dataclasses.

Every catalogue version ever published stays in ``catalogues/<version>.json`` so
that a saved assessment can always be shown with the wording it was scored with.
The newest version is the one new assessments use. Adding a question, an
option, a caveat or a pattern is a change to the data file, not to the code.

A question may be optional (``"optional": true`` with a ``"default"`` option):
an answer set without it counts as answering the default, everywhere. That
lets a question be added, such as one a measurement answers, without
breaking clients that send the previous version's answers.

A question a measurement can answer says so with ``"measured_by"``: which
check (``"network"``), which of its measures, and the option each outcome of
that measure stands for. The check reads this mapping to suggest answers, and
the wizard offers the check on every section with such a question, so the
wording and the options stay in the data file with the rest.

A version may say what it changed since the one before in ``"changelog"`` (a
list of sentences): a stale assessment's page quotes it beside what the newer
version says of the same answers (``rescoring.py``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import MappingProxyType

TRANSPORTS = ("websocket", "sse")
CATALOGUE_DIR = Path(__file__).resolve().parent / "catalogues"
# Directories published beside CATALOGUE_DIR: none in production. Tests put a
# future version here to make it the current one without shipping it.
EXTRA_CATALOGUE_DIRS: list[Path] = []

# Keys a rule's ``when`` may test besides question slugs.
RESULT_KEYS = {"recommendation": set(TRANSPORTS), "confidence": {"strong", "moderate", "slight"}}


class CatalogueError(ValueError):
    """The data file is inconsistent; raised at start-up, never per request."""


@dataclass(frozen=True)
class Source:
    slug: str
    title: str
    url: str


@dataclass(frozen=True)
class Option:
    value: str
    label: str
    points: Mapping[str, int]
    reason: str
    source: Source


@dataclass(frozen=True)
class MeasuredBy:
    """How a check answers a question: ``outcomes`` maps what ``measure`` found to an option."""

    check: str
    measure: str
    outcomes: Mapping[str, str]


@dataclass(frozen=True)
class Question:
    slug: str
    section: str
    text: str
    help: str
    options: tuple[Option, ...]
    void_when: Mapping[str, frozenset[str]]
    void_reason: str
    # An optional question's missing answer counts as ``default``.
    optional: bool = False
    default: str | None = None
    measured_by: MeasuredBy | None = None
    _by_value: Mapping[str, Option] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_value", {option.value: option for option in self.options})

    def option(self, value: str) -> Option | None:
        return self._by_value.get(value)

    @property
    def values(self) -> tuple[str, ...]:
        return tuple(option.value for option in self.options)


@dataclass(frozen=True)
class Section:
    slug: str
    title: str
    description: str
    questions: tuple[Question, ...]

    @property
    def checks(self) -> tuple[str, ...]:
        """The checks that can answer some question of this section, each named once."""
        names = (question.measured_by.check for question in self.questions if question.measured_by)
        return tuple(dict.fromkeys(names))


@dataclass(frozen=True)
class Interaction:
    """Extra points for one answer when other answers make it decisive."""

    question: str
    answer: str
    when: Mapping[str, frozenset[str]]
    points: Mapping[str, int]
    reason: str


@dataclass(frozen=True)
class Rule:
    """A pattern or caveat that applies when every condition in ``when`` holds.

    A pattern that builds on both transports (a hybrid, a fallback) names the
    ``checklists`` it needs; empty means the recommended transport's alone.
    """

    slug: str
    when: Mapping[str, frozenset[str]]
    title: str
    text: str
    source: Source | None = None
    checklists: tuple[str, ...] = ()


@dataclass(frozen=True)
class Preset:
    """One of the built-in use cases, with the answers it usually has."""

    slug: str
    title: str
    description: str
    answers: Mapping[str, str]


@dataclass(frozen=True)
class Checklist:
    implementation: tuple[str, ...]
    security: tuple[str, ...]


@dataclass(frozen=True)
class Catalogue:
    version: str
    published: str
    transport_names: Mapping[str, str]
    sections: tuple[Section, ...]
    interactions: tuple[Interaction, ...]
    patterns: tuple[Rule, ...]
    caveats: tuple[Rule, ...]
    checklists: Mapping[str, Checklist]
    presets: tuple[Preset, ...]
    strong_margin: float
    moderate_margin: float
    tie_break: str
    # What this version changed since the one before, one sentence each.
    changelog: tuple[str, ...] = ()
    questions: tuple[Question, ...] = field(init=False, repr=False, compare=False)
    _index: Mapping[str, Question] = field(init=False, repr=False, compare=False)
    _defaults: Mapping[str, str] = field(init=False, repr=False, compare=False)
    _interactions: Mapping[tuple[str, str], tuple[Interaction, ...]] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        questions = tuple(question for section in self.sections for question in section.questions)
        object.__setattr__(self, "questions", questions)
        object.__setattr__(self, "_index", {question.slug: question for question in questions})
        object.__setattr__(
            self,
            "_defaults",
            {question.slug: question.default for question in questions if question.optional},
        )
        by_answer: dict[tuple[str, str], tuple[Interaction, ...]] = {}
        for interaction in self.interactions:
            key = (interaction.question, interaction.answer)
            by_answer[key] = (*by_answer.get(key, ()), interaction)
        object.__setattr__(self, "_interactions", by_answer)

    def interactions_of(self, question: str, answer: str) -> tuple[Interaction, ...]:
        """The interactions that may add points to this answer."""
        return self._interactions.get((question, answer), ())

    def question(self, slug: str) -> Question | None:
        return self._index.get(slug)

    def with_defaults(self, answers: Mapping[str, str]) -> dict[str, str]:
        """``answers`` with the default of every optional question they leave out.

        Scoring and storage both go through here, so an answer set without an
        optional question is scored, shown and stored as if it had answered
        the default.
        """
        filled = dict(answers)
        for slug, default in self._defaults.items():
            filled.setdefault(slug, default)
        return filled

    def measured_by(self, check: str) -> tuple[Question, ...]:
        """The questions ``check`` can answer, in the questionnaire's order."""
        return tuple(
            question
            for question in self.questions
            if question.measured_by and question.measured_by.check == check
        )

    def section(self, slug: str) -> Section | None:
        return next((section for section in self.sections if section.slug == slug), None)

    def pattern(self, slug: str) -> Rule | None:
        return next((pattern for pattern in self.patterns if pattern.slug == slug), None)

    def preset(self, slug: str) -> Preset | None:
        return next((preset for preset in self.presets if preset.slug == slug), None)


def available_versions() -> list[str]:
    """Every published catalogue version, oldest first."""
    return sorted(_catalogue_files(), key=version_key)


def catalogue_files() -> list[Path]:
    """Every published catalogue's data file (what a deploy fingerprint hashes)."""
    return list(_catalogue_files().values())


def _catalogue_files() -> dict[str, Path]:
    """Each version's data file; a version in CATALOGUE_DIR wins over an extra directory's."""
    files: dict[str, Path] = {}
    for directory in (CATALOGUE_DIR, *EXTRA_CATALOGUE_DIRS):
        for path in directory.glob("*.json"):
            files.setdefault(path.stem, path)
    return files


def version_key(version: str) -> tuple[int, ...]:
    """A version as it sorts, number by number: "10" after "9"."""
    return tuple(int(part) for part in version.split(".") if part.isdigit())


@cache
def get_catalogue(version: str | None = None) -> Catalogue:
    """The catalogue of ``version`` (the newest when None), parsed once per process."""
    files = _catalogue_files()
    if not files:
        raise CatalogueError(f"no catalogue files in {CATALOGUE_DIR}")
    if version is None:
        version = max(files, key=version_key)
    if version not in files:
        raise CatalogueError(f"unknown catalogue version {version!r}")
    path = files[version]
    catalogue = parse_catalogue(json.loads(path.read_text(encoding="utf-8")))
    if catalogue.version != version:
        raise CatalogueError(f"{path.name} declares version {catalogue.version!r}")
    return catalogue


def parse_catalogue(data: Mapping) -> Catalogue:
    """Build and cross-check a catalogue from its JSON document."""
    try:
        return _parse(data)
    except (KeyError, TypeError) as error:
        raise CatalogueError(f"malformed catalogue: {error!r}") from error


def _parse(data: Mapping) -> Catalogue:
    sources = {
        slug: Source(slug=slug, title=entry["title"], url=entry["url"])
        for slug, entry in data["sources"].items()
    }

    def source(slug: str | None) -> Source | None:
        if slug is None:
            return None
        if slug not in sources:
            raise CatalogueError(f"unknown source {slug!r}")
        return sources[slug]

    sections = tuple(
        Section(
            slug=section["slug"],
            title=section["title"],
            description=section["description"],
            questions=tuple(
                Question(
                    slug=question["slug"],
                    section=section["slug"],
                    text=question["text"],
                    help=question["help"],
                    options=tuple(
                        Option(
                            value=option["value"],
                            label=option["label"],
                            points=_points(option["points"]),
                            reason=option["reason"],
                            source=source(option["source"]),
                        )
                        for option in question["options"]
                    ),
                    void_when=_conditions(question.get("void_when", {})),
                    void_reason=question.get("void_reason", ""),
                    optional=question.get("optional", False),
                    default=question.get("default"),
                    measured_by=_measured_by(question.get("measured_by")),
                )
                for question in section["questions"]
            ),
        )
        for section in data["sections"]
    )
    catalogue = Catalogue(
        version=str(data["version"]),
        published=data["published"],
        transport_names=MappingProxyType(
            {slug: entry["name"] for slug, entry in data["transports"].items()}
        ),
        sections=sections,
        interactions=tuple(
            Interaction(
                question=entry["question"],
                answer=entry["answer"],
                when=_conditions(entry["when"]),
                points=_points(entry["points"]),
                reason=entry["reason"],
            )
            for entry in data.get("interactions", [])
        ),
        patterns=tuple(
            Rule(
                slug=entry["slug"],
                when=_conditions(entry["when"]),
                title=entry["title"],
                text=entry["description"],
                checklists=_transports(entry.get("checklists", [])),
            )
            for entry in data["patterns"]
        ),
        caveats=tuple(
            Rule(
                slug=entry["slug"],
                when=_conditions(entry["when"]),
                title=entry["title"],
                text=entry["text"],
                source=source(entry.get("source")),
            )
            for entry in data["caveats"]
        ),
        checklists=MappingProxyType(
            {
                transport: Checklist(
                    implementation=tuple(entry["implementation"]),
                    security=tuple(entry["security"]),
                )
                for transport, entry in data["checklists"].items()
            }
        ),
        presets=tuple(
            Preset(
                slug=entry["slug"],
                title=entry["title"],
                description=entry["description"],
                answers=MappingProxyType(dict(entry["answers"])),
            )
            for entry in data.get("presets", [])
        ),
        strong_margin=float(data["confidence"]["strong"]),
        moderate_margin=float(data["confidence"]["moderate"]),
        tie_break=data["tie_break"],
        changelog=_changelog(data.get("changelog", [])),
    )
    _check(catalogue)
    return catalogue


def _points(raw: Mapping) -> Mapping[str, int]:
    if set(raw) != set(TRANSPORTS) or not all(
        isinstance(value, int) and value >= 0 for value in raw.values()
    ):
        raise CatalogueError(f"points must give a non-negative integer per transport: {raw!r}")
    return MappingProxyType(dict(raw))


def _measured_by(raw: Mapping | None) -> MeasuredBy | None:
    if raw is None:
        return None
    outcomes = raw["outcomes"]
    if (
        not isinstance(raw["check"], str)
        or not isinstance(raw["measure"], str)
        or not isinstance(outcomes, Mapping)
        or not all(isinstance(key, str) and isinstance(to, str) for key, to in outcomes.items())
    ):
        raise CatalogueError(
            f"measured_by needs a check, a measure and outcomes mapping names to options: {raw!r}"
        )
    return MeasuredBy(
        check=raw["check"], measure=raw["measure"], outcomes=MappingProxyType(dict(outcomes))
    )


def _changelog(raw: list) -> tuple[str, ...]:
    if not isinstance(raw, list) or not all(isinstance(entry, str) and entry for entry in raw):
        raise CatalogueError(f"changelog must be a list of sentences: {raw!r}")
    return tuple(raw)


def _transports(raw: list) -> tuple[str, ...]:
    if not isinstance(raw, list) or not all(isinstance(value, str) for value in raw):
        raise CatalogueError(f"checklists must be a list of transports: {raw!r}")
    return tuple(raw)


def _conditions(raw: Mapping) -> Mapping[str, frozenset[str]]:
    return MappingProxyType({key: frozenset(values) for key, values in raw.items()})


def _check(catalogue: Catalogue) -> None:
    """Every reference in the data names something that exists."""
    seen: set[str] = set()
    for question in catalogue.questions:
        if question.slug in seen:
            raise CatalogueError(f"duplicate question {question.slug!r}")
        seen.add(question.slug)
        if len(set(question.values)) != len(question.values) or len(question.values) < 2:
            raise CatalogueError(f"{question.slug}: options must be two or more, unique")
        _check_optional(question)
        _check_measured_by(question)
        _check_conditions(catalogue, question.void_when, f"{question.slug}.void_when")
    for interaction in catalogue.interactions:
        question = catalogue.question(interaction.question)
        if question is None or question.option(interaction.answer) is None:
            raise CatalogueError(
                f"interaction names {interaction.question}={interaction.answer!r}"
            )
        _check_conditions(catalogue, interaction.when, f"interaction {interaction.question}")
    for rule in (*catalogue.patterns, *catalogue.caveats):
        _check_conditions(catalogue, rule.when, rule.slug)
    for pattern in catalogue.patterns:
        _check_checklists(pattern)
    for preset in catalogue.presets:
        for slug, value in preset.answers.items():
            question = catalogue.question(slug)
            if question is None or question.option(value) is None:
                raise CatalogueError(f"preset {preset.slug}: {slug}={value!r} is not an option")
    for transport in TRANSPORTS:
        if transport not in catalogue.checklists or transport not in catalogue.transport_names:
            raise CatalogueError(f"no checklist or name for {transport!r}")
        if not any(
            rule.when.get("recommendation", {transport}) >= {transport}
            and set(rule.when) <= {"recommendation"}
            for rule in catalogue.patterns
        ):
            raise CatalogueError(f"no fallback pattern for {transport!r}")
    if catalogue.tie_break not in TRANSPORTS:
        raise CatalogueError(f"tie_break must be one of {TRANSPORTS}")
    if not 0 < catalogue.moderate_margin < catalogue.strong_margin < 1:
        raise CatalogueError("confidence margins must satisfy 0 < moderate < strong < 1")


def _check_optional(question: Question) -> None:
    """An optional question names one of its options as the default; no other has one."""
    if not isinstance(question.optional, bool):
        raise CatalogueError(f"{question.slug}: optional must be true or false")
    if not question.optional:
        if question.default is not None:
            raise CatalogueError(f"{question.slug}: only an optional question has a default")
        return
    if not isinstance(question.default, str) or question.option(question.default) is None:
        raise CatalogueError(
            f"{question.slug}: default {question.default!r} must be one of its options "
            f"({', '.join(question.values)})"
        )


def _check_measured_by(question: Question) -> None:
    """Every outcome a check may report maps to one of the question's options."""
    if question.measured_by is None:
        return
    unknown = sorted(set(question.measured_by.outcomes.values()) - set(question.values))
    if unknown:
        raise CatalogueError(
            f"{question.slug}: measured_by maps outcomes to unknown options {unknown}"
        )


def _check_checklists(pattern: Rule) -> None:
    """A pattern's own checklists are known transports and cover what it recommends."""
    if not pattern.checklists:
        return
    unknown = set(pattern.checklists) - set(TRANSPORTS)
    if unknown or len(set(pattern.checklists)) != len(pattern.checklists):
        raise CatalogueError(
            f"{pattern.slug}: checklists must name distinct transports of {TRANSPORTS}"
        )
    recommended = pattern.when.get("recommendation", frozenset(TRANSPORTS))
    if not recommended <= set(pattern.checklists):
        raise CatalogueError(
            f"{pattern.slug}: checklists must include the recommended "
            f"{' and '.join(sorted(recommended - set(pattern.checklists)))}"
        )


def _check_conditions(
    catalogue: Catalogue, when: Mapping[str, frozenset[str]], where: str
) -> None:
    for key, values in when.items():
        question = catalogue.question(key)
        allowed = set(question.values) if question else RESULT_KEYS.get(key)
        if allowed is None:
            raise CatalogueError(f"{where}: unknown condition {key!r}")
        if not values or not values <= allowed:
            raise CatalogueError(f"{where}: {key} has unknown values {sorted(values - allowed)}")
