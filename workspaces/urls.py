from __future__ import annotations

from django.urls import path

from . import api

app_name = "workspaces"

urlpatterns = [
    path("api/audit/", api.audit_log, name="api-audit"),
]
