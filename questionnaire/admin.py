from __future__ import annotations

from django.contrib import admin
from django.db import transaction
from django.db.models import Count, QuerySet
from django.http import HttpRequest

from workspaces import access, audit
from workspaces.admin import BY_WORKSPACE
from workspaces.models import AuditAction

from .models import Assessment, Comment, Review, Revision


class RevisionInline(admin.TabularInline):
    model = Revision
    fields = ["number", "title", "catalogue_version", "created_at", "answers", "network_check"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Assessment | None = None) -> bool:
        return False


class ReadOnlyInline(admin.TabularInline):
    """The decision's record, as the result page shows it: written there, never here."""

    extra = 0
    can_delete = False

    def get_readonly_fields(self, request: HttpRequest, obj=None) -> list[str]:
        return list(self.fields)

    def has_add_permission(self, request: HttpRequest, obj: Assessment | None = None) -> bool:
        return False


class ReviewInline(ReadOnlyInline):
    model = Review
    fields = ["reviewer_name", "revision", "verdict", "comment", "created_at"]


class CommentInline(ReadOnlyInline):
    model = Comment
    fields = ["author_name", "revision_number", "body", "created_at"]


@admin.register(Assessment)
class AssessmentAdmin(admin.ModelAdmin):
    list_display = [
        "__str__",
        "recommendation",
        "confidence",
        "status",
        "revision_count",
        "created_at",
        "updated_at",
    ]
    list_filter = [
        "recommendation",
        "confidence",
        "status",
        BY_WORKSPACE,
        "unassigned",
        "created_at",
    ]
    search_fields = ["title", "id"]
    # The title is the latest revision's, copied like the verdict: changed
    # here it would belong to no revision, and the next edit would undo it.
    readonly_fields = [
        "id",
        "title",
        "recommendation",
        "confidence",
        "status",
        "superseded_by",
        "created_at",
        "updated_at",
    ]
    inlines = [RevisionInline, ReviewInline, CommentInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        # An assessment exists only with a scored revision: they are made by
        # the questionnaire and the API, never by hand.
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Assessment]:
        queryset = super().get_queryset(request).annotate(revision_total=Count("revisions"))
        if request.user.is_superuser:
            return queryset
        # Other staff: their workspaces' assessments only, as the pages list them.
        return access.visible(access.principal_of(request), queryset)

    def has_change_permission(self, request: HttpRequest, obj: Assessment | None = None) -> bool:
        # Revisions are immutable, and a move or claim is the result page's
        # (logged there): nobody changes an assessment here.
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Assessment | None = None) -> bool:
        return request.user.is_superuser and super().has_delete_permission(request, obj)

    # A deletion (a superuser's) is in the audit log like every other change.
    def delete_model(self, request: HttpRequest, obj: Assessment) -> None:
        with transaction.atomic():
            audit.record(
                request,
                AuditAction.ASSESSMENT_DELETED,
                workspace=obj.workspace,
                target=obj,
                detail={"title": obj.title},
            )
            super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Assessment]) -> None:
        for assessment in queryset.select_related("workspace"):
            self.delete_model(request, assessment)

    @admin.display(description="revisions", ordering="revision_total")
    def revision_count(self, obj: Assessment) -> int:
        return obj.revision_total
