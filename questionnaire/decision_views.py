"""The decision forms of the result page: request review, review, comment, supersede.

Each is a plain POST form that works without JavaScript (the answer is a
redirect back to the page's decision panel) and with htmx (the answer is
the panel alone, swapped in place). The access policy says who may try
(``access.require``: 404, 403 or sign-in, as every page does); the
decision's state is ``decisions``'s to say: a ``Refused`` step comes back
as the page (or the panel) with an inline error next to the form, what was
typed kept, with the refusal's status, and nothing changed.
"""

from __future__ import annotations

from collections.abc import Callable
from uuid import UUID

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST
from django_htmx.middleware import HtmxDetails

from advisor.clients import write_refusal
from advisor.http import whole_number
from workspaces import access
from workspaces.access import Action

from . import decisions
from .models import Assessment
from .views import _result_page

# What a text check's message ("must be at most 4000 characters") is about.
FIELD_NOUNS = {"body": "the comment", "comment": "the comment"}


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


def _assessment(request: HttpRequest, pk, action: Action) -> Assessment:
    assessment = get_object_or_404(Assessment, pk=pk)
    access.require(request, action, assessment)
    return assessment


def _attempt(
    request: HtmxHttpRequest,
    assessment: Assessment,
    form: str,
    data: dict,
    step: Callable[[], object],
) -> HttpResponse:
    """Run ``step``; the panel after it, or the refusal next to ``form`` with ``data`` kept."""
    limited = write_refusal(request)
    if limited is not None:
        # Over the client's write rate, as the wizard's forms are: nothing saved.
        message, seconds = limited
        response = _refused(
            request, assessment, form, data, decisions.Refused(429, "rate", message)
        )
        response["Retry-After"] = seconds
        return response
    try:
        step()
    except decisions.Refused as refused:
        if refused.status == 404:
            raise Http404(refused.message) from None
        return _refused(request, assessment, form, data, refused)
    if request.htmx:
        return _panel(request, assessment)
    return redirect(f"{assessment.get_absolute_url()}#decision")


def _refused(
    request: HtmxHttpRequest,
    assessment: Assessment,
    form: str,
    data: dict,
    refused: decisions.Refused,
) -> HttpResponse:
    message = refused.message.rstrip(".")
    if message.startswith("must ") and refused.field in FIELD_NOUNS:
        message = f"{FIELD_NOUNS[refused.field]} {message}"
    decision_form = {"form": form, "field": refused.field, "message": message, "data": data}
    assessment.refresh_from_db()
    if request.htmx:
        return _panel(request, assessment, decision_form, status=refused.status)
    return _result_page(request, assessment, decision_form=decision_form, status=refused.status)


def _panel(
    request: HttpRequest, assessment: Assessment, decision_form: dict | None = None, status=200
) -> HttpResponse:
    # The revision the page that posted shows (its forms carry it).
    seen = whole_number(request.POST.get("revision"))
    context = decisions.panel_context(assessment, access.principal_of(request), seen)
    return render(
        request,
        "questionnaire/_decision.html",
        {"assessment": assessment, "decision_form": decision_form, **context},
        status=status,
    )


@require_POST
def review_request(request: HtmxHttpRequest, pk) -> HttpResponse:
    """An editor or owner names reviewers of the latest revision (→ in review)."""
    assessment = _assessment(request, pk, Action.REQUEST_REVIEW)
    names = request.POST.getlist("reviewers")
    return _attempt(
        request,
        assessment,
        "review-request",
        {"reviewers": names},
        lambda: decisions.request_review(request, assessment, names),
    )


@require_POST
def review(request: HtmxHttpRequest, pk) -> HttpResponse:
    """A named reviewer approves the latest revision or requests changes."""
    assessment = _assessment(request, pk, Action.REVIEW)
    verdict = request.POST.get("verdict", "")
    comment = request.POST.get("comment", "")
    # The revision the reviewer read (the form carries it): refused if a
    # newer one was saved since.
    typed = request.POST.get("revision")
    seen = whole_number(typed)
    if typed is not None and seen is None:
        refused = decisions.Refused(400, "revision", "reload the page: its revision is unreadable")
        return _refused(
            request, assessment, "review", {"verdict": verdict, "comment": comment}, refused
        )
    return _attempt(
        request,
        assessment,
        "review",
        {"verdict": verdict, "comment": comment},
        lambda: decisions.review(
            request, assessment, verdict, comment.strip(), seen_revision=seen
        ),
    )


@require_POST
def comment(request: HtmxHttpRequest, pk) -> HttpResponse:
    assessment = _assessment(request, pk, Action.COMMENT)
    body = request.POST.get("body", "")
    return _attempt(
        request,
        assessment,
        "comment",
        {"body": body},
        lambda: decisions.add_comment(request, assessment, body),
    )


@require_POST
def supersede(request: HtmxHttpRequest, pk) -> HttpResponse:
    """Mark this accepted decision as replaced by another of the workspace's assessments.

    Both ends are changed in the record (one is superseded, the other
    supersedes it), so the request must be allowed on both.
    """
    old = _assessment(request, pk, Action.REQUEST_REVIEW)
    chosen = request.POST.get("superseded_by", "").strip()
    data = {"superseded_by": chosen}
    try:
        new_pk = UUID(chosen)
    except ValueError:
        refused = decisions.Refused(
            400, "superseded_by", "choose the assessment that supersedes this one"
        )
        return _refused(request, old, "supersede", data, refused)
    # Another workspace's assessment (or none) is not found from here.
    new = Assessment.objects.filter(pk=new_pk, workspace_id=old.workspace_id).first()
    if new is None:
        raise Http404("No such assessment in this workspace.")
    access.require(request, Action.REQUEST_REVIEW, new)
    return _attempt(
        request, old, "supersede", data, lambda: decisions.supersede(request, old, new)
    )
