"""The one access policy: who may do what with an assessment, a network check or a workspace.

Every entry point asks here: pages, htmx partials, the edit form, the PDF,
every API endpoint, the streams and the admin. The rules, in short (the
permission matrix in tests/workspaces/test_permission_matrix.py spells them
out for every role and entry point, and docs/access.md explains them):

- A workspace's objects are for its members, with the member's role:
  viewers read; reviewers also review the decisions they are named on and
  comment; editors also revise, share and ask for review; owners also
  delete, claim and set the workspace's sign-off rules. A non-member gets
  404, never 403, so that existence does not leak; a member whose role
  does not allow the action gets 403.
- An API token acts as its user with that user's role in the token's one
  workspace, and sees nothing outside it (404).
- A share link shows one assessment, read-only.
- Anonymous objects (made without an account, ADVISOR_ANONYMOUS) are read
  by whoever has the link; only the browser session that made one may
  revise it or move it into a workspace.
- Unassigned objects (stored before workspaces) are read by their link as
  before; an owner claims one into a workspace, after which it is that
  workspace's.
- With anonymous mode off, nothing but signing in, the public live demo
  and static files answers anyone who is not signed in (middleware.py).
- Whatever the mode, /healthz and /readyz answer anyone (a load balancer),
  and /metrics answers by network address or its own token
  (ADVISOR_METRICS_ALLOW, ADVISOR_METRICS_TOKEN), never by a person or a
  workspace's token: operations/ serves them ahead of Django.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from enum import StrEnum

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, JsonResponse

from advisor.http import error_response, is_json_endpoint

from . import bearer
from .models import ApiToken, Membership, Owned, Role, Workspace

ANONYMOUS_KEY = "anonymous_key"
CURRENT_WORKSPACE_KEY = "workspace"


class Action(StrEnum):
    # On an assessment or a network check.
    VIEW = "view"  # result page, partials, PDF, API reads
    REVISE = "revise"  # the edit form, a new revision
    SHARE = "share"  # create, list and revoke share links
    DELETE = "delete"
    MOVE = "move"  # an anonymous object into a workspace, by the session that made it
    CLAIM = "claim"  # an unassigned object into a workspace, by an owner
    # On an assessment's decision (questionnaire.decisions).
    REQUEST_REVIEW = "request_review"  # name reviewers, supersede, adopt a newer catalogue
    REVIEW = "review"  # approve or request changes, if named as a reviewer
    COMMENT = "comment"
    # On a workspace.
    CREATE = "create"  # new assessments and network checks in it
    READ = "read"  # its list of assessments
    MANAGE_MEMBERS = "manage_members"
    MANAGE_TOKENS = "manage_tokens"  # other members' tokens; one's own need only membership
    READ_AUDIT = "read_audit"
    CONFIGURE = "configure"  # its sign-off rules


_DECIDE = {Action.REQUEST_REVIEW, Action.REVIEW, Action.COMMENT}
OBJECT_ACTIONS: dict[str, frozenset[Action]] = {
    Role.OWNER: frozenset({Action.VIEW, Action.REVISE, Action.SHARE, Action.DELETE, *_DECIDE}),
    Role.EDITOR: frozenset({Action.VIEW, Action.REVISE, Action.SHARE, *_DECIDE}),
    Role.REVIEWER: frozenset({Action.VIEW, Action.REVIEW, Action.COMMENT}),
    Role.VIEWER: frozenset({Action.VIEW}),
}
# The roles a decision's reviewers are chosen from.
REVIEWER_ROLES = frozenset({Role.OWNER, Role.EDITOR, Role.REVIEWER})
WORKSPACE_ACTIONS: dict[str, frozenset[Action]] = {
    Role.OWNER: frozenset(
        {
            Action.CREATE,
            Action.READ,
            Action.CLAIM,
            Action.MANAGE_MEMBERS,
            Action.MANAGE_TOKENS,
            Action.READ_AUDIT,
            Action.CONFIGURE,
        }
    ),
    Role.EDITOR: frozenset({Action.CREATE, Action.READ}),
    Role.REVIEWER: frozenset({Action.READ}),
    Role.VIEWER: frozenset({Action.READ}),
}


class Unauthenticated(Exception):
    """Nobody is signed in where someone must be: a sign-in page, or 401 from the API."""


# Statuses a refusal answers with.
ALLOWED, UNAUTHENTICATED, FORBIDDEN, NOT_FOUND = 0, 401, 403, 404


@dataclass
class Principal:
    """Who is asking: a signed-in user, a token, a share link, or an anonymous browser session."""

    user: object | None = None
    token: ApiToken | None = None
    # The hash of this browser session's anonymous key, "" without one.
    anonymous_key: str = ""
    share_link: object | None = None
    _roles: dict[int, str | None] = field(default_factory=dict, repr=False)
    # ``memberships`` as read once for this principal (``my_memberships``).
    _memberships: list[Membership] | None = field(default=None, repr=False)

    @property
    def label(self) -> str:
        """How the audit log names this principal."""
        if self.token is not None:
            return f"{self.user.get_username()} (token {self.token.prefix})"
        if self.user is not None:
            return self.user.get_username()
        if self.anonymous_key:
            return f"anonymous session {self.anonymous_key[:8]}"
        return "anonymous"

    @property
    def signed_in(self) -> bool:
        return self.user is not None

    def role_in(self, workspace_id: int | None) -> str | None:
        """This principal's role in the workspace, None for none."""
        if workspace_id is None or self.user is None:
            return None
        if self.token is not None and self.token.workspace_id != workspace_id:
            return None
        if workspace_id not in self._roles:
            # All of them at once: a page asks for the header's list of
            # workspaces (and the roles in it) after its access check anyway.
            mine = {m.workspace_id: m.role for m in my_memberships(self)}
            self._roles[workspace_id] = mine.get(workspace_id)
        return self._roles[workspace_id]

    def forget_roles(self) -> None:
        """Read roles and memberships afresh next time (a stream, at each wake-up)."""
        self._roles.clear()
        self._memberships = None


def anonymous_mode() -> bool:
    return settings.ADVISOR_ANONYMOUS


def principal_of(request: HttpRequest) -> Principal:
    """The request's principal: its token (set by the middleware), else its session."""
    principal = getattr(request, "_principal", None)
    if principal is None:
        user = getattr(request, "user", None)
        session = getattr(request, "session", None)
        key = session.get(ANONYMOUS_KEY, "") if session is not None else ""
        principal = Principal(
            user=user if user is not None and user.is_authenticated else None,
            anonymous_key=bearer.digest(key) if key else "",
        )
        request._principal = principal
    return principal


def token_principal(token: ApiToken) -> Principal:
    return Principal(user=token.user, token=token)


def share_link_principal(link) -> Principal:
    return Principal(share_link=link)


def anonymous_owner_key(request: HttpRequest) -> str:
    """The hash that marks an object as this browser session's own, made on first use.

    The key lives in the session's data, not in its id, so it survives the
    rotation at sign-in: a person who signs in can then move what they made.
    A request with no session (a program) owns nothing: "".
    """
    session = getattr(request, "session", None)
    principal = principal_of(request)
    if session is None or principal.token is not None or not _from_a_browser(request):
        return ""
    key = session.get(ANONYMOUS_KEY)
    if not key:
        key = secrets.token_urlsafe(32)
        session[ANONYMOUS_KEY] = key
    principal.anonymous_key = bearer.digest(key)
    return principal.anonymous_key


def _from_a_browser(request: HttpRequest) -> bool:
    """Whether a request may own what it makes: a page's form, or an API call with our cookies.

    A program calling the API without cookies would get a new session for
    every write, each owning one object that nobody could ever revise (nor
    move): its anonymous objects belong to no session, and make no session
    row. A browser that opened one of our pages has the CSRF cookie at least.
    """
    if not is_json_endpoint(request):
        return True
    cookies = request.COOKIES
    return settings.SESSION_COOKIE_NAME in cookies or settings.CSRF_COOKIE_NAME in cookies


def decide(principal: Principal, action: Action, obj: Owned) -> int:
    """ALLOWED, or the status that refuses ``action`` on ``obj`` (401, 403 or 404)."""
    if principal.share_link is not None:
        link = principal.share_link
        same = getattr(obj, "pk", None) == link.assessment_id and obj._meta.model_name == (
            "assessment"
        )
        return ALLOWED if same and action is Action.VIEW else NOT_FOUND
    if not principal.signed_in and not anonymous_mode():
        return UNAUTHENTICATED
    if obj.workspace_id is not None:
        role = principal.role_in(obj.workspace_id)
        if role is None:
            return NOT_FOUND
        return ALLOWED if action in OBJECT_ACTIONS[role] else FORBIDDEN
    if principal.token is not None:
        # A token sees its own workspace only.
        return NOT_FOUND
    if action is Action.VIEW:
        return ALLOWED
    if obj.unassigned:
        if action is Action.CLAIM and owned_workspaces(principal):
            return ALLOWED
        return FORBIDDEN
    # Anonymous: the session that made it revises it, and moves it once signed in.
    mine = bool(principal.anonymous_key) and principal.anonymous_key == obj.anonymous_owner
    if action is Action.REVISE and mine:
        return ALLOWED
    if action is Action.MOVE and mine and principal.signed_in:
        return ALLOWED
    return FORBIDDEN


def decide_workspace(principal: Principal, action: Action, workspace: Workspace) -> int:
    if principal.share_link is not None:
        return NOT_FOUND
    if not principal.signed_in:
        return UNAUTHENTICATED
    role = principal.role_in(workspace.pk)
    if role is None:
        return NOT_FOUND
    return ALLOWED if action in WORKSPACE_ACTIONS[role] else FORBIDDEN


def can(principal: Principal, action: Action, target: Owned | Workspace) -> bool:
    if isinstance(target, Workspace):
        return decide_workspace(principal, action, target) == ALLOWED
    return decide(principal, action, target) == ALLOWED


def require(request: HttpRequest, action: Action, target: Owned | Workspace) -> None:
    """Raise what a page answers a refusal with: 404, 403, or a sign-in (Unauthenticated)."""
    principal = principal_of(request)
    if isinstance(target, Workspace):
        status = decide_workspace(principal, action, target)
    else:
        status = decide(principal, action, target)
    raise_for(status)


def raise_for(status: int) -> None:
    if status == NOT_FOUND:
        raise Http404("Not found.")
    if status == FORBIDDEN:
        raise PermissionDenied("Your role does not allow this.")
    if status == UNAUTHENTICATED:
        raise Unauthenticated


SIGN_IN_MESSAGE = "Sign in, or send an API token: Authorization: Bearer <token>."


def api_refusal(
    status: int, message: str = "", *, not_found: dict[str, str] | None = None
) -> JsonResponse:
    """What the API answers a refusal with, in the site's error shape.

    401 and 403 are keyed "auth" (401 with a Bearer challenge); a 404 says
    ``not_found``, which the caller makes the very body an unknown id gets,
    so that another workspace's object cannot be told from none.
    """
    if status == UNAUTHENTICATED:
        return error_response(
            401, {"auth": message or SIGN_IN_MESSAGE}, WWW_Authenticate='Bearer realm="advisor"'
        )
    if status == FORBIDDEN:
        return error_response(403, {"auth": message or "your role does not allow this"})
    return error_response(404, not_found or {"id": "not found"})


def memberships(principal: Principal):
    """The principal's memberships, with their workspaces (a token: its one)."""
    if principal.user is None:
        return Membership.objects.none()
    found = Membership.objects.filter(user=principal.user).select_related("workspace")
    if principal.token is not None:
        found = found.filter(workspace_id=principal.token.workspace_id)
    return found.order_by("workspace__name", "workspace__slug")


def my_memberships(principal: Principal) -> list[Membership]:
    """``memberships``, read once per principal, which lives as long as its request.

    The access check, the header's workspace switcher and its count of
    decisions waiting for review all ask during one page: one query instead
    of one each. A stream's principal outlives requests: it forgets them at
    every wake-up (``Principal.forget_roles``).
    """
    if principal._memberships is None:
        principal._memberships = list(memberships(principal))
    return principal._memberships


def owned_workspaces(principal: Principal) -> list[Workspace]:
    return [m.workspace for m in my_memberships(principal) if m.role == Role.OWNER]


def current_workspace(request: HttpRequest) -> Workspace | None:
    """The workspace new work goes into: the token's, or the one picked in the header.

    A signed-in person's pick is kept in the session; without one (or when
    it names a workspace they left), their first workspace. None for no
    membership at all.
    """
    principal = principal_of(request)
    if principal.token is not None:
        return principal.token.workspace
    if principal.user is None:
        return None
    mine = my_memberships(principal)
    picked = request.session.get(CURRENT_WORKSPACE_KEY)
    for membership in mine:
        if membership.workspace.slug == picked:
            return membership.workspace
    return mine[0].workspace if mine else None


def placement(request: HttpRequest) -> tuple[dict, int, str]:
    """Where a new assessment or network check goes: (model fields, ALLOWED, "") or a refusal.

    Into the current workspace for an editor or owner there; anonymous, as
    this session's own, for someone with no workspace while anonymous mode
    is on. A reviewer or viewer of the current workspace is refused (403).
    """
    principal = principal_of(request)
    workspace = current_workspace(request)
    if workspace is not None:
        status = decide_workspace(principal, Action.CREATE, workspace)
        if status != ALLOWED:
            role = principal.role_in(workspace.pk)
            return {}, status, f"your role in {workspace.name} ({role}) cannot create"
        return {"workspace": workspace, "created_by": principal.user}, ALLOWED, ""
    if principal.token is None and anonymous_mode():
        return (
            {"created_by": principal.user, "anonymous_owner": anonymous_owner_key(request)},
            ALLOWED,
            "",
        )
    if not principal.signed_in:
        return {}, UNAUTHENTICATED, "sign in first"
    return {}, FORBIDDEN, "you are not a member of any workspace that can create"


def visible(principal: Principal, queryset):
    """The objects of ``queryset`` (assessments or network checks) the principal may list.

    A list shows workspace objects only (of the principal's workspaces):
    anonymous and unassigned ones are found by their link, never listed.
    """
    if principal.user is None:
        return queryset.none()
    workspaces = memberships(principal).values_list("workspace_id", flat=True)
    return queryset.filter(workspace_id__in=workspaces)
