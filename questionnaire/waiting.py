"""The list of decisions waiting for my review: where the header's count leads."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from workspaces import access
from workspaces.access import Unauthenticated

from . import decisions
from .models import Assessment


@never_cache
@require_safe
def waiting_page(request: HttpRequest) -> HttpResponse:
    """Decisions in review that name me as a reviewer and that I have not reviewed yet.

    Through the access policy: only assessments of my workspaces (a token's:
    its one), as any list.
    """
    principal = access.principal_of(request)
    if principal.user is None:
        raise Unauthenticated
    mine = Assessment.objects.filter(pk__in=decisions.waiting_for(principal))
    waiting = (
        access.visible(principal, mine)
        .select_related("workspace", "review_requested_by")
        .order_by("-status_changed_at", "title")
    )
    return render(request, "questionnaire/waiting.html", {"waiting": waiting})
