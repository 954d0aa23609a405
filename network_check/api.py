"""The network check's JSON API: store a measurement, read it back with what it found.

Errors are the site's JSON shape (``advisor.http``): ``{"errors": {field:
message}}`` with a 4xx status, and a rejected measurement saves nothing.
Who may store and read a check is ``workspaces.access``'s to say: a check
goes where ``placement`` puts it, and is read only where ``decide`` allows.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict

from django.db import transaction
from django.http import HttpRequest, JsonResponse
from django.urls import reverse

from advisor.http import created, error_response, read_json_object
from questionnaire.catalogue import Catalogue, get_catalogue
from workspaces import access, audit
from workspaces.endpoints import api_methods
from workspaces.models import AuditAction

from . import via
from .findings import findings, proxy_notice, simulation_notice
from .models import USER_AGENT_MAX_LENGTH, NetworkCheck
from .suggestions import suggestions
from .validation import validate_measurement

# A measurement is a few hundred numbers at most.
MAX_NETWORK_CHECK_BYTES = 16 * 1024


@api_methods("POST")
def network_checks(request: HttpRequest) -> JsonResponse:
    # Who and where before what: a refused caller learns nothing of the body.
    placement, status, message = access.placement(request)
    if status != access.ALLOWED:
        return access.api_refusal(status, message)
    document, refusal = read_json_object(request, MAX_NETWORK_CHECK_BYTES)
    if refusal is not None:
        return refusal
    measurement, errors = validate_measurement(document)
    if errors:
        return error_response(400, errors)
    if "via" in measurement:
        # Only the probe's own receipt makes a run "through a real proxy".
        # It names the burst the figures must describe, and is taken once.
        problems = via.receipt_problems(
            measurement["via"], measurement.pop("via_receipt"), measurement["sse"]
        )
        if problems:
            return error_response(400, problems)
    with transaction.atomic():
        check = NetworkCheck.objects.create(
            measurement=measurement,
            user_agent=request.headers.get("User-Agent", "")[:USER_AGENT_MAX_LENGTH],
            **placement,
        )
        audit.record(
            request, AuditAction.NETWORK_CHECK_CREATED, workspace=check.workspace, target=check
        )
    return created(network_check_document(request, check), check_url(request, check))


@api_methods("GET")
def network_check_detail(request: HttpRequest, pk) -> JsonResponse:
    not_found = {"id": f"no network check with id {pk}"}
    check = NetworkCheck.objects.filter(pk=pk).first()
    if check is None:
        return error_response(404, not_found)
    status = access.decide(access.principal_of(request), access.Action.VIEW, check)
    if status != access.ALLOWED:
        return access.api_refusal(status, not_found=not_found)
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
        # Said outright too: its SSE figures are a real proxy's, on purpose.
        "via": check.measurement.get("via"),
        "via_notice": proxy_notice(check.measurement),
        "findings": [asdict(finding) for finding in findings(check.measurement)],
        "suggestions": [
            asdict(suggestion)
            for suggestion in suggestions(check.measurement, catalogue or get_catalogue())
        ],
    }


def check_url(request: HttpRequest, check: NetworkCheck) -> str:
    return request.build_absolute_uri(reverse("network_check:api-check", args=[check.pk]))


def linked_check(
    value: object, principal: access.Principal
) -> tuple[NetworkCheck | None, str | None]:
    """The check a document names (absent or null: none), or why it cannot be linked.

    A check ``principal`` may not view is answered as one that does not
    exist: linking must not tell another workspace's checks from none.
    """
    if value is None:
        return None, None
    try:
        pk = uuid.UUID(value) if isinstance(value, str) else None
    except ValueError:
        pk = None
    if pk is None:
        return None, "must be the id of a network check (a UUID), or null"
    check = NetworkCheck.objects.filter(pk=pk).first()
    if check is None or access.decide(principal, access.Action.VIEW, check) != access.ALLOWED:
        return None, f"no network check with id {value}"
    return check, None
