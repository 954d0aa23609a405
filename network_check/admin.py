from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from .models import NetworkCheck


@admin.register(NetworkCheck)
class NetworkCheckAdmin(admin.ModelAdmin):
    list_display = ["__str__", "created_at", "user_agent"]
    list_filter = ["created_at"]
    search_fields = ["id", "user_agent"]
    fields = ["id", "created_at", "user_agent", "measurement"]
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        # A check is a measurement a browser made: never typed in by hand.
        return False

    def has_change_permission(self, request: HttpRequest, obj: NetworkCheck | None = None) -> bool:
        return False
