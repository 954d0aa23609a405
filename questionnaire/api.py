"""The JSON API: the catalogue, and assessments as documents (network checks: network_check.api).

Every error is JSON of the form ``{"errors": {field: message}}`` with a 4xx
status; a rejected request saves nothing.
"""

from __future__ import annotations

import json
from functools import cache

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse

from advisor.http import (
    all_digits,
    created,
    error_response,
    json_methods,
    read_json_object,
    whole_number,
)
from network_check.api import linked_check, network_check_document

from .catalogue import get_catalogue
from .models import Assessment, Revision, title_problem
from .scoring import validate_answers

MAX_BODY_BYTES = 64 * 1024


@json_methods("GET")
def questions(request: HttpRequest) -> HttpResponse:
    return HttpResponse(_catalogue_json(get_catalogue().version), content_type="application/json")


@cache
def _catalogue_json(version: str) -> bytes:
    """The catalogue document, encoded once per process: it never changes."""
    catalogue = get_catalogue(version)
    return json.dumps(
        {
            "version": catalogue.version,
            "published": catalogue.published,
            "sections": [
                {
                    "slug": section.slug,
                    "title": section.title,
                    "description": section.description,
                    "questions": [
                        {
                            "slug": question.slug,
                            "text": question.text,
                            "help": question.help,
                            # An optional question left out of an answer set
                            # is scored and stored as its default.
                            "optional": question.optional,
                            "default": question.default,
                            "options": [
                                {
                                    "value": option.value,
                                    "label": option.label,
                                    "points": dict(option.points),
                                    "reason": option.reason,
                                    "source": {
                                        "title": option.source.title,
                                        "url": option.source.url,
                                    },
                                }
                                for option in question.options
                            ],
                        }
                        for question in section.questions
                    ],
                }
                for section in catalogue.sections
            ],
            "presets": [
                {
                    "slug": preset.slug,
                    "title": preset.title,
                    "description": preset.description,
                    "answers": dict(preset.answers),
                }
                for preset in catalogue.presets
            ],
        }
    ).encode()


@json_methods("POST")
def assessments(request: HttpRequest) -> JsonResponse:
    document, refusal = read_json_object(request, MAX_BODY_BYTES)
    if refusal is not None:
        return refusal

    errors: dict[str, str] = {}
    for key in document.keys() - {"title", "answers", "network_check"}:
        errors[key] = "unknown field; expected title, answers and network_check"
    network_check, problem = linked_check(document.get("network_check"))
    if problem:
        errors["network_check"] = problem
    title = document.get("title", "")
    if title is None:
        title = ""
    if not isinstance(title, str):
        errors["title"] = "must be a string"
    elif problem := title_problem(title.strip()):
        errors["title"] = problem
    catalogue = get_catalogue()
    if "answers" not in document:
        errors["answers"] = "required: an object with an answer to every question"
    else:
        for slug, message in validate_answers(catalogue, document["answers"]).items():
            errors["answers" if slug == "answers" else f"answers.{slug}"] = message
    if errors:
        return error_response(400, errors)

    assessment, revision = Assessment.create_scored(
        title.strip(), document["answers"], catalogue, network_check=network_check
    )
    location = reverse("questionnaire:api-assessment", args=[assessment.pk])
    return created(
        assessment_document(request, assessment, revision), request.build_absolute_uri(location)
    )


@json_methods("GET")
def assessment_detail(request: HttpRequest, pk) -> JsonResponse:
    assessment = Assessment.objects.filter(pk=pk).first()
    if assessment is None:
        return error_response(404, {"id": f"no assessment with id {pk}"})
    revisions = {revision.number: revision for revision in assessment.revisions.all()}
    requested = request.GET.get("revision")
    if requested is None:
        revision = revisions[max(revisions)]
    elif (number := whole_number(requested)) not in revisions:
        # A number that names no revision is not found, however long; anything
        # else is malformed. The echo is cut short: the value may be huge.
        return error_response(
            404 if all_digits(requested) else 400,
            {
                "revision": f"no revision {requested!r:.40}; "
                f"this assessment has 1 to {max(revisions)}"
            },
        )
    else:
        revision = revisions[number]
    return JsonResponse(assessment_document(request, assessment, revision))


def assessment_document(request: HttpRequest, assessment: Assessment, revision: Revision) -> dict:
    return {
        "id": str(assessment.pk),
        "url": request.build_absolute_uri(assessment.get_absolute_url()),
        # The revision's own title: an earlier revision keeps the name it was saved under.
        "title": revision.title,
        "revision": revision.number,
        "created_at": revision.created_at.isoformat(),
        "answers": revision.answers,
        **revision.result,
        "network_check": (
            network_check_document(request, revision.network_check, revision.catalogue)
            if revision.network_check_id
            else None
        ),
    }
