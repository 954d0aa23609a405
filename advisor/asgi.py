"""ASGI entry point: HTTP through Django, WebSocket through Channels."""

from __future__ import annotations

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "advisor.settings")

from serving.handlers import get_asgi_application  # noqa: E402

# Django must be set up before anything imports models or consumers. Its
# handler here keeps request threads (and their database connections) from
# one request to the next: serving/handlers.py.
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import WebsocketDenier  # noqa: E402
from django.conf import settings  # noqa: E402
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler  # noqa: E402
from django.urls import re_path  # noqa: E402

from advisor.origins import AllowedHostsMiddleware, SameOriginWebsocketMiddleware  # noqa: E402
from advisor.static_headers import StaticFileHeaders  # noqa: E402
from live_demo import routing as live_demo_routing  # noqa: E402
from network_check import routing as network_check_routing  # noqa: E402
from operations.requests import ObservedRequests, named  # noqa: E402
from operations.routing import OperationsEndpoints  # noqa: E402
from questionnaire import routing as questionnaire_routing  # noqa: E402

# Each app's routes outside Django's URLconf: streams that must see their
# disconnect, and WebSockets.
http_urlpatterns = named(
    [
        *live_demo_routing.http_urlpatterns,
        *network_check_routing.http_urlpatterns,
        *questionnaire_routing.http_urlpatterns,
    ]
)
websocket_urlpatterns = [
    *live_demo_routing.websocket_urlpatterns,
    *network_check_routing.websocket_urlpatterns,
]

# Static files skip the middleware, so their nosniff header is added around them.
django_http = (
    StaticFileHeaders(ASGIStaticFilesHandler(django_asgi_app))
    if settings.SERVE_STATIC
    else django_asgi_app
)

# ALLOWED_HOSTS is checked first on every route: Django's views would check
# it anyway, but the streams, static files and WebSockets never reach them.
# (For the views it is checked twice: a string compare, not worth a second
# router.) Each stream checks the Origin itself (advisor.origins).
application = ProtocolTypeRouter(
    {
        # Every request has an id, an access log line and its metrics
        # (operations/requests.py); /healthz, /readyz and /metrics answer
        # an allowed host or an IP address (operations/routing.py says why).
        "http": ObservedRequests(
            OperationsEndpoints(
                AllowedHostsMiddleware(URLRouter([*http_urlpatterns, re_path(r"", django_http)]))
            )
        ),
        # No AuthMiddlewareStack: no consumer here reads the user or the
        # session, and the stack costs a database hop per handshake of a
        # browser with a session cookie (docs/benchmarks.md, handshakes).
        "websocket": AllowedHostsMiddleware(
            # Only this site's pages: same scheme, host and port, or a
            # CSRF_TRUSTED_ORIGINS entry.
            SameOriginWebsocketMiddleware(
                # An unknown path is refused at the handshake (HTTP 403), not an error.
                URLRouter([*websocket_urlpatterns, re_path(r"", WebsocketDenier.as_asgi())])
            )
        ),
    }
)
