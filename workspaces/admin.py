"""The admin, through the access policy: superusers see everything, other staff their workspaces'.

Changes that the audit log must record go through ``services`` here too;
tokens are issued in the app or by the operators' command, never typed in,
and the audit log is read-only for everyone.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from . import access, audit, services
from .models import ApiToken, AuditAction, AuditEvent, Membership, Workspace

# The workspace filter offers only the workspaces of the rows shown: Django's
# plain related filter lists every workspace, which would name to a staff
# member the workspaces they are not in.
BY_WORKSPACE = ("workspace", admin.RelatedOnlyFieldListFilter)


def member_workspace_ids(request: HttpRequest):
    return access.memberships(access.principal_of(request)).values_list("workspace_id", flat=True)


class WorkspaceScoped(admin.ModelAdmin):
    """Rows of the workspaces the staff member belongs to; every row for a superuser."""

    workspace_field = "workspace"

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(**{f"{self.workspace_field}__in": member_workspace_ids(request)})

    # Only superusers change who belongs where: other staff read.
    def has_add_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser and super().has_add_permission(request)

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return request.user.is_superuser and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return request.user.is_superuser and super().has_delete_permission(request, obj)


class MembershipInline(admin.TabularInline):
    model = Membership
    fields = ["user", "role", "from_groups", "created_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(Workspace)
class WorkspaceAdmin(WorkspaceScoped):
    workspace_field = "pk"
    list_display = ["name", "slug", "created_at"]
    search_fields = ["name", "slug"]
    readonly_fields = ["created_at"]
    inlines = [MembershipInline]

    def save_model(self, request, obj, form, change) -> None:
        super().save_model(request, obj, form, change)
        if not change:
            audit.record(
                request,
                AuditAction.WORKSPACE_CREATED,
                workspace=obj,
                target=obj,
                detail={"slug": obj.slug, "name": obj.name},
            )


@admin.register(Membership)
class MembershipAdmin(WorkspaceScoped):
    list_display = ["user", "workspace", "role", "from_groups", "created_at"]
    list_filter = ["role", "from_groups", BY_WORKSPACE]
    search_fields = ["user__username", "workspace__slug", "workspace__name"]
    list_select_related = ["user", "workspace"]

    def get_readonly_fields(self, request: HttpRequest, obj=None) -> list[str]:
        # Who and where are fixed once made: a change is of the role.
        return ["workspace", "user", "created_at"] if obj else ["created_at"]

    def save_model(self, request, obj, form, change) -> None:
        # Through services, so that it is logged like a change on the members page.
        try:
            saved = services.set_member(
                obj.workspace, obj.user, obj.role, request=request, from_groups=obj.from_groups
            )
        except services.LastOwner as refusal:
            self.message_user(request, str(refusal), messages.ERROR)
            obj.refresh_from_db()
            return
        obj.pk = saved.pk

    def delete_model(self, request, obj) -> None:
        self.delete_queryset(request, Membership.objects.filter(pk=obj.pk))

    def delete_queryset(self, request, queryset) -> None:
        for membership in queryset.select_related("user", "workspace"):
            try:
                services.remove_member(membership, request=request)
            except services.LastOwner as refusal:
                self.message_user(request, str(refusal), messages.ERROR)


@admin.register(ApiToken)
class ApiTokenAdmin(WorkspaceScoped):
    # No token_hash: the admin has no use for it, and it should be seen nowhere.
    list_display = ["prefix", "name", "user", "workspace", "created_at", "expires_at", "status"]
    list_filter = [BY_WORKSPACE, "revoked_at", "expires_at"]
    search_fields = ["prefix", "name", "user__username"]
    list_select_related = ["user", "workspace"]
    fields = [
        "prefix",
        "name",
        "user",
        "workspace",
        "created_at",
        "expires_at",
        "revoked_at",
        "last_used_at",
    ]
    readonly_fields = fields
    actions = ["revoke"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Issued on the tokens page or by the operators' command, shown once there.
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        # Revoked, never deleted: the audit log names it.
        return False

    # Superusers only, as every change here: an action without permissions
    # is offered to whoever may view the list (staff with a view permission).
    @admin.action(description="Revoke the selected tokens", permissions=["change"])
    def revoke(self, request: HttpRequest, queryset: QuerySet) -> None:
        for token in queryset.select_related("user", "workspace"):
            services.revoke_token(token, request=request)


@admin.register(AuditEvent)
class AuditEventAdmin(WorkspaceScoped):
    list_display = ["at", "actor", "action", "workspace", "object_type", "object_id"]
    list_filter = ["action", BY_WORKSPACE, "at"]
    search_fields = ["actor", "object_id"]
    date_hierarchy = "at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False
