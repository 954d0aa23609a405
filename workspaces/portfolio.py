"""The portfolio: every assessment of a workspace, with its decision, in one table.

"Which of our applications chose SSE, and would they still?": one row per
assessment with its verdict, confidence and pattern (of its latest
revision), its decision's status, owner and counted approvers, its last
change, and whether a newer catalogue makes it stale or would change its
verdict (``questionnaire.rescoring``). Sorted and filtered by GET
parameters, so that links and plain forms do it without JavaScript; a chart
of the verdicts and confidence as SVG; the same rows as JSON and CSV from
``GET /api/portfolio/``.

The rows take a bounded number of queries, however many assessments: the
assessments with their owners, their latest revisions, their reviews and
their named reviewers, one query each. Stale detection re-scores answers in
memory (no query).
"""

from __future__ import annotations

import csv
import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from django.core.paginator import Paginator
from django.db.models import Count, OuterRef, Subquery
from django.http import HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from advisor.http import error_response, text_problem
from questionnaire import decisions
from questionnaire.models import (
    Assessment,
    Confidence,
    DecisionStatus,
    Recommendation,
    Review,
    ReviewVerdict,
    Revision,
)
from questionnaire.rescoring import outlook

from . import access
from .access import Action
from .endpoints import api_methods
from .models import SLUG_PATTERN, Workspace
from .views import _nav, _workspace

SLUG = re.compile(SLUG_PATTERN.strip("^$"))
ROWS_PER_PAGE = 100
SEARCH_MAX_LENGTH = 200
STALENESS = {
    "stale": "Stale (a newer catalogue)",
    "would_change": "Verdict would change",
    "current": "Current",
}
CONFIDENCE_ORDER = {value: rank for rank, value in enumerate(Confidence.values)}
STATUS_ORDER = {value: rank for rank, value in enumerate(DecisionStatus.values)}
# Column → (heading, sort key). Every column sorts; ties keep title order.
COLUMNS = {
    "title": ("Title", lambda row: row.title.casefold()),
    "verdict": ("Verdict", lambda row: row.verdict),
    "confidence": ("Confidence", lambda row: CONFIDENCE_ORDER.get(row.confidence, 99)),
    "pattern": ("Pattern", lambda row: row.pattern.casefold()),
    "status": ("Status", lambda row: STATUS_ORDER.get(row.status, 99)),
    "owner": ("Owner", lambda row: row.owner.casefold()),
    "approvers": ("Approvers", lambda row: (len(row.approvers), row.approvers)),
    "last_change": ("Last change", lambda row: row.last_change),
    "stale": ("Catalogue", lambda row: (row.would_change, row.stale)),
}
DEFAULT_SORT = "-last_change"
# What a spreadsheet would take for a formula (OWASP's list): such a cell gets a "'".
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CSV_FIELDS = (
    "id",
    "title",
    "url",
    "verdict",
    "confidence",
    "pattern",
    "status",
    "owner",
    "approvers",
    "last_change",
    "stale",
    "would_change",
    "revision",
    "superseded_by",
)
# The status filter's own values beside the statuses: left empty, a superseded
# assessment (a past decision, not an application) is not listed.
ALL_STATUSES = "all"
STATUS_FILTER = {
    ALL_STATUSES: "Any, superseded too",
    **dict(DecisionStatus.choices),
}


@dataclass(frozen=True)
class Row:
    """One assessment as the portfolio shows it."""

    id: str
    title: str
    url: str
    verdict: str
    confidence: str
    pattern: str
    status: str
    owner: str
    approvers: tuple[str, ...]
    last_change: datetime
    stale: bool
    would_change: bool
    revision: int
    superseded_by: str | None

    @property
    def verdict_label(self) -> str:
        return Recommendation(self.verdict).label if self.verdict in Recommendation else ""

    @property
    def confidence_label(self) -> str:
        return Confidence(self.confidence).label if self.confidence in Confidence else ""

    @property
    def status_label(self) -> str:
        return DecisionStatus(self.status).label

    def document(self, request: HttpRequest) -> dict:
        return {
            "id": self.id,
            "title": self.title,
            "url": request.build_absolute_uri(self.url),
            "verdict": self.verdict,
            "confidence": self.confidence,
            "pattern": self.pattern,
            "status": self.status,
            "owner": self.owner or None,
            "approvers": list(self.approvers),
            "last_change": self.last_change.isoformat(),
            "stale": self.stale,
            "would_change": self.would_change,
            "revision": self.revision,
            "superseded_by": self.superseded_by,
        }


@dataclass(frozen=True)
class Query:
    """The filters and the sort, as read from GET parameters ("" for no filter)."""

    verdict: str = ""
    confidence: str = ""
    status: str = ""
    stale: str = ""
    owner: str = ""
    q: str = ""
    sort: str = DEFAULT_SORT

    def params(self, **changes: str) -> QueryDict:
        """These parameters (with ``changes``), leaving out the empty ones and the default sort."""
        values = {**self.__dict__, **changes}
        params = QueryDict(mutable=True)
        for key, value in values.items():
            if value and not (key == "sort" and value == DEFAULT_SORT):
                params[key] = value
        return params


CHOICES = {
    "verdict": dict(Recommendation.choices),
    "confidence": dict(Confidence.choices),
    "status": STATUS_FILTER,
    "stale": STALENESS,
}


def read_query(params: QueryDict) -> tuple[Query, dict[str, str]]:
    """The filters and sort ``params`` ask for, and a problem for each value that is not one."""
    errors: dict[str, str] = {}
    given = {}
    for key, choices in CHOICES.items():
        value = params.get(key, "")
        if value and value not in choices:
            errors[key] = f"unknown {key} {value!r:.40}; one of {', '.join(choices)}"
        elif value:
            given[key] = value
    for key in ("owner", "q"):
        value = params.get(key, "").strip()
        if problem := text_problem(value, SEARCH_MAX_LENGTH):
            errors[key] = problem
        elif value:
            given[key] = value
    sort = params.get("sort", "") or DEFAULT_SORT
    if sort.removeprefix("-") not in COLUMNS:
        errors["sort"] = f"unknown sort {sort!r:.40}; one of {', '.join(COLUMNS)}, or -column"
    else:
        given["sort"] = sort
    return Query(**given), errors


def portfolio_rows(workspace: Workspace, query: Query) -> list[Row]:
    """The workspace's assessments that ``query`` keeps, sorted as it asks."""
    latest = Revision.objects.filter(assessment=OuterRef("pk")).order_by("-number").values("pk")
    found = (
        Assessment.objects.filter(workspace=workspace)
        .select_related("created_by")
        .annotate(latest_id=Subquery(latest[:1]))
    )
    if query.verdict:
        found = found.filter(recommendation=query.verdict)
    if query.confidence:
        found = found.filter(confidence=query.confidence)
    if not query.status:
        found = found.exclude(status=DecisionStatus.SUPERSEDED)
    elif query.status != ALL_STATUSES:
        found = found.filter(status=query.status)
    if query.owner:
        found = found.filter(created_by__username=query.owner)
    if query.q:
        found = found.filter(title__icontains=query.q)
    assessments = list(found)
    revisions = Revision.objects.in_bulk([each.latest_id for each in assessments])
    approvers = counted_approvers(workspace, assessments, revisions)
    rows = [
        _row(each, revisions[each.latest_id], approvers.get(each.pk, ()))
        for each in assessments
        if each.latest_id in revisions
    ]
    if query.stale == "stale":
        rows = [row for row in rows if row.stale]
    elif query.stale == "would_change":
        rows = [row for row in rows if row.would_change]
    elif query.stale == "current":
        rows = [row for row in rows if not row.stale]
    column = query.sort.removeprefix("-")
    rows.sort(key=lambda row: (row.title.casefold(), row.id))
    rows.sort(key=COLUMNS[column][1], reverse=query.sort.startswith("-"))
    return rows


def _row(assessment: Assessment, revision: Revision, approvers: tuple[str, ...]) -> Row:
    seen = outlook(revision)
    changed = assessment.updated_at
    if assessment.status_changed_at and assessment.status_changed_at > changed:
        changed = assessment.status_changed_at
    return Row(
        id=str(assessment.pk),
        title=assessment.display_title,
        url=assessment.get_absolute_url(),
        verdict=assessment.recommendation,
        confidence=assessment.confidence,
        pattern=(revision.result.get("pattern") or {}).get("title", ""),
        status=assessment.status,
        owner=assessment.created_by.get_username() if assessment.created_by else "",
        approvers=approvers,
        last_change=changed,
        stale=seen.stale,
        would_change=seen.would_change,
        revision=revision.number,
        superseded_by=str(assessment.superseded_by_id) if assessment.superseded_by_id else None,
    )


def counted_approvers(
    workspace: Workspace, assessments: list[Assessment], revisions: dict[int, Revision]
) -> dict[object, tuple[str, ...]]:
    """Whose approvals count now, per assessment: ``decisions.approvals``'s rule, in bulk.

    An approval counts when it is of the latest revision, is its reviewer's
    last word on it, and its reviewer may count (``decisions.counting_reviewers``:
    still named, still a reviewing member, and not a requester while
    self-approval is off). A taken decision's are those it was taken with
    (``Review.counted_in_decision``), as its page shows them.
    """
    taken = {each.pk for each in assessments if each.status in decisions.TAKEN}
    latest = {
        each.pk: revisions[each.latest_id].number
        for each in assessments
        if each.latest_id in revisions
    }
    # By workspace rather than by a list of ids: no query grows with the portfolio.
    counting = decisions.counting_reviewers(workspace)
    # The last verdict each reviewer gave on each assessment's latest revision.
    standing: dict[tuple, tuple[str, str]] = {}
    counted: dict[object, list[str]] = defaultdict(list)
    for assessment_id, number, reviewer_id, name, verdict, frozen in (
        Review.objects.filter(assessment__workspace=workspace)
        .order_by("created_at", "id")
        .values_list(
            "assessment_id",
            "revision__number",
            "reviewer_id",
            "reviewer_name",
            "verdict",
            "counted_in_decision",
        )
    ):
        if assessment_id in taken:
            if frozen:
                counted[assessment_id].append(name)
        elif number == latest.get(assessment_id):
            standing[(assessment_id, reviewer_id)] = (name, verdict)
    for (assessment_id, reviewer_id), (name, verdict) in standing.items():
        if verdict == ReviewVerdict.APPROVE and reviewer_id in counting.get(assessment_id, ()):
            counted[assessment_id].append(name)
    return {pk: tuple(sorted(names)) for pk, names in counted.items()}


# --- The chart -----------------------------------------------------------------------------

# Narrow enough to be drawn near its own size on a phone (375 px): each bar's
# label sits above it rather than beside it, so its text stays readable.
CHART_WIDTH = 360
BAR_X = 10
BAR_SPACE = 290
BAR_HEIGHT = 20
ROW_HEIGHT = 46
GROUP_GAP = 12
TOP = 56


def chart(workspace: Workspace) -> dict:
    """How many current decisions per verdict and confidence, with the bars' geometry.

    A superseded assessment is a decision its successor replaced, not an
    application: counting it would count one application twice.
    """
    counts = {
        (each["recommendation"], each["confidence"]): each["n"]
        for each in Assessment.objects.filter(workspace=workspace)
        .exclude(status=DecisionStatus.SUPERSEDED)
        .values("recommendation", "confidence")
        .annotate(n=Count("pk"))
        .order_by()
    }
    biggest = max(counts.values(), default=0) or 1
    bars, groups = [], []
    for verdict, verdict_label in Recommendation.choices:
        cells = []
        for confidence, confidence_label in Confidence.choices:
            count = counts.get((verdict, confidence), 0)
            y = TOP + len(bars) * ROW_HEIGHT + len(groups) * GROUP_GAP
            width = round(BAR_SPACE * count / biggest)
            bars.append(
                {
                    "verdict": verdict,
                    "label": f"{verdict_label}, {confidence_label.lower()}",
                    "count": count,
                    "label_y": y + 14,
                    "bar_y": y + 20,
                    "count_y": y + 20 + BAR_HEIGHT - 5,
                    "width": width,
                    "count_x": BAR_X + width + 8,
                }
            )
            cells.append({"confidence": confidence_label, "count": count})
        groups.append(
            {"verdict": verdict_label, "cells": cells, "total": sum(c["count"] for c in cells)}
        )
    total = sum(group["total"] for group in groups)
    description = (
        "; ".join(
            f"{group['verdict']}: "
            + ", ".join(f"{cell['count']} {cell['confidence'].lower()}" for cell in group["cells"])
            for group in groups
        )
        + f". {total} current decision{'s' if total != 1 else ''} in all;"
        " superseded decisions not counted."
    )
    return {
        "bars": bars,
        "groups": groups,
        "total": total,
        "description": description,
        "width": CHART_WIDTH,
        "height": TOP + len(bars) * ROW_HEIGHT + len(groups) * GROUP_GAP,
        "bar_x": BAR_X,
        "bar_height": BAR_HEIGHT,
    }


# --- The page, the chart and the API -------------------------------------------------------


# A team's decisions: no shared cache keeps them once someone loses access.
@never_cache
@require_safe
def page(request: HttpRequest, slug: str) -> HttpResponse:
    workspace = _workspace(request, slug, Action.READ)
    query, errors = read_query(request.GET)
    rows = portfolio_rows(workspace, query)
    listing = Paginator(rows, ROWS_PER_PAGE).get_page(request.GET.get("page"))
    kept = query.params().urlencode()
    export = query.params(workspace=workspace.slug)
    return render(
        request,
        "workspaces/portfolio.html",
        {
            **_nav(request, workspace, "portfolio"),
            "page": listing,
            "query": query,
            "errors": errors,
            "total": len(rows),
            "columns": _columns(query),
            "filters": _filters(workspace, query),
            "default_sort": DEFAULT_SORT,
            "keep": f"{kept}&" if kept else "",
            "filtered": bool(query.params(sort="")),
            "chart": chart(workspace),
            "export_json": f"{reverse('workspaces:api-portfolio')}?{export.urlencode()}",
            "export_csv": (
                f"{reverse('workspaces:api-portfolio')}?"
                f"{query.params(workspace=workspace.slug, format='csv').urlencode()}"
            ),
        },
        status=400 if errors else 200,
    )


def _columns(query: Query) -> list[dict]:
    """Each column's heading, the link that sorts by it, and its aria-sort."""
    current = query.sort.removeprefix("-")
    descending = query.sort.startswith("-")
    columns = []
    for key, (heading, _) in COLUMNS.items():
        # A second click on the sorted column reverses it.
        sort = f"-{key}" if key == current and not descending else key
        columns.append(
            {
                "key": key,
                "heading": heading,
                "href": f"?{query.params(sort=sort).urlencode()}",
                "sorted": (
                    ("descending" if descending else "ascending") if key == current else ""
                ),
            }
        )
    return columns


def _filters(workspace: Workspace, query: Query) -> list[dict]:
    """The filter form's selects: each one's options, the chosen one marked."""
    owners = (
        Assessment.objects.filter(workspace=workspace, created_by__isnull=False)
        .values_list("created_by__username", flat=True)
        .distinct()
        .order_by("created_by__username")
    )
    choices = {**CHOICES, "owner": {name: name for name in owners}}
    labels = {"stale": "Catalogue"}
    # No status chosen leaves out superseded decisions: the option says so.
    blanks = {"status": "Any current (not superseded)"}
    return [
        {
            "key": key,
            "label": labels.get(key, key.capitalize()),
            "blank": blanks.get(key, "Any"),
            "options": [
                (value, label, value == getattr(query, key)) for value, label in options.items()
            ],
        }
        for key, options in choices.items()
    ]


@never_cache
@require_safe
def chart_svg(request: HttpRequest, slug: str) -> HttpResponse:
    workspace = _workspace(request, slug, Action.READ)
    return render(
        request,
        "workspaces/portfolio.svg",
        {"workspace": workspace, "chart": chart(workspace)},
        content_type="image/svg+xml; charset=utf-8",
    )


@never_cache
@api_methods("GET")
def api_portfolio(request: HttpRequest) -> HttpResponse:
    """The portfolio as JSON (or ``?format=csv``): a token's workspace, a session's current one.

    A session may name another of its workspaces with ``?workspace=<slug>``;
    a workspace the caller is not a member of is 404, as an unknown one.
    """
    principal = access.principal_of(request)
    slug = request.GET.get("workspace")
    not_found = {"workspace": f"no workspace {slug!r:.60}"}
    if slug is not None:
        # A slug is checked before the query: a NUL would be a database error.
        workspace = Workspace.objects.filter(slug=slug).first() if SLUG.fullmatch(slug) else None
        if workspace is None:
            return error_response(404, not_found)
    else:
        workspace = access.current_workspace(request)
        if workspace is None:
            if not principal.signed_in:
                return access.api_refusal(access.UNAUTHENTICATED)
            return access.api_refusal(access.FORBIDDEN, "you are not a member of any workspace")
    status = access.decide_workspace(principal, Action.READ, workspace)
    if status != access.ALLOWED:
        return access.api_refusal(status, not_found=not_found)
    query, errors = read_query(request.GET)
    wanted = request.GET.get("format", "json")
    if wanted not in {"json", "csv"}:
        errors["format"] = f"unknown format {wanted!r:.40}; json or csv"
    if errors:
        return error_response(400, errors)
    rows = portfolio_rows(workspace, query)
    if wanted == "csv":
        return _csv(request, workspace, rows)
    return JsonResponse(
        {
            "workspace": workspace.slug,
            "count": len(rows),
            "results": [row.document(request) for row in rows],
        }
    )


def _csv(request: HttpRequest, workspace: Workspace, rows: list[Row]) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{workspace.slug}-portfolio.csv"'
    writer = csv.writer(response)
    writer.writerow(CSV_FIELDS)
    for row in rows:
        document = row.document(request)
        document["approvers"] = "; ".join(document["approvers"])
        writer.writerow(_cell(document[field]) for field in CSV_FIELDS)
    return response


def _cell(value: object) -> str:
    """The value as a CSV cell a spreadsheet shows as text, never runs as a formula."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    text = str(value)
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text
