"""A decision as a Markdown architecture decision record, ready for a repository's docs/decisions/.

The record follows MADR 4's template (https://adr.github.io/madr/): front
matter with the status, the date, the decision-makers (the reviewers whose
approvals took it, or all named reviewers while it is undecided) and those
consulted (whoever asked for review, the other reviewers, those who
commented); the title; *Context and Problem Statement*; *Decision Drivers*
(the answers that decided it, strongest first); *Considered Options*
(WebSocket and SSE); *Decision Outcome* with the delivery pattern and its
*Consequences* (good: the strongest reasons for the chosen transport; bad:
the caveats; then the checklists); *Pros and Cons of the Options* (what each
answer gave each transport); *More Information* (the approvals, the
discussion, what would change the verdict, and the link back).

It is made from the revision's stored result, as the result page and the
PDF are (``display``), and from the decision panel's data, so that it reads
the same as they do.

Markdown has no autoescape. Every piece of text, the catalogue's as well as
what users wrote (titles, usernames, review comments), goes through
``inline`` or ``lines``, which backslash-escape what could start Markdown
or HTML structure; only this module's own markup is left as it is. A title
``<script>``, ``# x`` or ``[x](javascript:…)`` comes out as those characters.

A share link's record names no other assessment: the one that supersedes
it, or those it supersedes, are "another decision of this workspace", and
its file name has no number, which would say how many the workspace holds.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from django.db.models import Q

from .catalogue import TRANSPORTS
from .display import (
    ANOTHER_DECISION,
    SHORT_NAMES,
    DecisionRecord,
    answer_points,
    answers_shown,
    checklists,
    decision_record,
    tie_break_rule,
)
from .models import Assessment, Revision
from .report import title_slug
from .scoring import other_transport

CONTENT_TYPE = "text/markdown; charset=utf-8"
# At most this many answers are the decision's drivers: the strongest ones.
DRIVERS = 5
# At most this many of them are its good consequences: the strongest reasons.
GOOD_CONSEQUENCES = 3
# Characters escaped wherever they are: emphasis, code, links and images,
# raw HTML and entities, tables, strikethrough, math, headings, and e-mail
# autolinks ("@"). The other ASCII punctuation only matters where handled below.
ALWAYS_ESCAPED = frozenset("\\`*_[]<>&|~$#@")
# Where GitHub would make plain text a link ("https://", "www.": it finds
# them in the source, so an escaped ":" or "." breaks them).
AUTOLINKS = re.compile(r"(?<=www)\.|:(?=//)", re.IGNORECASE)
# What starts a list, a setext heading or a thematic break at a line's start.
LINE_START = re.compile(r"[-+=]|\d{1,9}[.)]")
URL_UNSAFE = re.compile(r"[\s<>\\]")


def inline(text: str) -> str:
    """``text`` as one line of Markdown that shows exactly these characters."""
    return _escaped(" ".join(str(text).split()))


def lines(text: str, indent: str = "") -> str:
    """Multi-line ``text`` (a comment) as Markdown lines joined by hard line breaks.

    Each line is escaped on its own and loses its leading spaces, which
    would make code blocks or nested lists; blank lines are dropped, so the
    text stays in the paragraph (or list item) it was put in.
    """
    kept = [inline(line) for line in str(text).splitlines() if line.strip()]
    return f"\\\n{indent}".join(kept)


def _escaped(line: str) -> str:
    hits = {match.start() for match in AUTOLINKS.finditer(line)}
    if start := LINE_START.match(line):
        hits.add(start.end() - 1)
    return "".join(
        f"\\{char}" if char in ALWAYS_ESCAPED or index in hits else char
        for index, char in enumerate(line)
    )


def link(text: str, url: str) -> str:
    """A link whose text is escaped; ``text`` alone if the URL is not plain http(s)."""
    if not url.startswith(("https://", "http://")) or URL_UNSAFE.search(url):
        return inline(text)
    return f"[{inline(text)}](<{url}>)"


def adr_number(assessment: Assessment) -> int:
    """The assessment's place among its workspace's, by creation: the NNNN of its file name.

    An ADR keeps its number in a repository; this one is stable while the
    workspace keeps its assessments. Outside a workspace it is 1.
    """
    if assessment.workspace_id is None:
        return 1
    earlier = Q(created_at__lt=assessment.created_at) | Q(
        created_at=assessment.created_at, pk__lt=assessment.pk
    )
    return (
        Assessment.objects.filter(workspace_id=assessment.workspace_id).filter(earlier).count() + 1
    )


def adr_filename(assessment: Assessment, title: str, *, shared: bool = False) -> str:
    """``NNNN-<title-slug>.md``, MADR's naming; ``adr-<title-slug>.md`` through a
    share link, whose holder must not learn how many assessments the workspace has."""
    if shared:
        return f"adr-{title_slug(title)}.md"
    return f"{adr_number(assessment):04d}-{title_slug(title)}.md"


@dataclass(frozen=True)
class Links:
    """The absolute URLs a record links to, built from the request by the view."""

    assessment: str
    # (file name, URL) of the assessment that supersedes this one, and of those
    # it supersedes; none in a share link's record, which names neither.
    superseded_by: tuple[str, str] | None = None
    supersedes: tuple[tuple[str, str], ...] = ()
    # Read through a share link.
    shared: bool = False


def render_adr(
    revisions: list[Revision], revision: Revision, decision: Mapping | None, links: Links
) -> str:
    """The Markdown ADR of ``revision``; ``decision`` is the decision panel's (None outside
    a workspace). Reads only what it is given."""
    record = decision_record(decision, revision, revisions[-1].number, shared=links.shared)
    result = revision.result
    catalogue = revision.catalogue
    chosen = result["recommendation"]
    names = catalogue.transport_names
    reasons = answers_shown(result)
    parts = [
        _front_matter(record, links),
        f"# {inline(revision.display_title)}: {inline(names[chosen])}",
        "## Context and Problem Statement",
        _context(revision, len(revisions), names),
        "## Decision Drivers",
        _bullets(_drivers(reasons, result)),
        "## Considered Options",
        _bullets(inline(names[transport]) for transport in TRANSPORTS),
        "## Decision Outcome",
        f"Chosen option: “{inline(names[chosen])}”, because {_because(result)}.",
        f"Delivery pattern: **{inline(result['pattern']['title'])}**. "
        f"{inline(result['pattern']['description'])}",
        "### Consequences",
        _bullets(_consequences(reasons, result)),
        *_checklists(result, catalogue),
        "## Pros and Cons of the Options",
        *_pros_and_cons(reasons, result, names),
        "## More Information",
        _provenance(revision, len(revisions), record, links),
        "### Approvals",
        *_approvals(record),
        "### Discussion",
        _discussion(record),
        "### What would change the decision",
        _bullets(_flips(result)),
    ]
    return "\n\n".join(part for part in parts if part) + "\n"


def _front_matter(record: DecisionRecord, links: Links) -> str:
    """MADR's metadata as YAML: each value JSON, ASCII with escapes, which YAML reads as is."""
    status = record.status
    if status == "superseded" and links.superseded_by is not None:
        status = f"superseded by {links.superseded_by[0]}"
    entries = [("status", status), ("date", record.date.date().isoformat())]
    if record.decision is not None:
        entries += _people(record)
    body = "\n".join(f"{key}: {json.dumps(value)}" for key, value in entries if value)
    return f"---\n{body}\n---"


def _people(record: DecisionRecord) -> list[tuple[str, list[str]]]:
    """MADR's decision-makers and consulted.

    Those who decide are the reviewers: once taken, those whose approvals
    counted; until then, every named reviewer. Whoever asked for review, the
    other reviewers and everyone who commented gave their view: consulted.
    MADR's ``informed`` (told, not asked) is the team's to fill in.
    """
    decision = record.decision
    if record.taken:
        makers = [approval.reviewer for approval in decision["approvals"] if approval.counts]
    else:
        makers = [user.get_username() for user in decision["reviewers"]]
    makers = list(dict.fromkeys(makers))
    heard = [
        *(user.get_username() for user in decision["requesters"]),
        *(user.get_username() for user in decision["reviewers"]),
        *(approval.reviewer for approval in decision["approvals"]),
        *(comment.author_name for comment in decision["comments"]),
    ]
    consulted = [name for name in dict.fromkeys(heard) if name not in makers]
    return [("decision-makers", makers), ("consulted", consulted)]


def _context(revision: Revision, count: int, names: Mapping[str, str]) -> str:
    answered = len(revision.result["reasons"])
    return (
        f"“{inline(revision.display_title)}” needs a real-time transport between its "
        f"server and browsers: {inline(names['websocket'])} or {inline(names['sse'])}? The team "
        f"answered the Transport Advisor's questionnaire ({answered} questions, catalogue "
        f"version {inline(revision.catalogue_version)}); this record is of revision "
        f"{revision.number} of {count}, saved on {revision.created_at:%Y-%m-%d}."
    )


def _drivers(reasons: list[dict], result: Mapping) -> list[str]:
    """The strongest answers that favour the chosen transport, and the rule that broke a tie."""
    chosen = result["recommendation"]
    drivers = [_answer(reason) for reason in reasons if reason["favours"] == chosen][:DRIVERS]
    if result["scores"]["websocket"] == result["scores"]["sse"]:
        drivers.append(f"A tie: {inline(tie_break_rule(chosen))}.")
    return drivers


def _answer(reason: Mapping) -> str:
    return (
        f"“{inline(reason['question_text'])}”: **{inline(reason['answer_label'])}** "
        f"({inline(reason['effect'])})"
    )


def _because(result: Mapping) -> str:
    chosen = result["recommendation"]
    other = other_transport(chosen)
    scores = result["scores"]
    if scores[chosen] == scores[other]:
        return (
            f"both score {scores[chosen]} points, and {inline(tie_break_rule(chosen))} "
            f"({inline(result['confidence'])} confidence)"
        )
    return (
        f"it comes out best with {inline(result['confidence'])} confidence: "
        f"{scores[chosen]} points to {scores[other]} for {SHORT_NAMES[other]}, a margin "
        f"of {round(result['margin'] * 100)}% of all points"
    )


def _consequences(reasons: list[dict], result: Mapping) -> list[str]:
    """MADR's Good, then Bad: what the strongest answers for the chosen transport
    gain by it, then the caveats that apply."""
    chosen = result["recommendation"]
    good = [
        f"Good, because {_clause(reason['reason'])} "
        f"(“{inline(reason['question_text'])}”: {inline(reason['answer_label'])})"
        for reason in reasons
        if reason["favours"] == chosen
    ][:GOOD_CONSEQUENCES]
    if not result["caveats"]:
        good.append("Good, because none of the known pitfalls applies to these answers.")
    bad = [
        f"Bad, because **{inline(caveat['title'])}**: {inline(caveat['text'])}{_source(caveat)}"
        for caveat in result["caveats"]
    ]
    return [*good, *bad]


def _clause(sentence: str) -> str:
    """A reason (a sentence) to follow "because": its first word in lower case,
    unless it is a name ("SSE's", "HTTP/2"), and without its last full stop."""
    text = " ".join(sentence.split()).removesuffix(".")
    if text[1:2].islower():
        text = text[0].lower() + text[1:]
    return inline(text)


def _checklists(result: Mapping, catalogue) -> list[str]:
    """Each checklist the pattern needs as a task list, the recommended transport's first."""
    parts = []
    for block in checklists(result, catalogue):
        for kind, items in (
            ("Implementation", block.implementation),
            ("Security", block.security),
        ):
            parts.append(f"#### {kind} checklist: {inline(block.name)}")
            parts.append(_bullets(f"[ ] {inline(item)}" for item in items))
    return parts


def _pros_and_cons(reasons: list[dict], result: Mapping, names: Mapping[str, str]) -> list[str]:
    """Per transport: Good for each answer that favours it, Neutral where both sides
    got the same, Bad where the other got more; the reason is given with the Good."""
    parts = []
    chosen = result["recommendation"]
    for transport in TRANSPORTS:
        other = other_transport(transport)
        parts.append(f"### {inline(names[transport])}")
        verdict = "the chosen option" if transport == chosen else "not chosen"
        parts.append(f"{result['scores'][transport]} points in total; {verdict}.")
        items = []
        for reason in reasons:
            points = answer_points(reason)
            if points[transport] > points[other]:
                items.append(
                    f"Good, because {_answer(reason)}. {inline(reason['reason'])}{_source(reason)}"
                )
            elif points[transport] == points[other] and points[transport]:
                items.append(f"Neutral, because {_answer(reason)}.")
            elif points[transport] < points[other]:
                items.append(f"Bad, because {_answer(reason)}.")
        parts.append(_bullets(items))
    return parts


def _provenance(revision: Revision, count: int, record: DecisionRecord, links: Links) -> str:
    sentences = [
        f"Exported from {link('the assessment in the Transport Advisor', links.assessment)} "
        f"(revision {revision.number} of {count}, catalogue version "
        f"{inline(revision.catalogue_version)}), where its answers and their sources are."
    ]
    decision = record.decision
    if links.superseded_by is not None:
        name, url = links.superseded_by
        sentences.append(f"Superseded by {link(name, url)}.")
    elif decision is not None and decision["superseded_by"] is not None:
        sentences.append(f"Superseded by {ANOTHER_DECISION}.")
    for name, url in links.supersedes:
        sentences.append(f"Supersedes {link(name, url)}.")
    if not links.supersedes and record.predecessors:
        sentences.append(f"Supersedes {inline(record.predecessors)}.")
    return " ".join(sentences)


def _approvals(record: DecisionRecord) -> list[str]:
    decision = record.decision
    if decision is None:
        return [
            "None: this assessment is not in a workspace, so nobody reviews or signs it off. "
            "Move it into a workspace to take a decision on it."
        ]
    # A taken decision's sentence says what it is: "Accepted on … with …; superseded by …".
    summary = f"{inline(record.approvals_sentence)}."
    if not record.taken:
        summary = f"Status: {inline(record.label)}. {summary}"
    if decision["requested_by"] is not None:
        summary += f" Review requested by **{inline(decision['requested_by'].get_username())}**."
    reviews = [
        f"**{inline(approval.reviewer)}** {inline(approval.label)} on "
        f"{approval.at:%Y-%m-%d %H:%M} UTC{f' ({inline(standing)})' if standing else ''}"
        + (f":\\\n  {lines(approval.comment, '  ')}" if approval.comment.strip() else "")
        for approval, standing in record.reviews
    ]
    return [summary, _bullets(reviews) or "No reviews yet."]


def _discussion(record: DecisionRecord) -> str:
    """The decision's comments, oldest first, each with its author, time and revision."""
    if record.decision is None:
        return "None: nobody discusses an assessment outside a workspace."
    comments = [
        f"**{inline(comment.author_name)}** on {comment.created_at:%Y-%m-%d %H:%M} UTC, "
        f"on revision {comment.revision_number}"
        + (f":\\\n  {lines(comment.body, '  ')}" if comment.body.strip() else "")
        for comment in record.decision["comments"]
    ]
    return _bullets(comments) or "No comments."


def _flips(result: Mapping) -> list[str]:
    if not result["flips"]:
        return ["No change of answers would reverse the verdict."]
    shown = []
    for flip in result["flips"]:
        changes = " and ".join(
            f"“{inline(change['question_text'])}” from {inline(change['from_label'])} to "
            f"**{inline(change['to_label'])}**"
            for change in flip["changes"]
        )
        winner = flip["recommendation"]
        shown.append(
            f"{changes}: {SHORT_NAMES[winner]} would score {flip['scores'][winner]} to "
            f"{flip['scores'][other_transport(winner)]}"
        )
    return shown


def _source(entry: Mapping) -> str:
    source = entry.get("source")
    if not source:
        return ""
    return f" (source: {link(source['title'], source['url'])})"


def _bullets(items: Iterable[str]) -> str:
    return "\n".join(f"* {item}" for item in items)
