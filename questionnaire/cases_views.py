"""The case library's page: every real system, filtered by transport and domain."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from .cases import CHOICE_NAMES, DOMAINS, get_library

# The transport filter's choices, in the page's words.
TRANSPORT_FILTERS = {"websocket": "WebSocket", "sse": "SSE", "both": "Both (offered side by side)"}


@require_safe
def case_list(request: HttpRequest) -> HttpResponse:
    library = get_library()
    transport = request.GET.get("transport", "")
    domain = request.GET.get("domain", "")
    errors = {}
    if transport and transport not in TRANSPORT_FILTERS:
        errors["transport"] = f"Unknown transport; choose one of {', '.join(TRANSPORT_FILTERS)}."
    if domain and domain not in DOMAINS:
        errors["domain"] = f"Unknown domain; choose one of {', '.join(DOMAINS)}."
    shown = [
        case
        for case in library.cases
        if not errors
        and (not transport or case.transport == transport)
        and (not domain or case.domain == domain)
    ]
    counts = {
        choice: sum(1 for case in library.cases if case.transport == choice)
        for choice in CHOICE_NAMES
    }
    return render(
        request,
        "questionnaire/cases.html",
        {
            "library": library,
            "cases": shown,
            "transport": transport,
            "domain": domain,
            "transports": TRANSPORT_FILTERS,
            "domains": DOMAINS,
            "counts": counts,
            "errors": errors,
        },
        status=400 if errors else 200,
    )
