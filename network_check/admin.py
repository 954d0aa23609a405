from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from workspaces import access

from .models import NetworkCheck


@admin.register(NetworkCheck)
class NetworkCheckAdmin(admin.ModelAdmin):
    list_display = ["__str__", "created_at", "user_agent"]
    list_filter = ["created_at"]
    search_fields = ["id", "user_agent"]
    fields = ["id", "created_at", "user_agent", "measurement"]
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[NetworkCheck]:
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return access.visible(access.principal_of(request), queryset)

    def has_delete_permission(self, request: HttpRequest, obj: NetworkCheck | None = None) -> bool:
        return request.user.is_superuser and super().has_delete_permission(request, obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        # A check is a measurement a browser made: never typed in by hand.
        return False

    def has_change_permission(self, request: HttpRequest, obj: NetworkCheck | None = None) -> bool:
        return False
