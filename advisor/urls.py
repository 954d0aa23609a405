from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

from identity.views import NOT_OFFERED

urlpatterns = [
    path("admin/", admin.site.urls),
    # Signing in and out, and single sign-on (identity/, docs/access.md).
    path("accounts/", include(NOT_OFFERED)),
    path("accounts/", include("allauth.urls")),
    path("", include("questionnaire.urls")),
    path("", include("live_demo.urls")),
    path("", include("network_check.urls")),
    path("", include("workspaces.urls")),
]

handler404 = "advisor.views.not_found"
handler500 = "advisor.views.server_error"
