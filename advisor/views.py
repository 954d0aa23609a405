"""Site-wide error views: a 404 and a CSRF failure in the shape the client expects."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.csrf import csrf_failure as default_csrf_failure
from django.views.defaults import page_not_found

from .http import answers_json, error_response, is_json_endpoint


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """404 for the whole site: JSON under /api/, the normal page elsewhere."""
    if request.path.startswith("/api/"):
        return error_response(404, {"path": f"nothing at {request.path}"})
    return page_not_found(request, exception)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """JSON for the endpoints that answer JSON (`advisor.http.answers_json`), else HTML."""
    if is_json_endpoint(request):
        return error_response(
            403,
            {
                "csrf": f"CSRF check failed ({reason}). Send the csrftoken cookie's value "
                "in an X-CSRFToken header."
            },
        )
    return default_csrf_failure(request, reason)


@answers_json
def stream_elsewhere(request: HttpRequest) -> HttpResponse:
    """Names a stream's URL in the URLconf; the ASGI router serves it ahead of Django."""
    return error_response(
        503, {"stream": "The event stream is served by the ASGI application (advisor.asgi) only."}
    )
