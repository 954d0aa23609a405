from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("questionnaire.urls")),
    path("", include("live_demo.urls")),
    path("", include("network_check.urls")),
    path("", include("workspaces.urls")),
]

handler404 = "advisor.views.not_found"
