"""The network check's JSON API: store a measurement, read it back with what it found.

Errors are the site's JSON shape (``advisor.http``): ``{"errors": {field:
message}}`` with a 4xx status, and a rejected measurement saves nothing.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict

from django.http import HttpRequest, JsonResponse
from django.urls import reverse

from advisor.http import created, error_response, json_methods, read_json_object
from questionnaire.catalogue import Catalogue, get_catalogue

from .findings import findings, simulation_notice
from .models import USER_AGENT_MAX_LENGTH, NetworkCheck
from .suggestions import suggestions
from .validation import validate_measurement

# A measurement is a few hundred numbers at most.
MAX_NETWORK_CHECK_BYTES = 16 * 1024


@json_methods("POST")
def network_checks(request: HttpRequest) -> JsonResponse:
    document, refusal = read_json_object(request, MAX_NETWORK_CHECK_BYTES)
    if refusal is not None:
        return refusal
    measurement, errors = validate_measurement(document)
    if errors:
        return error_response(400, errors)
    check = NetworkCheck.objects.create(
        measurement=measurement,
        user_agent=request.headers.get("User-Agent", "")[:USER_AGENT_MAX_LENGTH],
    )
    return created(network_check_document(request, check), check_url(request, check))


@json_methods("GET")
def network_check_detail(request: HttpRequest, pk) -> JsonResponse:
    check = NetworkCheck.objects.filter(pk=pk).first()
    if check is None:
        return error_response(404, {"id": f"no network check with id {pk}"})
    return JsonResponse(network_check_document(request, check))


def network_check_document(
    request: HttpRequest, check: NetworkCheck, catalogue: Catalogue | None = None
) -> dict:
    """The stored measurement with what it found and suggests, in ``catalogue``'s words."""
    return {
        "id": str(check.pk),
        "url": check_url(request, check),
        "created_at": check.created_at.isoformat(),
        "user_agent": check.user_agent,
        "measurement": check.measurement,
        # Said outright: a simulated run's figures show the probes' pretence.
        "simulated": check.measurement.get("simulated", []),
        "simulation_notice": simulation_notice(check.measurement),
        "findings": [asdict(finding) for finding in findings(check.measurement)],
        "suggestions": [
            asdict(suggestion)
            for suggestion in suggestions(check.measurement, catalogue or get_catalogue())
        ],
    }


def check_url(request: HttpRequest, check: NetworkCheck) -> str:
    return request.build_absolute_uri(reverse("network_check:api-check", args=[check.pk]))


def linked_check(value: object) -> tuple[NetworkCheck | None, str | None]:
    """The check a document names (absent or null: none), or why it cannot be linked."""
    if value is None:
        return None, None
    try:
        pk = uuid.UUID(value) if isinstance(value, str) else None
    except ValueError:
        pk = None
    if pk is None:
        return None, "must be the id of a network check (a UUID), or null"
    check = NetworkCheck.objects.filter(pk=pk).first()
    if check is None:
        return None, f"no network check with id {value}"
    return check, None
