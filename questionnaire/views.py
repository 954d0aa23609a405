from __future__ import annotations

from asgiref.sync import sync_to_async
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    HttpResponseRedirect,
)
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import content_disposition_header
from django.views.decorators.cache import never_cache
from django.views.decorators.http import (
    require_http_methods,
    require_POST,
    require_safe,
)
from django_htmx.http import HttpResponseClientRedirect
from django_htmx.middleware import HtmxDetails

from advisor.clients import write_refusal
from advisor.http import whole_number
from live_demo.workload.evidence import workload_evidence
from network_check.models import NetworkCheck
from network_check.suggestions import suggestions
from serving.threads import give_back_connections
from workspaces import access, services
from workspaces.access import Action, share_link_principal
from workspaces.models import AuditAction, Workspace

from . import cases, decisions, prerender, report, report_cache, rescoring, writes
from .capacity import traffic_form_values
from .catalogue import get_catalogue
from .display import SHORT_NAMES, revision_context
from .models import SHARE_LINK_DAYS, Assessment, DecisionStatus, Revision, ShareLink
from .scoring import evaluate
from .snapshot import Viewer, snapshot_parts
from .wizard import NETWORK_CHECK, RATE_ERROR, Wizard

RECENT_SESSION_KEY = "recent_assessments"
RECENT_LIMIT = 20
# The wizard's inline error when the new assessment has nowhere to go.
PLACEMENT_ERROR = "placement"
# A share link's expiry, as the form offers it: days, or "never".
NEVER = "never"
EXPIRY_ERROR = "Choose when the link expires: in 7, 30 or 90 days, or never."


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


# HEAD wherever GET is: monitors and link checkers ask with it.
@require_safe
def home(request: HtmxHttpRequest) -> HttpResponse:
    principal = access.principal_of(request)
    recent_ids = request.session.get(RECENT_SESSION_KEY, [])
    # Only what this visitor may still read: one moved into a workspace
    # they are not a member of drops out of the list.
    recent = sorted(
        (
            assessment
            for assessment in Assessment.objects.filter(pk__in=recent_ids)
            if access.can(principal, Action.VIEW, assessment)
        ),
        key=lambda assessment: recent_ids.index(str(assessment.pk)),
    )
    before_sign_in, movable_into = [], []
    if principal.signed_in and principal.anonymous_key:
        # Made in this browser before its owner signed in: theirs to move.
        before_sign_in = list(
            Assessment.objects.filter(
                workspace=None, unassigned=False, anonymous_owner=principal.anonymous_key
            )
        )
        movable_into = _workspaces_for(principal, Action.CREATE) if before_sign_in else []
    return render(
        request,
        "questionnaire/home.html",
        {
            "catalogue": get_catalogue(),
            "recent": recent,
            "before_sign_in": before_sign_in,
            "movable_into": movable_into,
        },
    )


@require_http_methods(["GET", "HEAD", "POST"])
def assessment_new(request: HtmxHttpRequest) -> HttpResponse:
    catalogue = get_catalogue()
    preset = catalogue.preset(request.GET.get("preset", "")) or cases.case_preset(
        catalogue, request.GET.get("case", "")
    )
    initial = Wizard(
        catalogue=catalogue,
        answers=dict(preset.answers) if preset else {},
        title=preset.title if preset else "",
    )
    # "Start an assessment with these answers" from the network check page.
    suggested = request.method in {"GET", "HEAD"} and NETWORK_CHECK in request.GET
    if suggested:
        _answer_from_check(request, initial, request.GET[NETWORK_CHECK])
    return _wizard(request, initial, preset=preset, suggested=suggested)


@require_http_methods(["GET", "HEAD", "POST"])
def assessment_edit(request: HtmxHttpRequest, pk) -> HttpResponse:
    assessment = get_object_or_404(Assessment, pk=pk)
    access.require(request, Action.REVISE, assessment)
    catalogue = get_catalogue()
    latest = assessment.latest
    # Answers to questions the current catalogue no longer asks are dropped.
    answers = {
        slug: value
        for slug, value in latest.answers.items()
        if catalogue.question(slug) and catalogue.question(slug).option(value)
    }
    initial = Wizard(
        catalogue=catalogue,
        answers=answers,
        title=latest.title,
        # The latest evidence stays linked unless the user runs a new check.
        network_check=str(latest.network_check_id or ""),
        # And the traffic numbers, so that a new revision keeps its capacity plan.
        traffic=traffic_form_values(latest.traffic),
    )
    # "Adopt catalogue vN" on a stale result: its new questions first.
    adopting = rescoring.outlook(latest, catalogue) if "adopt" in request.GET else None
    if adopting is not None and not adopting.stale:
        adopting = None
    if adopting is not None and request.method != "POST":
        initial.open_at(adopting.unanswered)
    status, verdict = assessment.status, assessment.recommendation
    response = _wizard(request, initial, assessment=assessment, adopting=adopting)
    if assessment.status != status:
        _say_reopened(request, assessment, status, verdict)
    return response


def _say_reopened(request: HttpRequest, assessment: Assessment, was: str, verdict: str) -> None:
    """Tell the editor that their new revision sent a taken decision back to review."""
    label = DecisionStatus(was).label.lower()
    if assessment.recommendation != verdict:
        message = (
            f"The verdict changed to {SHORT_NAMES[assessment.recommendation]}: "
            f"the {label} decision went back to review."
        )
    else:
        message = f"The {label} decision went back to review for the new revision."
    messages.info(request, message)


def _wizard(
    request: HtmxHttpRequest,
    wizard: Wizard,
    *,
    assessment=None,
    preset=None,
    suggested: bool = False,
    adopting: rescoring.Outlook | None = None,
) -> HttpResponse:
    if request.method == "POST":
        wizard = Wizard.from_data(wizard.catalogue, request.POST)
        check = _carried_check(request, wizard)
        wizard.apply(request.POST.get("action", "next"))
        refused = write_refusal(request) if wizard.finished else None
        if refused is not None:
            # Over the client's write rate: the same step comes back with
            # every answer and an inline error, and nothing is saved.
            wizard.finished = False
            wizard.errors[RATE_ERROR] = refused[0]
            response = _render_wizard(
                request, wizard, assessment, preset, suggested, adopting, status=429
            )
            response["Retry-After"] = refused[1]
            return response
        if wizard.finished:
            if assessment is None:
                where, status, reason = access.placement(request)
                if status != access.ALLOWED:
                    # Nowhere this person may create: the same step, every
                    # answer kept, an inline error, and nothing saved.
                    wizard.finished = False
                    wizard.errors[PLACEMENT_ERROR] = (
                        f"This assessment cannot be saved: {reason}. Ask a workspace owner "
                        "for the editor role, or pick another workspace in the header."
                    )
                    return _render_wizard(
                        request, wizard, assessment, preset, suggested, adopting, status=403
                    )
                assessment, _ = writes.create_assessment(
                    request,
                    where,
                    wizard.title,
                    wizard.answers,
                    network_check=check,
                    traffic=wizard.traffic_values,
                )
            else:
                writes.revise_assessment(
                    request,
                    assessment,
                    wizard.title,
                    wizard.answers,
                    network_check=check,
                    traffic=wizard.traffic_values,
                )
            _remember(request, assessment)
            url = assessment.get_absolute_url()
            if request.htmx:
                return HttpResponseClientRedirect(url)
            return HttpResponseRedirect(url)
    return _render_wizard(request, wizard, assessment, preset, suggested, adopting)


def _render_wizard(
    request: HtmxHttpRequest,
    wizard: Wizard,
    assessment,
    preset,
    suggested: bool,
    adopting: rescoring.Outlook | None = None,
    status=200,
) -> HttpResponse:
    leaning = evaluate(wizard.catalogue, wizard.answers, with_flips=False)
    # Said on the first page, not only at the end: a viewer may still
    # explore the questions, knowing that nothing will be saved.
    cannot_save = ""
    if assessment is None and request.method in {"GET", "HEAD"}:
        _, placed, reason = access.placement(request)
        cannot_save = reason if placed == access.FORBIDDEN else ""
    template = "questionnaire/wizard.html"
    if request.htmx and request.method == "POST":
        template += "#wizard"
    return render(
        request,
        template,
        {
            "wizard": wizard,
            "catalogue": wizard.catalogue,
            "leaning": leaning,
            "assessment": assessment,
            "preset": preset,
            "cannot_save": cannot_save,
            "suggested": suggested and bool(wizard.network_check),
            "adopting": adopting,
            "new_questions": [wizard.catalogue.question(slug) for slug in adopting.unanswered]
            if adopting
            else [],
        },
        status=status,
    )


def _carried_check(request: HttpRequest, wizard: Wizard) -> NetworkCheck | None:
    """The network check the form carries; an unknown one is dropped with an inline error.

    One this person may not see is unknown to them as well: the form must not
    tell that it exists, nor link someone else's evidence to their assessment.
    """
    if not wizard.network_check:
        return None
    check = NetworkCheck.find(wizard.network_check)
    if check is not None and not access.can(access.principal_of(request), Action.VIEW, check):
        check = None
    if check is None:
        wizard.reject_network_check()
    return check


def _answer_from_check(request: HttpRequest, wizard: Wizard, check_id: str) -> None:
    """Link the check and tick the answers it suggests; the user accepts or overrides them."""
    wizard.network_check = check_id.strip()
    check = _carried_check(request, wizard)
    if check is None:
        return
    wizard.network_check = str(check.pk)
    for suggestion in suggestions(check.measurement, wizard.catalogue):
        wizard.answers[suggestion.question] = suggestion.value


@require_POST
def leaning(request: HtmxHttpRequest) -> HttpResponse:
    """The live leaning panel, for the answers given so far."""
    wizard = Wizard.from_data(get_catalogue(), request.POST)
    result = evaluate(wizard.catalogue, wizard.answers, with_flips=False)
    return render(
        request,
        "questionnaire/wizard.html#leaning",
        {"wizard": wizard, "leaning": result},
    )


@require_safe
def assessment_detail(request: HtmxHttpRequest, pk) -> HttpResponse:
    # With its workspace: the decision panel reads its rules.
    assessment = get_object_or_404(Assessment.objects.select_related("workspace"), pk=pk)
    access.require(request, Action.VIEW, assessment)
    return _result_page(request, assessment)


@never_cache
@require_safe
def decision_panel(request: HtmxHttpRequest, pk) -> HttpResponse:
    """The decision panel alone: what the result page's live updates swap in."""
    assessment = get_object_or_404(Assessment, pk=pk)
    access.require(request, Action.VIEW, assessment)
    # The revision the page shows: the panel offers a review of that one only.
    seen = whole_number(request.GET.get("seen"))
    return render(
        request,
        "questionnaire/_decision.html",
        {
            "assessment": assessment,
            **decisions.panel_context(assessment, access.principal_of(request), seen),
        },
    )


# Never stored by a browser's or a proxy's cache: a share link's page would
# outlive its revocation there, and a report is one team's decisions.
@never_cache
@require_safe
def shared_assessment(request: HtmxHttpRequest, secret: str) -> HttpResponse:
    """The result page, read-only, for the holder of a share link; 404 once revoked or expired."""
    link = ShareLink.find(secret)
    if link is None:
        raise Http404("This share link is unknown, revoked or expired.")
    request._principal = share_link_principal(link)
    return _result_page(request, link.assessment, share_secret=secret)


def _result_page(
    request: HtmxHttpRequest,
    assessment: Assessment,
    *,
    share_secret: str = "",
    new_link_url: str = "",
    share_error: str = "",
    decision_form: dict | None = None,
    status: int = 200,
) -> HttpResponse:
    # Without their network checks: only the snapshot shows one, and it is
    # rendered from the revision (which reads its check then) once per key.
    revisions = list(assessment.revisions.all())
    revision = requested_revision_or_404(request, revisions)
    principal = access.principal_of(request)
    if share_secret:
        # Read-only for the holder of the link: its own URLs, nothing to change.
        page_url = reverse("questionnaire:shared", args=[share_secret])
        report_url = reverse("questionnaire:shared-report", args=[share_secret])
        can = dict.fromkeys(("revise", "share", "move", "claim"), False)
    else:
        page_url = assessment.get_absolute_url()
        report_url = reverse("questionnaire:report", args=[assessment.pk])
        can = {
            "revise": access.can(principal, Action.REVISE, assessment),
            # Share links are for workspace assessments: anonymous ones have
            # their own link, which anyone holding it reads.
            "share": assessment.workspace_id is not None
            and access.can(principal, Action.SHARE, assessment),
            "move": access.can(principal, Action.MOVE, assessment),
            "claim": access.can(principal, Action.CLAIM, assessment),
        }
    # Access was checked by the caller before this reads any cache.
    context = {
        **revision_context(revisions, revision),
        "snapshot": snapshot_parts(
            revisions, revision, Viewer(shared=bool(share_secret), can_revise=can["revise"])
        ),
        **decisions.panel_context(
            assessment, principal, revision.number, latest=revisions[-1].number
        ),
        **rescoring.page_context(assessment, revisions, revision),
        # A decision form refused: which, why, and what was typed (decision_views).
        "decision_form": decision_form,
        "assessment": assessment,
        "share_secret": share_secret,
        "share_url": request.build_absolute_uri(page_url),
        "page_url": page_url,
        "report_url": report_url,
        "can": can,
        "new_link_url": new_link_url,
        "share_error": share_error,
        "expiry_choices": [str(days) for days in SHARE_LINK_DAYS],
    }
    # Per request, outside the revision's result: a posted run shows at once.
    context["workload_runs"] = workload_evidence(revision)
    if can["share"]:
        context["share_links"] = list(assessment.share_links.select_related("created_by"))
    if can["move"]:
        context["destinations"] = _workspaces_for(principal, Action.CREATE)
    elif can["claim"]:
        context["destinations"] = access.owned_workspaces(principal)
    return render(request, "questionnaire/assessment.html", context, status=status)


def _workspaces_for(principal: access.Principal, action: Action) -> list[Workspace]:
    return [
        membership.workspace
        for membership in access.my_memberships(principal)
        if access.can(principal, action, membership.workspace)
    ]


@require_POST
def share_link_create(request: HtmxHttpRequest, pk) -> HttpResponse:
    """A new share link; its URL is shown once, on the page this answers with."""
    assessment = get_object_or_404(Assessment, pk=pk)
    access.require(request, Action.SHARE, assessment)
    if assessment.workspace_id is None:
        raise PermissionDenied("Share links are for workspace assessments.")
    expiry = request.POST.get("expires", "")
    if expiry == NEVER:
        days = None
    elif expiry in {str(days) for days in SHARE_LINK_DAYS}:
        days = int(expiry)
    else:
        return _result_page(request, assessment, share_error=EXPIRY_ERROR, status=400)
    _, url = writes.create_share_link(request, assessment, days)
    # Rendered, not redirected: the link holds its secret, which is never stored.
    return _result_page(request, assessment, new_link_url=url)


@require_POST
def share_link_revoke(request: HtmxHttpRequest, pk, link_id: int) -> HttpResponse:
    assessment = get_object_or_404(Assessment, pk=pk)
    access.require(request, Action.SHARE, assessment)
    link = get_object_or_404(ShareLink, pk=link_id, assessment=assessment)
    writes.revoke_share_link(request, link)
    return redirect(f"{assessment.get_absolute_url()}#share-links")


@require_POST
def assessment_move(request: HtmxHttpRequest, pk) -> HttpResponse:
    """Into a workspace: an anonymous assessment by the session that made it (MOVE),
    or an unassigned one by an owner (CLAIM)."""
    assessment = get_object_or_404(Assessment, pk=pk)
    linked = NetworkCheck.objects.filter(revisions__assessment=assessment)
    # The checks that go along are those the mover may move or claim
    # themselves: anyone may link an anonymous or unassigned check they can
    # read, and moving it would take it from the session that made it (or
    # claim it without being an owner).
    if assessment.unassigned:
        action, needed, audited = Action.CLAIM, Action.CLAIM, AuditAction.ASSESSMENT_CLAIMED
        along = linked.filter(unassigned=True)
    else:
        action, needed, audited = Action.MOVE, Action.CREATE, AuditAction.ASSESSMENT_MOVED
        along = linked.filter(unassigned=False, anonymous_owner=assessment.anonymous_owner)
    access.require(request, action, assessment)
    workspace = Workspace.objects.filter(slug=request.POST.get("workspace", "")).first()
    if workspace is None:
        raise Http404("No such workspace.")
    access.require(request, needed, workspace)
    services.move_into(
        assessment,
        workspace,
        audited,
        request=request,
        along=along,
    )
    return redirect(assessment.get_absolute_url())


# HEAD too: link checkers and download managers ask before they fetch.
@report_cache.revalidate_always
@require_safe
async def assessment_report(request: HttpRequest, pk) -> HttpResponse:
    """The result as a PDF report, rendered off the event loop.

    A render takes a few hundred milliseconds of CPU: on the event loop it
    would stall every stream of the live demo. So the access check, the
    reads and the report's HTML take one hop to the request's thread
    (``_own_report``), and the PDF is made in a render worker process
    (render_pool), once: later downloads come from the cache.
    """
    paper = request.GET.get("paper", report.DEFAULT_PAPER)
    if paper not in report.PAPER_SIZES:
        return _bad_paper(paper)
    prepared = await sync_to_async(_own_report)(request, pk, paper)
    return await report_cache.pdf_response(request, prepared)


@report_cache.revalidate_always
@require_safe
async def shared_report(request: HttpRequest, secret: str) -> HttpResponse:
    """The PDF report for the holder of a share link."""
    paper = request.GET.get("paper", report.DEFAULT_PAPER)
    if paper not in report.PAPER_SIZES:
        return _bad_paper(paper)
    prepared = await sync_to_async(_shared_report)(request, secret, paper)
    return await report_cache.pdf_response(request, prepared)


def _own_report(request: HttpRequest, pk, paper: str) -> report_cache.Prepared:
    assessment = get_object_or_404(Assessment, pk=pk)
    access.require(request, Action.VIEW, assessment)
    return _report(request, assessment, paper)


def _shared_report(request: HttpRequest, secret: str, paper: str) -> report_cache.Prepared:
    link = ShareLink.find(secret)
    if link is None:
        raise Http404("This share link is unknown, revoked or expired.")
    return _report(request, link.assessment, paper, shared=True)


def _report(
    request: HttpRequest, assessment: Assessment, paper: str, *, shared: bool = False
) -> report_cache.Prepared:
    """Access checked: the report's data, its HTML and key, and what the cache holds of it."""
    # The evidence is loaded here too: the report renders from loaded data only.
    revisions = list(assessment.revisions.select_related("network_check"))
    revision = requested_revision_or_404(request, revisions)
    disposition = content_disposition_header(
        as_attachment=True, filename=report.report_filename(revision.title)
    )
    # The same reads as a report rendered when the assessment changed.
    context = prerender.report_context(assessment, revisions, revision, shared=shared)
    # Rendered once per HTML and then served from the cache (report_cache);
    # a HEAD gets GET's headers without the render that is all of its cost.
    address = f"{assessment.pk}:{revision.number}:{paper}:{'shared' if shared else 'own'}"
    prepared = report_cache.prepare(request, context, paper, disposition, address)
    # What follows may wait for a render: without holding a connection.
    give_back_connections()
    return prepared


def _bad_paper(paper: str) -> HttpResponse:
    accepted = " or ".join(f"paper={value}" for value in report.PAPER_SIZES)
    return HttpResponseBadRequest(
        f"Unknown paper size {paper!r}: use {accepted} (the default is "
        f"paper={report.DEFAULT_PAPER}).\n",
        content_type="text/plain; charset=utf-8",
    )


def requested_revision_or_404(request: HttpRequest, revisions: list[Revision]) -> Revision:
    """The revision ``?revision=N`` names, the latest without it; 404 if there is none."""
    requested = request.GET.get("revision")
    if requested is None:
        return revisions[-1]
    # Checked like every number in a request (advisor.http.whole_number); a
    # malformed or huge one names no revision, as the API says too.
    number = whole_number(requested)
    revision = next((r for r in revisions if r.number == number), None)
    if revision is None:
        raise Http404("No such revision of this assessment.")
    return revision


def _remember(request: HttpRequest, assessment: Assessment) -> None:
    """Keep the browser session's own assessments for "My recent assessments"."""
    key = str(assessment.pk)
    recent = [pk for pk in request.session.get(RECENT_SESSION_KEY, []) if pk != key]
    request.session[RECENT_SESSION_KEY] = [key, *recent][:RECENT_LIMIT]
