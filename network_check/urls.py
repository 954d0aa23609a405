from __future__ import annotations

from django.urls import path

from advisor.views import stream_elsewhere

from . import api, views

app_name = "network_check"

urlpatterns = [
    path("network-check/", views.page, name="page"),
    path("network-check/<uuid:pk>/evidence/", views.evidence, name="evidence"),
    # Served by network_check.probes ahead of Django (see routing.py); this
    # route names the URL, and answers only when the app runs without that router.
    path("network-check/events/", stream_elsewhere, name="events"),
    path("api/network-checks/", api.network_checks, name="api-checks"),
    path("api/network-checks/<uuid:pk>/", api.network_check_detail, name="api-check"),
]
