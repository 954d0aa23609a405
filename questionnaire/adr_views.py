"""The decision record (``adr.py``) as a download: from the page, a share link and the API.

Each asks the access policy for VIEW, as the result page and the PDF do;
``?revision=N`` names the revision, the latest without it. The record links
back to the assessment's own page, never to a share link: a share link's
secret must not end up committed to a repository. A share link's record
names no other assessment of the workspace, and its file name has no number
(``adr.adr_filename``): its holder may read this decision, not learn the rest.
"""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.utils.http import content_disposition_header
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from workspaces import access
from workspaces.access import Action, share_link_principal
from workspaces.endpoints import api_methods

from . import adr, decisions
from .api import _find, requested_revision
from .models import Assessment, Revision, ShareLink
from .views import requested_revision_or_404


# Never cached, as the PDF: a revoked share link must not keep opening it.
@never_cache
@require_safe
def assessment_adr(request: HttpRequest, pk) -> HttpResponse:
    assessment = get_object_or_404(Assessment, pk=pk)
    access.require(request, Action.VIEW, assessment)
    revisions = list(assessment.revisions.all())
    return _download(request, assessment, revisions, requested_revision_or_404(request, revisions))


@never_cache
@require_safe
def shared_adr(request: HttpRequest, secret: str) -> HttpResponse:
    """The record for the holder of a share link; 404 once it is revoked or expired."""
    link = ShareLink.find(secret)
    if link is None:
        raise Http404("This share link is unknown, revoked or expired.")
    request._principal = share_link_principal(link)
    access.require(request, Action.VIEW, link.assessment)
    revisions = list(link.assessment.revisions.all())
    revision = requested_revision_or_404(request, revisions)
    return _download(request, link.assessment, revisions, revision, shared=True)


@never_cache
@api_methods("GET")
def api_adr(request: HttpRequest, pk) -> HttpResponse:
    """The record as ``text/markdown``; refusals and a bad ``?revision=`` as the API's JSON."""
    assessment, refusal = _find(request, pk, Action.VIEW)
    if refusal is not None:
        return refusal
    revisions = list(assessment.revisions.all())
    revision, refusal = requested_revision(request, revisions)
    if refusal is not None:
        return refusal
    return _download(request, assessment, revisions, revision)


def _download(
    request: HttpRequest,
    assessment: Assessment,
    revisions: list[Revision],
    revision: Revision,
    *,
    shared: bool = False,
) -> HttpResponse:
    decision = decisions.panel_context(assessment)["decision"]
    links = _links(request, assessment, decision, shared)
    markdown = adr.render_adr(revisions, revision, decision, links)
    response = HttpResponse(markdown, content_type=adr.CONTENT_TYPE)
    response["Content-Disposition"] = content_disposition_header(
        as_attachment=True, filename=adr.adr_filename(assessment, revision.title, shared=shared)
    )
    return response


def _links(request: HttpRequest, assessment: Assessment, decision, shared: bool) -> adr.Links:
    def named(other: Assessment) -> tuple[str, str]:
        url = request.build_absolute_uri(other.get_absolute_url())
        return adr.adr_filename(other, other.title), url

    if decision is None or shared:
        return adr.Links(request.build_absolute_uri(assessment.get_absolute_url()), shared=shared)
    return adr.Links(
        assessment=request.build_absolute_uri(assessment.get_absolute_url()),
        superseded_by=named(decision["superseded_by"]) if decision["superseded_by"] else None,
        supersedes=tuple(named(older) for older in decision["supersedes"]),
    )
