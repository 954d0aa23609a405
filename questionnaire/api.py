"""The JSON API: the catalogue, and assessments created and read as documents.

Every error is JSON of the form ``{"errors": {field: message}}`` with a 4xx
status; a rejected request saves nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache, wraps

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.defaults import page_not_found

from .catalogue import get_catalogue
from .models import Assessment, Revision, title_problem
from .scoring import validate_answers

MAX_BODY_BYTES = 64 * 1024


def error_response(status: int, errors: dict[str, str], **headers: str) -> JsonResponse:
    response = JsonResponse({"errors": errors}, status=status)
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def json_methods(*methods: str) -> Callable:
    """Like require_http_methods, but the 405 is JSON like every other API error."""

    def decorator(view: Callable) -> Callable:
        # The API is for programs, not browsers: it takes no cookies into
        # account and changes no session, so cross-site request forgery has
        # nothing to ride on, and a CSRF failure page would not be JSON.
        @csrf_exempt
        @wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if request.method not in methods:
                return error_response(
                    405,
                    {"method": f"{request.method} is not allowed here; use {', '.join(methods)}"},
                    Allow=", ".join(methods),
                )
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


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
    too_big = error_response(413, {"body": f"the body must be at most {MAX_BODY_BYTES} bytes"})
    try:
        declared = int(request.headers.get("Content-Length") or 0)
    except ValueError:
        declared = 0
    if declared > MAX_BODY_BYTES:
        return too_big
    try:
        body = request.body
    except RequestDataTooBig:
        return too_big
    if len(body) > MAX_BODY_BYTES:
        return too_big

    try:
        document = json.loads(body)
    except (ValueError, RecursionError) as error:
        # ValueError covers bad UTF-8, bad JSON and integers past Python's
        # digit limit; RecursionError, nesting deeper than the parser goes.
        return error_response(400, {"body": f"the body is not valid JSON: {error}"})
    if not isinstance(document, dict):
        return error_response(400, {"body": "the body must be a JSON object"})

    errors: dict[str, str] = {}
    for key in document.keys() - {"title", "answers"}:
        errors[key] = "unknown field; expected title and answers"
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

    assessment = Assessment.create_scored(title.strip(), document["answers"], catalogue)
    response = JsonResponse(
        assessment_document(request, assessment, assessment.latest), status=201
    )
    response["Location"] = request.build_absolute_uri(
        reverse("questionnaire:api-assessment", args=[assessment.pk])
    )
    return response


@json_methods("GET")
def assessment_detail(request: HttpRequest, pk) -> JsonResponse:
    assessment = Assessment.objects.filter(pk=pk).first()
    if assessment is None:
        return error_response(404, {"id": f"no assessment with id {pk}"})
    revisions = {revision.number: revision for revision in assessment.revisions.all()}
    requested = request.GET.get("revision")
    if requested is None:
        revision = revisions[max(revisions)]
    elif (
        not (number := requested.isascii() and requested.isdigit())
        or int(requested) not in revisions
    ):
        return error_response(
            404 if number else 400,
            {"revision": f"no revision {requested!r}; this assessment has 1 to {max(revisions)}"},
        )
    else:
        revision = revisions[int(requested)]
    return JsonResponse(assessment_document(request, assessment, revision))


def assessment_document(request: HttpRequest, assessment: Assessment, revision: Revision) -> dict:
    return {
        "id": str(assessment.pk),
        "url": request.build_absolute_uri(assessment.get_absolute_url()),
        "title": assessment.title,
        "revision": revision.number,
        "created_at": revision.created_at.isoformat(),
        "answers": revision.answers,
        **revision.result,
    }


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """404 for the whole site: JSON under /api/, the normal page elsewhere."""
    if request.path.startswith("/api/"):
        return error_response(404, {"path": f"nothing at {request.path}"})
    return page_not_found(request, exception)
