"""A workspace's sign-off rules page, for its owners: how a decision is accepted there.

The rules apply to the reviews given from then on: a decision already
accepted or rejected stays so, and one in review is accepted by the next
approval that meets the new count (``questionnaire.decisions``).
"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from advisor.http import whole_number
from questionnaire import decisions

from .access import Action
from .models import MAX_REQUIRED_APPROVALS, Workspace
from .views import _nav, _workspace

APPROVALS_ERROR = f"Enter a whole number of approvals from 1 to {MAX_REQUIRED_APPROVALS}."


@require_http_methods(["GET", "HEAD", "POST"])
def rules(request: HttpRequest, slug: str) -> HttpResponse:
    workspace = _workspace(request, slug, Action.CONFIGURE)
    if request.method != "POST":
        return _page(request, workspace)
    typed = request.POST.get("required_approvals", "").strip()
    allow = request.POST.get("allow_self_approval") == "on"
    required = whole_number(typed, max_digits=2)
    if required is None or not 1 <= required <= MAX_REQUIRED_APPROVALS:
        form = {"required_approvals": typed, "allow_self_approval": allow}
        return _page(request, workspace, form=form, error=APPROVALS_ERROR, status=400)
    if decisions.set_rules(request, workspace, required, allow):
        messages.success(request, "Sign-off rules saved.")
    return redirect("workspaces:settings", slug=workspace.slug)


def _page(
    request: HttpRequest,
    workspace: Workspace,
    *,
    form: dict | None = None,
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    form = form or {
        "required_approvals": workspace.required_approvals,
        "allow_self_approval": workspace.allow_self_approval,
    }
    return render(
        request,
        "workspaces/settings.html",
        {
            **_nav(request, workspace, "settings"),
            "form": form,
            "error": error,
            "max_required": MAX_REQUIRED_APPROVALS,
        },
        status=status,
    )
