"""A minimal Django project serving one django-eventstream channel, "feed" (a benchmark reference).

What a Django user would pick for SSE without Channels: django-eventstream's
own view, in-process listeners, no storage (so no database work per event,
like our demo) and no GRIP proxy.
"""

from __future__ import annotations

SECRET_KEY = "bench-reference-only"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1"]
INSTALLED_APPS = ["django_eventstream"]
MIDDLEWARE: list[str] = []
ROOT_URLCONF = "urls"
DATABASES: dict = {}
USE_TZ = True
