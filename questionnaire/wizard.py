"""The step-by-step questionnaire: one catalogue section per step.

The whole state travels in the form (answers of other steps as hidden
inputs), so Back, Next and the browser's own history keep every answer with
or without JavaScript, and nothing is stored until the user finishes.

An optional question starts at its default: its radio is ticked, it counts
as answered, and Next and Finish never wait for it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from advisor.http import whole_number

from .capacity import FORM_CHOICES, FORM_FIELDS, FORM_KEYS, read_traffic_form
from .catalogue import Catalogue, Question, Section
from .models import title_problem

MISSING_ANSWER = "Choose an answer to continue."
INVALID_ANSWER = "That is not one of the options; choose one of them."
UNKNOWN_NETWORK_CHECK = (
    "The network check this form refers to was not found, so it has been left out: "
    "run the check again, or continue without it."
)
# The form field (and error key) that carries the id of a network check.
NETWORK_CHECK = "network_check"
# The error key of a save refused over the client's write rate (advisor/clients.py).
RATE_ERROR = "rate"
# The traffic numbers' form fields: traffic_peak_clients and so on.
TRAFFIC_PREFIX = "traffic_"


@dataclass
class Step:
    index: int
    section: Section
    answered: int
    current: bool

    @property
    def number(self) -> int:
        return self.index + 1

    @property
    def complete(self) -> bool:
        return self.answered == len(self.section.questions)


@dataclass(frozen=True)
class Field:
    question: Question
    value: str
    error: str


@dataclass(frozen=True)
class TrafficInput:
    name: str
    label: str
    value: str
    error: str
    # A choice's (value, label) pairs; empty for a number typed in.
    options: tuple[tuple[str, str], ...] = ()


@dataclass
class Wizard:
    catalogue: Catalogue
    answers: dict[str, str]
    title: str = ""
    step: int = 0
    errors: dict[str, str] = field(default_factory=dict)
    finished: bool = False
    # The id of the network check the answers come with, carried like them.
    network_check: str = ""
    # The optional traffic fields as typed (capacity.FORM_KEYS: numbers and
    # choices), carried like the answers and asked on the last step.
    traffic: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # However the wizard starts (a preset, an older revision, a form that
        # left the question out), optional questions show their default.
        self.answers = self.catalogue.with_defaults(self.answers)

    @classmethod
    def from_data(cls, catalogue: Catalogue, data: Mapping[str, str]) -> Wizard:
        """Rebuild the state from a submitted form; bad values become inline errors."""
        wizard = cls(
            catalogue=catalogue,
            answers={},
            title=data.get("title", "").strip(),
            network_check=data.get(NETWORK_CHECK, "").strip(),
            traffic={
                name: data.get(TRAFFIC_PREFIX + name, "").strip()[:40]
                for name in FORM_KEYS
                if data.get(TRAFFIC_PREFIX + name, "").strip()
            },
        )
        # The form sends the step it showed; anything else starts over at step 1.
        wizard.step = min(whole_number(data.get("step")) or 0, len(catalogue.sections) - 1)
        for question in catalogue.questions:
            value = data.get(question.slug, "")
            if not value:
                continue
            if question.option(value) is None:
                wizard.errors[question.slug] = INVALID_ANSWER
            else:
                wizard.answers[question.slug] = value
        problem = title_problem(wizard.title)
        if problem:
            wizard.errors["title"] = f"The title {problem}."
        wizard.errors.update(read_traffic_form(wizard.traffic)[1])
        return wizard

    @property
    def traffic_values(self) -> dict | None:
        """The traffic numbers, validated, for the capacity plan; None when none were given."""
        return read_traffic_form(self.traffic)[0]

    @property
    def traffic_fields(self) -> list[tuple[str, str, str, str]]:
        """Each traffic field's form name, label, value as typed and error."""
        labels = {**FORM_FIELDS, **{name: label for name, (label, _) in FORM_CHOICES.items()}}
        return [
            (
                TRAFFIC_PREFIX + name,
                labels[name],
                self.traffic.get(name, ""),
                self.errors.get(f"traffic.{name}", ""),
            )
            for name in FORM_KEYS
        ]

    @property
    def traffic_inputs(self) -> list[TrafficInput]:
        """The traffic fields as the last step shows them: text boxes, then choices."""
        return [
            TrafficInput(
                name=name,
                label=label,
                value=value,
                error=error,
                options=tuple(FORM_CHOICES[name[len(TRAFFIC_PREFIX) :]][1].items())
                if name[len(TRAFFIC_PREFIX) :] in FORM_CHOICES
                else (),
            )
            for name, label, value, error in self.traffic_fields
        ]

    @property
    def section(self) -> Section:
        return self.catalogue.sections[self.step]

    @property
    def is_first(self) -> bool:
        return self.step == 0

    @property
    def is_last(self) -> bool:
        return self.step == len(self.catalogue.sections) - 1

    @property
    def steps(self) -> list[Step]:
        return [
            Step(
                index=index,
                section=section,
                answered=sum(question.slug in self.answers for question in section.questions),
                current=index == self.step,
            )
            for index, section in enumerate(self.catalogue.sections)
        ]

    @property
    def fields(self) -> list[Field]:
        """The shown step's questions with their current answers and errors."""
        return [
            Field(
                question=question,
                value=self.answers.get(question.slug, ""),
                error=self.errors.get(question.slug, ""),
            )
            for question in self.section.questions
        ]

    @property
    def hidden_answers(self) -> list[tuple[str, str]]:
        """Answers of the other steps, carried along as hidden inputs."""
        shown = {question.slug for question in self.section.questions}
        return [(slug, value) for slug, value in self.answers.items() if slug not in shown]

    @property
    def answered_count(self) -> int:
        return len(self.answers)

    @property
    def started(self) -> bool:
        """True once an answer differs from what a blank form starts with.

        A default counts as answered, but on its own it says nothing about
        the application, so the leaning waits for a real answer.
        """
        return self.answers != self.catalogue.with_defaults({})

    def apply(self, action: str) -> None:
        """Move according to the button pressed: back, next, finish or goto-N.

        Back and goto never block (unanswered questions can wait); Next
        requires the shown step, Finish requires everything and otherwise
        lands on the first step with a problem. Only the errors of the step
        that ends up shown are kept, and an unknown network check's, which
        belongs to no step.
        """
        if action == "finish":
            self._require(self.catalogue.sections)
            if not self.errors:
                self.finished = True
                return
            # A bad network check alone keeps the user where they are: it has
            # been dropped, so pressing Finish again saves without it.
            self.step = next(
                (index for index in range(len(self.catalogue.sections)) if self._errors_of(index)),
                self.step,
            )
        elif action == "back":
            self.step = max(self.step - 1, 0)
        elif action.startswith("goto-"):
            # Checked before int(): a 5,000-digit step would make it raise.
            target = whole_number(action.removeprefix("goto-"))
            if target is not None and target < len(self.catalogue.sections):
                self.step = target
        else:
            self._require([self.section])
            if not self._errors_of(self.step):
                self.step = min(self.step + 1, len(self.catalogue.sections) - 1)
        # The network check belongs to no step: its error shows on any.
        check_error = self.errors.get(NETWORK_CHECK)
        self.errors = self._errors_of(self.step)
        if check_error:
            self.errors[NETWORK_CHECK] = check_error

    def open_at(self, slugs: tuple[str, ...]) -> None:
        """Show the first step that asks one of ``slugs``: a newer catalogue's questions first."""
        self.step = next(
            (
                index
                for index, section in enumerate(self.catalogue.sections)
                if any(question.slug in slugs for question in section.questions)
            ),
            self.step,
        )

    def reject_network_check(self) -> None:
        """Drop a network check that does not exist, and say so on the form."""
        self.network_check = ""
        self.errors[NETWORK_CHECK] = UNKNOWN_NETWORK_CHECK

    def _require(self, sections) -> None:
        for section in sections:
            for question in section.questions:
                if question.slug not in self.answers and not question.optional:
                    self.errors.setdefault(question.slug, MISSING_ANSWER)

    def _errors_of(self, index: int) -> dict[str, str]:
        """The errors shown on step ``index``: its questions, the title on step 1, the
        traffic numbers on the last."""
        slugs = {question.slug for question in self.catalogue.sections[index].questions}
        if index == 0:
            slugs.add("title")
        if index == len(self.catalogue.sections) - 1:
            slugs.update(f"traffic.{name}" for name in FORM_KEYS)
        return {slug: message for slug, message in self.errors.items() if slug in slugs}
