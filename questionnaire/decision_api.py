"""The decision through the JSON API: review requests, reviews and comments.

The steps are the pages' own (``questionnaire.decisions``), so the API
refuses exactly what the decision panel refuses. Each endpoint asks the
access policy first (REQUEST_REVIEW, REVIEW, COMMENT; VIEW to read the
comments) and answers its refusals as every endpoint does
(``access.api_refusal``); then the body is checked, field by field; then
the decision's state has its say, and a ``decisions.Refused`` becomes its
status with ``{"errors": {field: message}}``. A refused request changes
nothing.
"""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.urls import reverse

from advisor.http import created, error_response, json_page, read_json_object
from workspaces import access
from workspaces.access import Action, api_refusal
from workspaces.endpoints import api_methods

from . import decisions
from .api import PAGE_SIZE, assessment_document
from .models import Assessment, Comment

# A comment is at most 4,000 characters: 64 KiB holds it escaped, with room.
MAX_BODY_BYTES = 64 * 1024
# Django's default username length: a longer name names nobody.
USERNAME_MAX_LENGTH = 150
NEEDS_WORKSPACE = (
    "decisions are taken on a workspace's assessments: move this assessment into a "
    "workspace (or have an owner claim it) first"
)
VERDICTS = 'must be "approve" or "request_changes"'


def _find(
    request: HttpRequest, pk, action: Action
) -> tuple[Assessment | None, JsonResponse | None]:
    """The assessment if the caller may do ``action`` on it, else the refusal (404 as unknown)."""
    not_found = {"id": f"no assessment with id {pk}"}
    assessment = Assessment.objects.select_related("workspace").filter(pk=pk).first()
    if assessment is None:
        return None, error_response(404, not_found)
    status = access.decide(access.principal_of(request), action, assessment)
    if status != access.ALLOWED:
        message = ""
        if status == access.FORBIDDEN and assessment.workspace_id is None:
            message = NEEDS_WORKSPACE
        return None, api_refusal(status, message, not_found=not_found)
    return assessment, None


def _body(
    request: HttpRequest, fields: set[str]
) -> tuple[dict, dict[str, str]] | tuple[None, JsonResponse]:
    """The JSON object sent, and a problem for each field it has that ``fields`` does not name."""
    document, refusal = read_json_object(request, MAX_BODY_BYTES)
    if refusal is not None:
        return None, refusal
    expected = ", ".join(sorted(fields))
    return document, dict.fromkeys(document.keys() - fields, f"unknown field; expected {expected}")


def _refused(refused: decisions.Refused) -> JsonResponse:
    return error_response(refused.status, {refused.field: refused.message})


def _decision(request: HttpRequest, assessment: Assessment) -> JsonResponse:
    """The assessment document of the latest revision: the decision as it now stands."""
    return JsonResponse(assessment_document(request, assessment, assessment.latest))


@api_methods("POST")
def review_requests(request: HttpRequest, pk) -> JsonResponse:
    """Name reviewers of the latest revision (→ in review); answers the assessment document."""
    assessment, refusal = _find(request, pk, Action.REQUEST_REVIEW)
    if refusal is not None:
        return refusal
    document, errors = _body(request, {"reviewers"})
    if document is None:
        return errors
    names = document.get("reviewers")
    if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
        errors["reviewers"] = 'required: a list of usernames, such as ["alice", "bob"]'
    elif any(len(name) > USERNAME_MAX_LENGTH for name in names):
        errors["reviewers"] = f"a username is at most {USERNAME_MAX_LENGTH} characters"
    if errors:
        return error_response(400, errors)
    try:
        decisions.request_review(request, assessment, names)
    except decisions.Refused as refused:
        return _refused(refused)
    return _decision(request, assessment)


@api_methods("POST")
def reviews(request: HttpRequest, pk) -> JsonResponse:
    """A named reviewer's verdict on the latest revision; answers the assessment document."""
    assessment, refusal = _find(request, pk, Action.REVIEW)
    if refusal is not None:
        return refusal
    document, errors = _body(request, {"verdict", "comment", "revision"})
    if document is None:
        return errors
    verdict = document.get("verdict")
    if not isinstance(verdict, str):
        errors["verdict"] = f"required: {VERDICTS}"
    # Optional: the revision the reviewer read; refused if a newer one was saved since.
    seen = document.get("revision")
    if seen is not None and (type(seen) is not int or seen < 1):
        errors["revision"] = "must be a revision number (a whole number from 1)"
    comment = document.get("comment")
    if comment is not None and not isinstance(comment, str):
        errors["comment"] = "must be a string (plain text)"
    if errors:
        return error_response(400, errors)
    try:
        decisions.review(request, assessment, verdict, comment or "", seen_revision=seen)
    except decisions.Refused as refused:
        return _refused(refused)
    return _decision(request, assessment)


@api_methods("GET", "POST")
def comments(request: HttpRequest, pk) -> JsonResponse:
    """The decision's comments, oldest first, a page at a time; POST adds one."""
    action = Action.COMMENT if request.method == "POST" else Action.VIEW
    assessment, refusal = _find(request, pk, action)
    if refusal is not None:
        return refusal
    if request.method == "POST":
        return _add_comment(request, assessment)
    found = Comment.objects.filter(assessment=assessment).order_by("created_at", "id")
    page, refusal = json_page(request, found, PAGE_SIZE, comment_document)
    return refusal or JsonResponse(page)


def _add_comment(request: HttpRequest, assessment: Assessment) -> JsonResponse:
    document, errors = _body(request, {"body"})
    if document is None:
        return errors
    body = document.get("body")
    if not isinstance(body, str):
        errors["body"] = "required: the comment, as a string (plain text)"
    if errors:
        return error_response(400, errors)
    try:
        comment = decisions.add_comment(request, assessment, body)
    except decisions.Refused as refused:
        return _refused(refused)
    location = reverse("questionnaire:api-comments", args=[assessment.pk])
    return created(comment_document(comment), request.build_absolute_uri(location))


def comment_document(comment: Comment) -> dict:
    return {
        "id": comment.pk,
        "author": comment.author_name,
        # Plain text, as written: a client shows it as text, never as HTML.
        "body": comment.body,
        "revision": comment.revision_number,
        "at": comment.created_at.isoformat(),
    }
