"""The workload page, and the HTTP half of a run: start it, and the SSE side's up messages.

Errors are the site's JSON shape, ``{"errors": {field: message}}``, with a 4xx.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_safe

from advisor.clients import ClientRates, client_key, retry_after
from advisor.consumers import MessageError
from advisor.http import error_response, json_allow
from questionnaire.catalogue import get_catalogue
from questionnaire.models import Assessment, Revision
from questionnaire.views import requested_revision_or_404
from questionnaire.workload import (
    LIMITS,
    PARAMETERS,
    describe,
    read_workload,
    too_few_messages,
    workload_of,
)
from workspaces import access

from ..templatetags.workload import presets as workload_presets
from ..views import posted_fields, request_wire_bytes, send_rates
from .consumers import up_ack
from .runs import RunRefused, runs

MAX_UP_BODY = 8 * 1024
WS_PATH = "/ws/workload/"
_up_limits = ClientRates(send_rates)


@require_safe
@ensure_csrf_cookie
def page(request: HttpRequest) -> HttpResponse:
    """The workload of ``?assessment=&revision=``, or of ``?preset=``; adjusted by the query."""
    catalogue = get_catalogue()
    presets = workload_presets()
    context: dict[str, Any] = {"presets": presets, "limits": LIMITS}
    revision = _revision(request)
    preset = next((p for p in presets if p["slug"] == request.GET.get("preset")), None)
    if revision is not None:
        workload = workload_of(revision.answers, revision.catalogue_version, revision.traffic)
        principal = access.principal_of(request)
        context.update(
            revision=revision,
            assessment=revision.assessment,
            recommendation=revision.result["recommendation"],
            can_save=access.can(principal, access.Action.REVISE, revision.assessment),
            result_url=f"{revision.assessment.get_absolute_url()}?revision={revision.number}",
        )
    elif preset is not None:
        workload = dict(preset["workload"])
        context["preset"] = preset
    else:
        workload = workload_of({}, catalogue.version)
    adjusted = {name: request.GET[name] for name in PARAMETERS if name in request.GET}
    status = 200
    if adjusted:
        checked, errors = read_workload({**workload, **adjusted})
        if errors:
            context["errors"] = errors
            status = 400
        else:
            workload = checked
    context.update(
        workload=workload, sentence=describe(workload), too_few=too_few_messages(workload)
    )
    return render(request, "live_demo/workload.html", context, status=status)


def _revision(request: HttpRequest) -> Revision | None:
    """The revision the page was opened for, if any; 404/403/sign-in as its result page would."""
    pk = request.GET.get("assessment")
    if pk is None:
        return None
    try:
        assessment = get_object_or_404(Assessment, pk=uuid.UUID(pk))
    except ValueError:
        raise Http404("No such assessment.") from None
    access.require(request, access.Action.VIEW, assessment)
    return requested_revision_or_404(
        request, list(assessment.revisions.select_related("assessment"))
    )


async def owner_of(request: HttpRequest) -> str:
    """Whose run this is: the browser's session, if the server holds it; else the client's address.

    A session cookie the server never gave counts as none: each made-up one
    would otherwise be a new browser, and one client could take every place.
    """
    key = request.session.session_key
    if key and await request.session.aexists(key):
        return f"session:{key}"
    return f"client:{client_key(request)}"


@json_allow("POST")
async def start(request: HttpRequest) -> HttpResponse:
    body = posted_fields(request, 4096)
    if isinstance(body, JsonResponse):
        return body
    workload, errors = read_workload(body)
    if errors:
        return error_response(400, errors)
    try:
        run = await runs.start(await owner_of(request), workload, client_key(request))
    except RunRefused as refused:
        return _refusal(refused)
    query = f"?run={run.id}"
    return JsonResponse(
        {
            "run": run.id,
            "workload": workload,
            "sentence": describe(workload),
            "total": run.total,
            "start_ms": round(run.start * 1000, 3),
            # Served by routing.py ahead of Django: no URLconf name to reverse.
            "websocket": WS_PATH + query,
            "events": reverse("live_demo:workload-events") + query,
            "up": reverse("live_demo:workload-up"),
        },
        status=201,
    )


@json_allow("POST")
async def up(request: HttpRequest) -> HttpResponse:
    """An up message of the SSE side, as an HTTP POST: answered with its seq, time and cost."""
    wait = _up_limits.wait(client_key(request))
    if wait:
        return error_response(
            429,
            {"run": "Too many up messages a second; slow down."},
            Retry_After=retry_after(wait),
        )
    body = posted_fields(request, MAX_UP_BODY)
    if isinstance(body, JsonResponse):
        return body
    try:
        run = await runs.get(body.get("run"))
    except RunRefused as refused:
        return _refusal(refused)
    if run is None:
        return error_response(404, {"run": "No running workload has that id."})
    try:
        return JsonResponse(up_ack(body, wire_bytes=request_wire_bytes(request)))
    except MessageError as error:
        return error_response(400, {error.message.split('"')[1]: error.message})


def _refusal(refused: RunRefused) -> JsonResponse:
    headers = {"Retry_After": str(refused.retry_after)} if refused.retry_after else {}
    return error_response(refused.status, {refused.field: refused.message}, **headers)
