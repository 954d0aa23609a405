"""The workspace's side of the JSON API: its audit log, for its owners.

Errors and refusals are the API's (``advisor.http``, ``access.api_refusal``).
"""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse

from advisor.http import error_response, json_page

from . import access
from .endpoints import api_methods
from .models import AuditAction, AuditEvent

# As the assessments' list: a constant a client can count on.
PAGE_SIZE = 20


@api_methods("GET")
def audit_log(request: HttpRequest) -> JsonResponse:
    """The current workspace's audit entries, newest first, a page at a time; ``?action=``."""
    principal = access.principal_of(request)
    workspace = access.current_workspace(request)
    if workspace is None:
        if not principal.signed_in:
            return access.api_refusal(access.UNAUTHENTICATED)
        return access.api_refusal(access.FORBIDDEN, "you are not a member of any workspace")
    status = access.decide_workspace(principal, access.Action.READ_AUDIT, workspace)
    if status != access.ALLOWED:
        return access.api_refusal(status, "only the workspace's owners read its audit log")
    entries = AuditEvent.objects.filter(workspace=workspace).order_by("-at", "-id")
    action = request.GET.get("action")
    if action is not None:
        if action not in AuditAction.values:
            known = ", ".join(AuditAction.values)
            return error_response(
                400, {"action": f"unknown action {action!r:.40}; one of {known}"}
            )
        entries = entries.filter(action=action)
    page, refusal = json_page(request, entries, PAGE_SIZE, entry_document)
    return refusal or JsonResponse(page)


def entry_document(entry: AuditEvent) -> dict:
    return {
        "id": entry.pk,
        "at": entry.at.isoformat(),
        "action": entry.action,
        "actor": entry.actor,
        "object_type": entry.object_type,
        "object_id": entry.object_id,
        "detail": entry.detail,
        "client_address": entry.client_address,
    }
