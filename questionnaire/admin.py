from __future__ import annotations

from django.contrib import admin
from django.db.models import Count, QuerySet
from django.http import HttpRequest

from .models import Assessment, Revision


class RevisionInline(admin.TabularInline):
    model = Revision
    fields = ["number", "title", "catalogue_version", "created_at", "answers", "network_check"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Assessment | None = None) -> bool:
        return False


@admin.register(Assessment)
class AssessmentAdmin(admin.ModelAdmin):
    list_display = [
        "__str__",
        "recommendation",
        "confidence",
        "revision_count",
        "created_at",
        "updated_at",
    ]
    list_filter = ["recommendation", "confidence", "created_at"]
    search_fields = ["title", "id"]
    # The title is the latest revision's, copied like the verdict: changed
    # here it would belong to no revision, and the next edit would undo it.
    readonly_fields = ["id", "title", "recommendation", "confidence", "created_at", "updated_at"]
    inlines = [RevisionInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        # An assessment exists only with a scored revision: they are made by
        # the questionnaire and the API, never by hand.
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Assessment]:
        return super().get_queryset(request).annotate(revision_total=Count("revisions"))

    @admin.display(description="revisions", ordering="revision_total")
    def revision_count(self, obj: Assessment) -> int:
        return obj.revision_total
