from __future__ import annotations

from django.urls import path

from advisor.views import stream_elsewhere

from . import views
from .workload import api as workload_api
from .workload import views as workload_views

app_name = "live_demo"

urlpatterns = [
    path("demo/", views.demo, name="demo"),
    # Served by live_demo.sse ahead of Django (see routing.py); this route
    # names the URL, and answers only when the app runs without that router.
    path("demo/events/", stream_elsewhere, name="events"),
    path("demo/send/", views.send, name="send"),
    path("demo/drop/", views.drop, name="drop"),
    path("demo/stats/", views.stats, name="stats"),
    # Your workload, live (live_demo/workload/, docs/workload.md).
    path("demo/workload/", workload_views.page, name="workload"),
    path("demo/workload/runs/", workload_views.start, name="workload-start"),
    path("demo/workload/up/", workload_views.up, name="workload-up"),
    path("demo/workload/events/", stream_elsewhere, name="workload-events"),
    path("api/workload-runs/", workload_api.workload_runs, name="api-workload-runs"),
    path(
        "api/workload-runs/<uuid:pk>/", workload_api.workload_run_detail, name="api-workload-run"
    ),
]
