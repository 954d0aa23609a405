"""Workspaces, their members and roles, API tokens, and the append-only audit log.

Who may do what with these is decided in one place, ``workspaces.access``.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.utils import timezone

from . import bearer

SLUG_PATTERN = r"^[a-z0-9](?:[a-z0-9-]{0,48}[a-z0-9])?$"
NAME_MAX_LENGTH = 100
MAX_REQUIRED_APPROVALS = 10


class Role(models.TextChoices):
    # Highest first: a person mapped to two roles by their groups gets the higher.
    OWNER = "owner", "Owner"
    EDITOR = "editor", "Editor"
    REVIEWER = "reviewer", "Reviewer"
    VIEWER = "viewer", "Viewer"

    @classmethod
    def rank(cls, role: str) -> int:
        """0 for owner, 3 for viewer: lower is more."""
        return list(cls.values).index(role)


class Workspace(models.Model):
    """A team's space: its assessments, network checks, members and tokens."""

    slug = models.SlugField(
        max_length=50,
        unique=True,
        validators=[
            RegexValidator(
                SLUG_PATTERN,
                "Lower-case letters, digits and inner hyphens, 1 to 50.",
            )
        ],
    )
    name = models.CharField(max_length=NAME_MAX_LENGTH)
    created_at = models.DateTimeField(auto_now_add=True)
    # How a decision is signed off here (questionnaire.decisions): the
    # approvals of the current revision that accept it, and whether the
    # person who asked for review may be one of them.
    required_approvals = models.PositiveSmallIntegerField(
        default=1,
        validators=[MinValueValidator(1), MaxValueValidator(MAX_REQUIRED_APPROVALS)],
    )
    allow_self_approval = models.BooleanField(default=False)

    class Meta:
        ordering = ["name", "slug"]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=16, choices=Role.choices)
    # Given by the identity provider's groups at sign-in (OIDC_GROUP_ROLES):
    # such a membership follows the groups, and goes when they no longer map
    # to it. One an owner or an operator gave by hand is left alone.
    from_groups = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["workspace__name", "user__username"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "user"], name="one_role_per_workspace")
        ]

    def __str__(self) -> str:
        return f"{self.user} is {self.role} of {self.workspace}"


class RevocableQuerySet(models.QuerySet):
    def live(self) -> RevocableQuerySet:
        """The ones that still open something: not revoked, not expired."""
        return self.filter(revoked_at__isnull=True).filter(
            models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=timezone.now())
        )


class Revocable(models.Model):
    """A bearer secret's row (an API token, a share link): it may expire, and be revoked once."""

    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = RevocableQuerySet.as_manager()

    class Meta:
        abstract = True

    @property
    def status(self) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= timezone.now():
            return "expired"
        return "active"

    def revoke(self) -> bool:
        """Revoke it now; False if it already was (a second revoke changes nothing)."""
        changed = (
            type(self)
            .objects.filter(pk=self.pk, revoked_at__isnull=True)
            .update(revoked_at=timezone.now())
        )
        self.refresh_from_db(fields=["revoked_at"])
        return bool(changed)


class ApiToken(Revocable):
    """A personal access token: one user, one workspace, that user's role there.

    Only a hash of the token is stored; the token itself is shown once.
    """

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="tokens")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=NAME_MAX_LENGTH, blank=True)
    prefix = models.CharField(max_length=bearer.PREFIX_LENGTH, db_index=True)
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta(Revocable.Meta):
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.name or 'unnamed'})"

    @classmethod
    def issue(
        cls, user, workspace: Workspace, *, name: str = "", expires_at=None
    ) -> tuple[ApiToken, str]:
        """A new token row and the token itself, which is never stored."""
        secret = bearer.new_secret("adv")
        token = cls.objects.create(
            user=user,
            workspace=workspace,
            name=name,
            prefix=secret[: bearer.PREFIX_LENGTH],
            token_hash=bearer.digest(secret),
            expires_at=expires_at,
        )
        return token, secret

    @classmethod
    def authenticate(cls, secret: str) -> ApiToken | None:
        """The live token ``secret`` is, or None (unknown, revoked or expired)."""
        if not secret.startswith("adv_") or len(secret) > 200:
            return None
        return (
            cls.objects.live()
            .select_related("user", "workspace")
            .filter(token_hash=bearer.digest(secret), user__is_active=True)
            .first()
        )


class AuditAction(models.TextChoices):
    SIGN_IN = "sign_in", "Signed in"
    SIGN_IN_FAILED = "sign_in_failed", "Failed sign-in"
    SIGN_OUT = "sign_out", "Signed out"
    ASSESSMENT_CREATED = "assessment_created", "Assessment created"
    ASSESSMENT_REVISED = "assessment_revised", "Assessment revised"
    ASSESSMENT_MOVED = "assessment_moved", "Assessment moved into the workspace"
    ASSESSMENT_CLAIMED = "assessment_claimed", "Unassigned assessment claimed"
    ASSESSMENT_DELETED = "assessment_deleted", "Assessment deleted"
    NETWORK_CHECK_CREATED = "network_check_created", "Network check stored"
    NETWORK_CHECK_MOVED = "network_check_moved", "Network check moved into the workspace"
    WORKLOAD_RUN_STORED = "workload_run_stored", "Workload run stored as evidence"
    SHARE_LINK_CREATED = "share_link_created", "Share link created"
    SHARE_LINK_REVOKED = "share_link_revoked", "Share link revoked"
    TOKEN_CREATED = "token_created", "API token created"
    TOKEN_REVOKED = "token_revoked", "API token revoked"
    WORKSPACE_CREATED = "workspace_created", "Workspace created"
    MEMBER_ADDED = "member_added", "Member added"
    MEMBER_REMOVED = "member_removed", "Member removed"
    MEMBER_ROLE_CHANGED = "member_role_changed", "Member's role changed"
    WORKSPACE_SETTINGS_CHANGED = "workspace_settings_changed", "Sign-off rules changed"
    # A decision's lifecycle (questionnaire.decisions).
    REVIEW_REQUESTED = "review_requested", "Review requested"
    REVIEW_APPROVED = "review_approved", "Decision approved"
    REVIEW_CHANGES_REQUESTED = "review_changes_requested", "Changes requested"
    DECISION_COMMENTED = "decision_commented", "Comment on a decision"
    DECISION_STATUS_CHANGED = "decision_status_changed", "Decision's status changed"
    DECISION_SUPERSEDED = "decision_superseded", "Decision superseded"


class AppendOnly(Exception):
    """Raised on any attempt to change or delete an audit event."""


class AuditEventQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AppendOnly("the audit log is append-only")

    def delete(self):
        raise AppendOnly("the audit log is append-only")


class AuditEvent(models.Model):
    """One thing that happened: who, what, to which object, when, from where.

    Append-only: saving an existing event, updating or deleting raises, and
    the admin shows the log read-only. Who did it is kept as text as well,
    so the entry still says who after a user or token is gone.
    """

    at = models.DateTimeField(default=timezone.now, db_index=True)
    action = models.CharField(max_length=32, choices=AuditAction.choices)
    # No database constraint and nothing done on delete: an entry keeps the
    # ids it was written with, even once the workspace, user or token is gone.
    workspace = models.ForeignKey(
        Workspace,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        blank=True,
        related_name="audit_events",
    )
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        blank=True,
        related_name="+",
    )
    actor_token = models.ForeignKey(
        ApiToken,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        blank=True,
        related_name="+",
    )
    # "alice", "alice (token adv_Abc12345)", "anonymous session 1a2b3c4d", "operator".
    actor = models.CharField(max_length=200)
    object_type = models.CharField(max_length=40, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    # What else the entry needs to be read alone: a title, a role, a username.
    detail = models.JSONField(default=dict, blank=True)
    client_address = models.CharField(max_length=64, blank=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.actor} {self.get_action_display()}"

    def save(self, *args, **kwargs) -> None:
        if not self._state.adding:
            raise AppendOnly("the audit log is append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnly("the audit log is append-only")


class Owned(models.Model):
    """Where an assessment or a stored network check belongs, for ``workspaces.access``.

    In a workspace; or anonymous (made without an account, revisable only
    by the browser session that made it, whose key's hash is kept); or
    unassigned (stored before workspaces existed: readable by its link as
    before, claimable into a workspace by an owner).
    """

    workspace = models.ForeignKey(
        Workspace, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    # The hash of the anonymous key of the browser session that made it
    # (workspaces.access.anonymous_key); empty when made by a program.
    anonymous_owner = models.CharField(max_length=64, blank=True, db_index=True)
    unassigned = models.BooleanField(default=False)

    class Meta:
        abstract = True

    @property
    def scope(self) -> str:
        if self.workspace_id is not None:
            return "workspace"
        return "unassigned" if self.unassigned else "anonymous"
