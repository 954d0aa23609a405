from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import timedelta

from django.conf import settings
from django.db import models, transaction
from django.urls import reverse
from django.utils import timezone

from advisor.http import text_problem
from network_check.models import NetworkCheck
from workspaces import bearer
from workspaces.models import Owned, Revocable

from .capacity import plan_document as capacity_plan
from .capacity import reference_costs, traffic_of
from .catalogue import Catalogue, CatalogueError, get_catalogue
from .scoring import evaluate

TITLE_MAX_LENGTH = 200


def title_problem(title: str) -> str | None:
    """Why ``title`` cannot be stored, or None; shared by the forms and the API."""
    return text_problem(title, TITLE_MAX_LENGTH)


class Recommendation(models.TextChoices):
    WEBSOCKET = "websocket", "WebSocket"
    SSE = "sse", "Server-Sent Events"


class Confidence(models.TextChoices):
    STRONG = "strong", "Strong"
    MODERATE = "moderate", "Moderate"
    SLIGHT = "slight", "Slight"


class DecisionStatus(models.TextChoices):
    """Where a workspace assessment's decision stands (questionnaire.decisions)."""

    DRAFT = "draft", "Draft"
    IN_REVIEW = "in_review", "In review"
    ACCEPTED = "accepted", "Accepted"
    REJECTED = "rejected", "Rejected"
    SUPERSEDED = "superseded", "Superseded"


class ReviewVerdict(models.TextChoices):
    APPROVE = "approve", "Approved"
    REQUEST_CHANGES = "request_changes", "Changes requested"


COMMENT_MAX_LENGTH = 4000


class Assessment(Owned):
    """One application's assessment; its answers live in immutable revisions.

    It belongs to a workspace, or is anonymous or unassigned (``Owned``);
    who may read it and add a revision is ``workspaces.access``'s to say. No
    revision is ever changed or lost.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # Copied from the latest revision, like the verdict below, so that lists
    # need no join. A page of one revision reads that revision's own title.
    title = models.CharField(max_length=TITLE_MAX_LENGTH, blank=True)
    recommendation = models.CharField(max_length=16, choices=Recommendation.choices)
    confidence = models.CharField(max_length=16, choices=Confidence.choices)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # The decision (questionnaire.decisions changes these, under a lock on
    # this row, and logs each change).
    status = models.CharField(
        max_length=16, choices=DecisionStatus.choices, default=DecisionStatus.DRAFT
    )
    status_changed_at = models.DateTimeField(null=True, blank=True)
    # Who asked for the current review: they may not approve it unless the
    # workspace allows self-approval.
    review_requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    # The workspace's rule when the decision was accepted or rejected: a later
    # change of the rule does not rewrite what the decision was taken under.
    required_at_decision = models.PositiveSmallIntegerField(null=True, blank=True)
    # The accepted decision that replaced this one; its ``supersedes`` is this.
    superseded_by = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="supersedes",
    )

    class Meta(Owned.Meta):
        ordering = ["-updated_at"]

    def __str__(self) -> str:
        return self.title or f"Assessment {str(self.id)[:8]}"

    def get_absolute_url(self) -> str:
        return reverse("questionnaire:assessment", args=[self.id])

    @property
    def display_title(self) -> str:
        return self.title or "Untitled assessment"

    @classmethod
    def create_scored(
        cls,
        title: str,
        answers: Mapping[str, str],
        catalogue: Catalogue | None = None,
        *,
        network_check: NetworkCheck | None = None,
        traffic: Mapping | None = None,
        **placement,
    ) -> tuple[Assessment, Revision]:
        """Score complete, validated ``answers`` and save them as revision 1.

        ``placement`` says where it belongs (``workspaces.access.placement``).
        Returns the new assessment and its revision, so that a caller that
        shows the revision (the API) need not read it back.
        """
        assessment = cls(**placement)
        catalogue = catalogue or get_catalogue()
        # Scored before the transaction: the flip search is most of the work,
        # and inside it would hold the database's write lock all along.
        revision = assessment._scored_revision(title, answers, catalogue, network_check, traffic)
        with transaction.atomic():
            assessment.save()
            revision.save()
        return assessment, revision

    def revise(
        self,
        title: str,
        answers: Mapping[str, str],
        catalogue: Catalogue | None = None,
        *,
        network_check: NetworkCheck | None = None,
        traffic: Mapping | None = None,
    ) -> Revision:
        """Save an edited title and answers as a new revision; earlier ones stay as they were."""
        with transaction.atomic():
            # Lock the row so that two simultaneous edits get distinct numbers.
            locked = Assessment.objects.select_for_update().get(pk=self.pk)
            revision = locked._add_revision(
                title, answers, catalogue or get_catalogue(), network_check, traffic
            )
        self.refresh_from_db()
        return revision

    def _add_revision(
        self,
        title: str,
        answers: Mapping[str, str],
        catalogue: Catalogue,
        network_check: NetworkCheck | None = None,
        traffic: Mapping | None = None,
    ) -> Revision:
        revision = self._scored_revision(title, answers, catalogue, network_check, traffic)
        self.save()
        last = self.revisions.order_by("-number").values_list("number", flat=True).first()
        revision.number = (last or 0) + 1
        revision.save()
        return revision

    def _scored_revision(
        self,
        title: str,
        answers: Mapping[str, str],
        catalogue: Catalogue,
        network_check: NetworkCheck | None,
        traffic: Mapping | None = None,
    ) -> Revision:
        """Revision 1 of ``answers`` scored and titled ``title``, unsaved.

        Its title and verdict are copied to this assessment, for lists.
        ``traffic`` (validated, ``capacity.read_traffic``) adds a capacity
        plan to the stored result, worked out with the costs of the day: like
        the verdict, it reads the same after the cost data changes.
        """
        # Stored answers are complete: a left-out optional question is saved
        # as the default it was scored with.
        answers = catalogue.with_defaults(answers)
        result = evaluate(catalogue, answers)
        self.title = title
        self.recommendation = result.recommendation
        self.confidence = result.confidence
        return Revision(
            assessment=self,
            number=1,
            title=title,
            catalogue_version=catalogue.version,
            answers=dict(answers),
            result=result.to_dict()
            | (
                {"capacity": capacity_plan(traffic_of(traffic), reference_costs())}
                if traffic
                else {}
            ),
            network_check=network_check,
            traffic=dict(traffic) if traffic else None,
        )

    @property
    def latest(self) -> Revision:
        return self.revisions.order_by("-number").first()


class Revision(models.Model):
    """An immutable snapshot: the answers, and the result exactly as scored.

    Pages, the API and reports render the stored result, so an assessment
    reads the same after the catalogue or the weights change.
    """

    assessment = models.ForeignKey(Assessment, on_delete=models.CASCADE, related_name="revisions")
    number = models.PositiveIntegerField()
    # The title as it was when these answers were saved: renaming the
    # assessment in a later revision leaves this one's page and report as they were.
    title = models.CharField(max_length=TITLE_MAX_LENGTH, blank=True)
    catalogue_version = models.CharField(max_length=20)
    answers = models.JSONField()
    result = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)
    # The application's peak traffic (``capacity.read_traffic``), optional:
    # with it the result holds a capacity plan.
    traffic = models.JSONField(null=True, blank=True)
    # The evidence the answers were given with; losing it never loses the revision.
    network_check = models.ForeignKey(
        NetworkCheck,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="revisions",
    )

    class Meta:
        ordering = ["number"]
        constraints = [
            models.UniqueConstraint(fields=["assessment", "number"], name="unique_revision_number")
        ]

    def __str__(self) -> str:
        return f"{self.assessment} r{self.number}"

    @property
    def display_title(self) -> str:
        return self.title or "Untitled assessment"

    @property
    def catalogue(self) -> Catalogue:
        """The catalogue this revision was scored with, for its wording."""
        try:
            return get_catalogue(self.catalogue_version)
        except CatalogueError:
            # A withdrawn catalogue file: fall back to the current wording.
            return get_catalogue()


SHARE_LINK_DAYS = (7, 30, 90)


class ShareLink(Revocable):
    """A read-only link to one assessment, for people outside its workspace.

    The link carries a 256-bit secret; only its hash is stored, so the
    database cannot give a link away. Revoked or expired, it opens nothing.
    """

    assessment = models.ForeignKey(
        Assessment, on_delete=models.CASCADE, related_name="share_links"
    )
    token_hash = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(Revocable.Meta):
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Share link {self.pk} to {self.assessment}"

    @classmethod
    def issue(
        cls, assessment: Assessment, *, created_by=None, expires_in_days: int | None = None
    ) -> tuple[ShareLink, str]:
        """A new link and its secret, which is never stored."""
        secret = bearer.new_secret("shr")
        expires_at = (
            timezone.now() + timedelta(days=expires_in_days)
            if expires_in_days is not None
            else None
        )
        link = cls.objects.create(
            assessment=assessment,
            token_hash=bearer.digest(secret),
            created_by=created_by,
            expires_at=expires_at,
        )
        return link, secret

    @classmethod
    def find(cls, secret: str) -> ShareLink | None:
        """The live link ``secret`` opens, None for an unknown, revoked or expired one."""
        if not secret.startswith("shr_") or len(secret) > 200:
            return None
        return (
            cls.objects.live()
            .select_related("assessment")
            .filter(token_hash=bearer.digest(secret))
            .first()
        )


class Reviewer(models.Model):
    """A member asked to review a decision; named by whoever requested review."""

    assessment = models.ForeignKey(Assessment, on_delete=models.CASCADE, related_name="reviewers")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    requested_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["user__username"]
        constraints = [
            models.UniqueConstraint(fields=["assessment", "user"], name="one_reviewer_row")
        ]

    def __str__(self) -> str:
        return f"{self.user} reviews {self.assessment}"


class Review(models.Model):
    """A reviewer's verdict on one revision: it counts only while that revision is the latest."""

    assessment = models.ForeignKey(Assessment, on_delete=models.CASCADE, related_name="reviews")
    revision = models.ForeignKey(Revision, on_delete=models.CASCADE, related_name="reviews")
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    # Kept as text too, so the record still names them once the user is gone.
    reviewer_name = models.CharField(max_length=150)
    verdict = models.CharField(max_length=16, choices=ReviewVerdict.choices)
    comment = models.TextField(max_length=COMMENT_MAX_LENGTH, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Set on the approvals that accepted the decision: what the record shows
    # once it is taken, whatever happens to the reviewers' membership later.
    counted_in_decision = models.BooleanField(default=False)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.reviewer_name} {self.verdict} r{self.revision.number}"


class Comment(models.Model):
    """A plain-text comment on a decision, shown in order (never as HTML)."""

    assessment = models.ForeignKey(Assessment, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    author_name = models.CharField(max_length=150)
    body = models.TextField(max_length=COMMENT_MAX_LENGTH)
    # The revision that was the latest when it was written.
    revision_number = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.author_name} on {self.assessment}"
