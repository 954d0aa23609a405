"""The JSON API: the catalogue, assessments as documents, their revisions and share links.

(Network checks: network_check.api; the audit log: workspaces.api.)

Every error is JSON of the form ``{"errors": {field: message}}`` with a 4xx
status; a rejected request saves nothing. Every endpoint asks the access
policy (``workspaces.access``) first and answers its refusals alike
(``access.api_refusal``): 401 with a Bearer challenge, 403 for a role that
does not allow the action, 404 for another workspace's object, with the body
an unknown id gets. Writes go through ``questionnaire.writes``, which logs them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache

from django.db.models import Max
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse

from advisor.http import (
    all_digits,
    created,
    error_response,
    json_methods,
    json_page,
    read_json_object,
    whole_number,
)
from live_demo.workload.api import workload_runs_document
from network_check.api import linked_check, network_check_document
from network_check.models import NetworkCheck
from workspaces import access
from workspaces.access import Action, api_refusal
from workspaces.endpoints import api_methods

from . import cases, decisions, rescoring, writes
from .capacity import read_traffic
from .capacity_display import capacity_note
from .catalogue import Catalogue, get_catalogue
from .models import SHARE_LINK_DAYS, Assessment, Reviewer, Revision, ShareLink, title_problem
from .scoring import validate_answers

MAX_BODY_BYTES = 64 * 1024
# A list's page: a constant, so that a client can count on it.
PAGE_SIZE = 20
SHARE_LINK_BYTES = 1024


@json_methods("GET")
def questions(request: HttpRequest) -> HttpResponse:
    return HttpResponse(_catalogue_json(get_catalogue().version), content_type="application/json")


@cache
def _catalogue_json(version: str) -> bytes:
    """The catalogue document, encoded once per process: it never changes."""
    catalogue = get_catalogue(version)
    return json.dumps(
        {
            "version": catalogue.version,
            "published": catalogue.published,
            "sections": [
                {
                    "slug": section.slug,
                    "title": section.title,
                    "description": section.description,
                    "questions": [
                        {
                            "slug": question.slug,
                            "text": question.text,
                            "help": question.help,
                            # An optional question left out of an answer set
                            # is scored and stored as its default.
                            "optional": question.optional,
                            "default": question.default,
                            "options": [
                                {
                                    "value": option.value,
                                    "label": option.label,
                                    "points": dict(option.points),
                                    "reason": option.reason,
                                    "source": {
                                        "title": option.source.title,
                                        "url": option.source.url,
                                    },
                                }
                                for option in question.options
                            ],
                        }
                        for question in section.questions
                    ],
                }
                for section in catalogue.sections
            ],
            "presets": [
                {
                    "slug": preset.slug,
                    "title": preset.title,
                    "description": preset.description,
                    "answers": dict(preset.answers),
                }
                for preset in catalogue.presets
            ],
        }
    ).encode()


# --- Assessments: list, create, read, revise ----------------------------------


@api_methods("GET", "POST")
def assessments(request: HttpRequest) -> JsonResponse:
    if request.method == "POST":
        return _create(request)
    return _list(request)


def _list(request: HttpRequest) -> JsonResponse:
    """The current workspace's assessments, newest first, a page at a time, ``?q=`` on titles.

    A list needs a workspace: nobody signed in gets 401 even in anonymous
    mode, whose assessments are found by their links, never listed.
    """
    principal = access.principal_of(request)
    workspace = access.current_workspace(request)
    if workspace is None:
        if not principal.signed_in:
            return api_refusal(access.UNAUTHENTICATED)
        return api_refusal(access.FORBIDDEN, "you are not a member of any workspace")
    status = access.decide_workspace(principal, Action.READ, workspace)
    if status != access.ALLOWED:
        return api_refusal(status)
    query = request.GET.get("q", "").strip()
    if problem := title_problem(query):
        return error_response(400, {"q": problem})
    found = (
        Assessment.objects.filter(workspace=workspace)
        .annotate(latest_number=Max("revisions__number"))
        # Ties broken for a stable order across pages.
        .order_by("-updated_at", "-created_at", "pk")
    )
    if query:
        found = found.filter(title__icontains=query)
    page, refusal = json_page(request, found, PAGE_SIZE, lambda each: summary(request, each))
    return refusal or JsonResponse(page)


def summary(request: HttpRequest, assessment: Assessment) -> dict:
    """An assessment as a list shows it: its latest revision's title and verdict."""
    return {
        "id": str(assessment.pk),
        "title": assessment.title,
        "recommendation": assessment.recommendation,
        "confidence": assessment.confidence,
        "status": assessment.status,
        "revision": assessment.latest_number,
        "updated_at": assessment.updated_at.isoformat(),
        "url": request.build_absolute_uri(assessment.get_absolute_url()),
    }


def _create(request: HttpRequest) -> JsonResponse:
    # Who and where before what: a refused caller learns nothing of the body.
    placement, status, message = access.placement(request)
    if status != access.ALLOWED:
        return api_refusal(status, message)
    document, refusal = read_json_object(request, MAX_BODY_BYTES)
    if refusal is not None:
        return refusal
    given, errors = read_assessment(request, document)
    if errors:
        return error_response(400, errors)
    assessment, revision = writes.create_assessment(
        request,
        placement,
        given.title or "",
        given.answers,
        given.catalogue,
        network_check=given.network_check,
        traffic=given.traffic,
    )
    location = reverse("questionnaire:api-assessment", args=[assessment.pk])
    return created(
        assessment_document(request, assessment, revision, new=True),
        request.build_absolute_uri(location),
    )


@dataclass(frozen=True)
class AssessmentInput:
    """What a creation or a revision gives, validated."""

    # Stripped; None when none was given (absent or null).
    title: str | None
    answers: dict
    catalogue: Catalogue
    network_check: NetworkCheck | None
    # Validated (capacity.read_traffic); None when none was given.
    traffic: dict | None = None


def read_assessment(
    request: HttpRequest, document: dict
) -> tuple[AssessmentInput, None] | tuple[None, dict[str, str]]:
    """A creation's or a revision's title, answers, network check and traffic, or every problem.

    One function for both, so that a revision is refused exactly as a new
    assessment would be. The network check must be one the caller may view.
    """
    errors: dict[str, str] = {}
    for key in document.keys() - {"title", "answers", "network_check", "traffic"}:
        errors[key] = "unknown field; expected title, answers, network_check and traffic"
    traffic, problems = read_traffic(document.get("traffic"))
    errors.update(problems)
    network_check, problem = linked_check(
        document.get("network_check"), access.principal_of(request)
    )
    if problem:
        errors["network_check"] = problem
    title = document.get("title")
    if title is not None and not isinstance(title, str):
        errors["title"] = "must be a string"
    elif title is not None and (problem := title_problem(title.strip())):
        errors["title"] = problem
    catalogue = get_catalogue()
    if "answers" not in document:
        errors["answers"] = "required: an object with an answer to every question"
    else:
        for slug, message in validate_answers(catalogue, document["answers"]).items():
            errors["answers" if slug == "answers" else f"answers.{slug}"] = message
    if errors:
        return None, errors
    return (
        AssessmentInput(
            title=title.strip() if title is not None else None,
            answers=document["answers"],
            catalogue=catalogue,
            network_check=network_check,
            traffic=traffic,
        ),
        None,
    )


def _find(
    request: HttpRequest, pk, action: Action
) -> tuple[Assessment | None, JsonResponse | None]:
    """The assessment ``pk`` if the caller may do ``action`` with it, else the refusal.

    Another workspace's assessment gets the very 404 an unknown id gets.
    """
    not_found = {"id": f"no assessment with id {pk}"}
    assessment = Assessment.objects.filter(pk=pk).first()
    if assessment is None:
        return None, error_response(404, not_found)
    status = access.decide(access.principal_of(request), action, assessment)
    if status != access.ALLOWED:
        message = ""
        if (
            status == access.FORBIDDEN
            and action is Action.SHARE
            and assessment.workspace_id is None
        ):
            message = SHARE_NEEDS_WORKSPACE
        return None, api_refusal(status, message, not_found=not_found)
    return assessment, None


@api_methods("GET")
def assessment_detail(request: HttpRequest, pk) -> JsonResponse:
    assessment, refusal = _find(request, pk, Action.VIEW)
    if refusal is not None:
        return refusal
    revision, refusal = requested_revision(request, list(assessment.revisions.all()))
    if refusal is not None:
        return refusal
    return JsonResponse(assessment_document(request, assessment, revision))


def requested_revision(
    request: HttpRequest, revisions: list[Revision]
) -> tuple[Revision, None] | tuple[None, JsonResponse]:
    """The revision ``?revision=N`` names (the latest without it), or the 4xx that refuses it."""
    numbered = {revision.number: revision for revision in revisions}
    requested = request.GET.get("revision")
    if requested is None:
        return numbered[max(numbered)], None
    if (number := whole_number(requested)) not in numbered:
        # A number that names no revision is not found, however long; anything
        # else is malformed. The echo is cut short: the value may be huge.
        return None, error_response(
            404 if all_digits(requested) else 400,
            {
                "revision": f"no revision {requested!r:.40}; "
                f"this assessment has 1 to {max(numbered)}"
            },
        )
    return numbered[number], None


@api_methods("POST")
def assessment_revisions(request: HttpRequest, pk) -> JsonResponse:
    """A new revision: the same body and checks as a new assessment; no title keeps the last."""
    assessment, refusal = _find(request, pk, Action.REVISE)
    if refusal is not None:
        return refusal
    document, refusal = read_json_object(request, MAX_BODY_BYTES)
    if refusal is not None:
        return refusal
    given, errors = read_assessment(request, document)
    if errors:
        return error_response(400, errors)
    latest = assessment.latest
    title = given.title if given.title is not None else latest.title
    # Left out, the traffic is the last revision's, as the title is; null removes it.
    traffic = given.traffic if "traffic" in document else latest.traffic
    revision = writes.revise_assessment(
        request,
        assessment,
        title,
        given.answers,
        given.catalogue,
        network_check=given.network_check,
        traffic=traffic,
    )
    location = reverse("questionnaire:api-assessment", args=[assessment.pk])
    return created(
        assessment_document(request, assessment, revision, new=True),
        request.build_absolute_uri(f"{location}?revision={revision.number}"),
    )


# --- Share links ---------------------------------------------------------------

SHARE_NEEDS_WORKSPACE = (
    "only a workspace's assessments can be shared: move this assessment into a "
    "workspace (or have an owner claim it) first"
)


@api_methods("GET", "POST")
def share_links(request: HttpRequest, pk) -> JsonResponse:
    assessment, refusal = _find(request, pk, Action.SHARE)
    if refusal is not None:
        return refusal
    if assessment.workspace_id is None:
        # The policy refuses this already; said again so that no change there shares one.
        return api_refusal(access.FORBIDDEN, SHARE_NEEDS_WORKSPACE)
    if request.method == "POST":
        return _create_share_link(request, assessment)
    links = assessment.share_links.select_related("created_by").order_by("-created_at", "-id")
    return JsonResponse({"results": [share_link_summary(link) for link in links]})


def _create_share_link(request: HttpRequest, assessment: Assessment) -> JsonResponse:
    document, refusal = read_json_object(request, SHARE_LINK_BYTES)
    if refusal is not None:
        return refusal
    errors: dict[str, str] = {}
    for key in document.keys() - {"expires_in_days"}:
        errors[key] = "unknown field; expected expires_in_days"
    days = document.get("expires_in_days")
    # bool is an int to Python: true must not pass for 1 day, nor 7.0 for 7.
    if days is not None and (type(days) is not int or days not in SHARE_LINK_DAYS):
        allowed = ", ".join(str(each) for each in SHARE_LINK_DAYS)
        errors["expires_in_days"] = (
            f"must be one of {allowed}, or null for a link that never expires"
        )
    if errors:
        return error_response(400, errors)
    link, url = writes.create_share_link(request, assessment, days)
    location = reverse("questionnaire:api-share-links", args=[assessment.pk])
    return created(
        {
            "id": link.pk,
            # The secret is in the URL, and only a hash of it is stored: shown this once.
            "url": url,
            "expires_at": link.expires_at.isoformat() if link.expires_at else None,
        },
        request.build_absolute_uri(location),
    )


def share_link_summary(link: ShareLink) -> dict:
    """A link as its list shows it: never its secret, which is not stored."""
    return {
        "id": link.pk,
        "expires_at": link.expires_at.isoformat() if link.expires_at else None,
        "created_at": link.created_at.isoformat(),
        "created_by": link.created_by.get_username() if link.created_by else None,
        "revoked_at": link.revoked_at.isoformat() if link.revoked_at else None,
        "status": link.status,
    }


@api_methods("DELETE")
def share_link_detail(request: HttpRequest, pk, link_id: str) -> HttpResponse:
    """Revoke a link: 204, again for one already revoked (the link stays in the list)."""
    assessment, refusal = _find(request, pk, Action.SHARE)
    if refusal is not None:
        return refusal
    # Read as text: a number too long for the database names no link (404, not a 500).
    number = whole_number(link_id)
    link = assessment.share_links.filter(pk=number).first() if number is not None else None
    if link is None:
        return error_response(404, {"id": f"no share link {link_id:.40} of this assessment"})
    writes.revoke_share_link(request, link)
    return HttpResponse(status=204)


def assessment_document(
    request: HttpRequest, assessment: Assessment, revision: Revision, *, new: bool = False
) -> dict:
    """The assessment as the API shows it; ``new``: a revision just saved, with no runs yet."""
    return {
        "id": str(assessment.pk),
        "url": request.build_absolute_uri(assessment.get_absolute_url()),
        # The revision's own title: an earlier revision keeps the name it was saved under.
        "title": revision.title,
        "revision": revision.number,
        "created_at": revision.created_at.isoformat(),
        "answers": revision.answers,
        "traffic": revision.traffic,
        **revision.result,
        # A plan for the revision's traffic, worked out when it was saved; null without one.
        "capacity": capacity_document(revision.result),
        "network_check": (
            network_check_document(request, revision.network_check, revision.catalogue)
            if revision.network_check_id
            else None
        ),
        # What the current catalogue says of these answers (stale, would change).
        "outlook": rescoring.outlook_document(revision),
        # The closest real systems and what they chose ("products like yours").
        "similar_cases": cases.similar_cases_document(revision.answers),
        # The revision's own workload measured over both transports, latest first.
        "workload_runs": [] if new else workload_runs_document(request, revision),
        **decision_document(assessment),
    }


def capacity_document(result: dict) -> dict | None:
    """The stored plan, with the note the page shows when it and the verdict point apart."""
    plan = result.get("capacity")
    if plan is None:
        return None
    return {**plan, "note": capacity_note(plan, result.get("recommendation"))}


def decision_document(assessment: Assessment) -> dict:
    """The decision's part of the document: where it stands, who reviews it, their reviews.

    Of the assessment, whichever revision the document shows. An assessment
    in no workspace has no decision to take: draft, and nothing else (and
    no query to find that out).
    """
    if assessment.workspace_id is None:
        return {
            "status": assessment.status,
            "required_approvals": None,
            "approvals": [],
            "reviewers": [],
            "superseded_by": None,
            "supersedes": [],
        }
    return {
        "status": assessment.status,
        "required_approvals": assessment.workspace.required_approvals,
        "approvals": [
            {
                "reviewer": approval.reviewer,
                "revision": approval.revision,
                "verdict": approval.verdict,
                "comment": approval.comment,
                "at": approval.at.isoformat(),
                "counts": approval.counts,
            }
            for approval in decisions.approvals(assessment)
        ],
        "reviewers": list(
            Reviewer.objects.filter(assessment=assessment)
            .order_by("user__username")
            .values_list("user__username", flat=True)
        ),
        "superseded_by": (
            str(assessment.superseded_by_id) if assessment.superseded_by_id else None
        ),
        "supersedes": [
            str(pk)
            for pk in assessment.supersedes.order_by("created_at").values_list("pk", flat=True)
        ],
    }
