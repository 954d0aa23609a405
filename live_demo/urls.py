from __future__ import annotations

from django.urls import path

from advisor.views import stream_elsewhere

from . import views

app_name = "live_demo"

urlpatterns = [
    path("demo/", views.demo, name="demo"),
    # Served by live_demo.sse ahead of Django (see routing.py); this route
    # names the URL, and answers only when the app runs without that router.
    path("demo/events/", stream_elsewhere, name="events"),
    path("demo/send/", views.send, name="send"),
    path("demo/drop/", views.drop, name="drop"),
    path("demo/stats/", views.stats, name="stats"),
]
