"""A workspace's pages: its assessments, members, personal access tokens and audit log.

Every page asks ``access`` first: a non-member gets 404 (existence does not
leak), a member whose role does not allow it 403. Every change goes through
``services``, which logs it. The forms are plain POST forms that work
without JavaScript.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST, require_safe
from django_htmx.middleware import HtmxDetails

from advisor.http import text_problem
from questionnaire.models import Assessment

from . import access, services
from .access import Action
from .models import NAME_MAX_LENGTH, ApiToken, AuditAction, AuditEvent, Membership, Role, Workspace

ASSESSMENTS_PER_PAGE = 25
AUDIT_PER_PAGE = 50
# A token's expiry, as the form offers it: days, or "never".
TOKEN_DAYS = ("30", "90", "365")
NEVER = "never"


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


def _workspace(request: HttpRequest, slug: str, action: Action) -> Workspace:
    """The workspace ``slug`` names, if the request may do ``action`` there.

    Else 404 (unknown, or not a member), 403 (the role does not allow it) or sign-in.
    """
    workspace = Workspace.objects.filter(slug=slug).first()
    if workspace is None:
        raise Http404("No such workspace.")
    access.require(request, action, workspace)
    return workspace


def _nav(request: HttpRequest, workspace: Workspace, current: str) -> dict:
    principal = access.principal_of(request)
    return {
        "workspace": workspace,
        "section": current,
        "role": principal.role_in(workspace.pk),
        "may_read_audit": access.can(principal, Action.READ_AUDIT, workspace),
        "may_configure": access.can(principal, Action.CONFIGURE, workspace),
    }


# --- The switcher --------------------------------------------------------------


@require_POST
def switch(request: HtmxHttpRequest) -> HttpResponse:
    """Make another of the person's workspaces the current one, then go back."""
    principal = access.principal_of(request)
    if not principal.signed_in:
        raise access.Unauthenticated
    slug = request.POST.get("workspace", "")
    if not access.memberships(principal).filter(workspace__slug=slug).exists():
        raise Http404("You are not a member of that workspace.")
    request.session[access.CURRENT_WORKSPACE_KEY] = slug
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = reverse("workspaces:detail", args=[slug])
    return redirect(target)


# --- Assessments ---------------------------------------------------------------


@require_safe
def detail(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    """The workspace's assessments, newest first, searchable by title."""
    workspace = _workspace(request, slug, Action.READ)
    query = request.GET.get("q", "").strip()[:200]
    assessments = (
        Assessment.objects.filter(workspace=workspace)
        .annotate(revision_total=Count("revisions"))
        .order_by("-updated_at", "-created_at")
    )
    if query:
        assessments = assessments.filter(title__icontains=query)
    page = Paginator(assessments, ASSESSMENTS_PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "workspaces/detail.html",
        {**_nav(request, workspace, "assessments"), "page": page, "query": query},
    )


# --- Members -------------------------------------------------------------------


@require_safe
def members(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    workspace = _workspace(request, slug, Action.READ)
    return _members_page(request, workspace)


def _members_page(
    request: HttpRequest, workspace: Workspace, *, errors: dict | None = None, status: int = 200
) -> HttpResponse:
    principal = access.principal_of(request)
    return render(
        request,
        "workspaces/members.html",
        {
            **_nav(request, workspace, "members"),
            "members": workspace.memberships.select_related("user").order_by("user__username"),
            "may_manage": access.can(principal, Action.MANAGE_MEMBERS, workspace),
            "roles": Role.choices,
            "errors": errors or {},
            "form": request.POST if request.method == "POST" else {},
        },
        status=status,
    )


@require_POST
def member_add(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    """An owner adds an existing user, by username, with a role."""
    workspace = _workspace(request, slug, Action.MANAGE_MEMBERS)
    username = request.POST.get("username", "").strip()
    role = request.POST.get("role", "")
    errors = {}
    user = None
    if role not in Role.values:
        errors["role"] = "Choose a role: owner, editor, reviewer or viewer."
    if not username:
        errors["username"] = "Enter the username of the person to add."
    else:
        User = get_user_model()
        user = User.objects.filter(**{User.USERNAME_FIELD: username}).first()
        if user is None:
            errors["username"] = "No user has that username: they must have signed in once."
        elif workspace.memberships.filter(user=user).exists():
            errors["username"] = "They are already a member: change their role below."
    if errors:
        return _members_page(request, workspace, errors=errors, status=400)
    services.set_member(workspace, user, role, request=request)
    return redirect("workspaces:members", slug=workspace.slug)


@require_POST
def member_role(request: HtmxHttpRequest, slug: str, member_id: int) -> HttpResponse:
    workspace = _workspace(request, slug, Action.MANAGE_MEMBERS)
    membership = get_object_or_404(Membership, pk=member_id, workspace=workspace)
    role = request.POST.get("role", "")
    error = ""
    if role not in Role.values:
        error = "Choose a role: owner, editor, reviewer or viewer."
    else:
        try:
            services.set_member(workspace, membership.user, role, request=request)
        except services.LastOwner:
            error = "The workspace's last owner cannot be demoted: make someone else owner first."
    if error:
        return _members_page(request, workspace, errors={membership.pk: error}, status=400)
    return redirect("workspaces:members", slug=workspace.slug)


@require_POST
def member_remove(request: HtmxHttpRequest, slug: str, member_id: int) -> HttpResponse:
    workspace = _workspace(request, slug, Action.MANAGE_MEMBERS)
    membership = get_object_or_404(
        Membership.objects.select_related("user", "workspace"), pk=member_id, workspace=workspace
    )
    try:
        services.remove_member(membership, request=request)
    except services.LastOwner:
        error = "The workspace's last owner cannot be removed: make someone else owner first."
        return _members_page(request, workspace, errors={membership.pk: error}, status=400)
    return redirect("workspaces:members", slug=workspace.slug)


# --- Personal access tokens ----------------------------------------------------


@require_safe
def tokens(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    workspace = _workspace(request, slug, Action.READ)
    return _tokens_page(request, workspace)


def _visible_tokens(request: HttpRequest, workspace: Workspace):
    """A member's own tokens; an owner's view adds every other member's."""
    principal = access.principal_of(request)
    found = ApiToken.objects.filter(workspace=workspace).select_related("user")
    if not access.can(principal, Action.MANAGE_TOKENS, workspace):
        found = found.filter(user=principal.user)
    return found


def _tokens_page(
    request: HttpRequest,
    workspace: Workspace,
    *,
    secret: str = "",
    errors: dict | None = None,
    status: int = 200,
) -> HttpResponse:
    principal = access.principal_of(request)
    listed = list(_visible_tokens(request, workspace))
    return render(
        request,
        "workspaces/tokens.html",
        {
            **_nav(request, workspace, "tokens"),
            "own_tokens": [token for token in listed if token.user_id == principal.user.pk],
            "other_tokens": [token for token in listed if token.user_id != principal.user.pk],
            "may_manage": access.can(principal, Action.MANAGE_TOKENS, workspace),
            "secret": secret,
            "errors": errors or {},
            "expiry_choices": TOKEN_DAYS,
            "form": request.POST if request.method == "POST" and errors else {},
        },
        status=status,
    )


@require_POST
def token_create(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    """A member's new token: shown on the page this answers with, once, and never again."""
    workspace = _workspace(request, slug, Action.READ)
    if access.principal_of(request).token is not None:
        # A token does not make tokens: only the person, signed in.
        raise Http404("Not found.")
    name = request.POST.get("name", "").strip()
    expiry = request.POST.get("expires", "")
    errors = {}
    if problem := text_problem(name, NAME_MAX_LENGTH):
        errors["name"] = f"The name {problem}."
    if expiry != NEVER and expiry not in TOKEN_DAYS:
        errors["expires"] = "Choose when the token expires: in 30, 90 or 365 days, or never."
    if errors:
        return _tokens_page(request, workspace, errors=errors, status=400)
    _, secret = services.issue_token(
        request.user,
        workspace,
        name=name,
        expires_days=None if expiry == NEVER else int(expiry),
        request=request,
    )
    # Rendered, not redirected: the secret is in this response only.
    return _tokens_page(request, workspace, secret=secret)


@require_POST
def token_revoke(request: HtmxHttpRequest, slug: str, token_id: int) -> HttpResponse:
    """Revoke one's own token; an owner, any member's. Another's is 404 to a non-owner."""
    workspace = _workspace(request, slug, Action.READ)
    token = get_object_or_404(
        _visible_tokens(request, workspace).select_related("workspace"), pk=token_id
    )
    services.revoke_token(token, request=request)
    return redirect("workspaces:tokens", slug=workspace.slug)


# --- Audit log -----------------------------------------------------------------


# Actions no workspace's log ever holds: signing in and out belong to no
# workspace (the admin's log has them), and nothing deletes an assessment.
# The filter does not offer them, as they could only ever show nothing.
NOT_IN_A_WORKSPACE = {
    AuditAction.SIGN_IN,
    AuditAction.SIGN_IN_FAILED,
    AuditAction.SIGN_OUT,
    AuditAction.ASSESSMENT_DELETED,
}


@require_safe
def audit(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    """The workspace's audit log, newest first, for its owners."""
    workspace = _workspace(request, slug, Action.READ_AUDIT)
    events = AuditEvent.objects.filter(workspace=workspace).order_by("-at", "-id")
    action = request.GET.get("action", "")
    if action in AuditAction.values:
        events = events.filter(action=action)
    else:
        action = ""
    page = Paginator(events, AUDIT_PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "workspaces/audit.html",
        {
            **_nav(request, workspace, "audit"),
            "page": page,
            "action": action,
            "actions": [c for c in AuditAction.choices if c[0] not in NOT_IN_A_WORKSPACE],
        },
    )
