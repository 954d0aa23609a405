"""Routes outside Django's URLconf: the live decision stream (live.py)."""

from __future__ import annotations

from django.urls import path

from . import live

# Served ahead of Django: Django's per-request context would keep a thread
# for each open stream for as long as it stays open (docs/live-decisions.md).
http_urlpatterns = [
    path(live.STREAM_PATH.lstrip("/"), live.decision_stream, name="decision-stream")
]
