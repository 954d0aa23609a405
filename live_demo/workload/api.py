"""POST /api/workload-runs/: a workload run's measurements, stored as a revision's evidence.

Validated like the network check (``validation.py``): every field checked, a
400 naming each bad one, nothing stored. Who may add one is who may revise
the assessment (``workspaces.access``): a run becomes part of what reviewers
read about that revision, as the network check a revision is saved with.
Someone who may only view it sees the measurement on the page, unsaved.
"""

from __future__ import annotations

import uuid

from django.db import transaction
from django.http import HttpRequest, JsonResponse
from django.urls import reverse

from advisor.http import created, error_response, read_json_object
from network_check.models import USER_AGENT_MAX_LENGTH
from questionnaire.models import Assessment
from workspaces import access, audit
from workspaces.endpoints import api_methods
from workspaces.models import AuditAction

from ..models import WorkloadRun
from .validation import validate_run

MAX_RUN_BYTES = 16 * 1024


@api_methods("POST")
def workload_runs(request: HttpRequest) -> JsonResponse:
    principal = access.principal_of(request)
    # Who before what (the public demo's pages let anyone this far).
    if not principal.signed_in and not access.anonymous_mode():
        return access.api_refusal(access.UNAUTHENTICATED)
    document, refusal = read_json_object(request, MAX_RUN_BYTES)
    if refusal is not None:
        return refusal
    measurement, errors = validate_run(document)
    assessment = _assessment(document.get("assessment"))
    if assessment is not None:
        status = access.decide(principal, access.Action.REVISE, assessment)
        if status == access.NOT_FOUND:
            return _unknown(document["assessment"])
        if status != access.ALLOWED:
            return access.api_refusal(status, "your role cannot add evidence to this assessment")
    elif "assessment" not in errors and "assessment" in document:
        # Unknown: answered as another workspace's would be.
        return _unknown(document["assessment"])
    revision = None
    if assessment is not None and "revision" not in errors and "revision" in document:
        revision = assessment.revisions.filter(number=document["revision"]).first()
        if revision is None:
            errors["revision"] = f"this assessment has no revision {document['revision']}"
    if errors:
        return error_response(400, errors)
    with transaction.atomic():
        run = WorkloadRun.objects.create(
            revision=revision,
            created_by=principal.user,
            user_agent=request.headers.get("User-Agent", "")[:USER_AGENT_MAX_LENGTH],
            workload=measurement.pop("workload"),
            measurement=measurement,
        )
        # Evidence reviewers read: who added it, and to which revision.
        audit.record(
            request,
            AuditAction.WORKLOAD_RUN_STORED,
            workspace=assessment.workspace,
            target=run,
            detail={"assessment": str(assessment.pk), "revision": revision.number},
        )
    return created(run_document(request, run, assessment), run_url(request, run))


@api_methods("GET")
def workload_run_detail(request: HttpRequest, pk) -> JsonResponse:
    not_found = {"id": f"no workload run with id {pk}"}
    run = WorkloadRun.objects.select_related("revision__assessment").filter(pk=pk).first()
    if run is None:
        return error_response(404, not_found)
    assessment = run.revision.assessment
    status = access.decide(access.principal_of(request), access.Action.VIEW, assessment)
    if status != access.ALLOWED:
        return access.api_refusal(status, not_found=not_found)
    return JsonResponse(run_document(request, run, assessment))


def run_document(request: HttpRequest, run: WorkloadRun, assessment: Assessment) -> dict:
    return {
        "id": str(run.pk),
        "url": run_url(request, run),
        "assessment": str(assessment.pk),
        "revision": run.revision.number,
        "created_at": run.created_at.isoformat(),
        "user_agent": run.user_agent,
        "workload": run.workload,
        **run.measurement,
    }


def run_url(request: HttpRequest, run: WorkloadRun) -> str:
    return request.build_absolute_uri(reverse("live_demo:api-workload-run", args=[run.pk]))


def _assessment(value: object) -> Assessment | None:
    try:
        pk = uuid.UUID(value) if isinstance(value, str) else None
    except ValueError:
        pk = None
    return None if pk is None else Assessment.objects.filter(pk=pk).first()


def _unknown(value: object) -> JsonResponse:
    return error_response(404, {"assessment": f"no assessment with id {str(value):.40}"})


def workload_runs_document(request: HttpRequest, revision) -> list[dict]:
    """The assessment document's ``workload_runs``: every run of ``revision``, latest first."""
    runs = WorkloadRun.objects.filter(revision=revision).order_by("-created_at")
    for run in runs:
        run.revision = revision
    return [run_document(request, run, revision.assessment) for run in runs]
