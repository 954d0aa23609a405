from __future__ import annotations

import json
import uuid

import pytest
from django.test import Client

from questionnaire.catalogue import available_versions
from questionnaire.models import Assessment, Revision

pytestmark = pytest.mark.django_db

ASSESSMENTS = "/api/assessments/"
MAX_BODY = 64 * 1024

QUESTION_SLUGS = [
    "client_messages",
    "upstream_latency",
    "interaction_pattern",
    "server_commands",
    "middleboxes",
    "http_version",
    "stream_buffering",
    "hosting",
    "load_balancer",
    "payload_format",
    "message_rate",
    "team_experience",
    "delivery",
    "auth",
    "clients",
    "scale",
]
# An optional question left out is no error: it counts as its default.
DEFAULTS = {"server_commands": "no", "stream_buffering": "unknown"}
REQUIRED_SLUGS = [slug for slug in QUESTION_SLUGS if slug not in DEFAULTS]


def post_body(client: Client, body: bytes | str):
    return client.post(ASSESSMENTS, data=body, content_type="application/json")


def post_json(client: Client, document: object):
    return post_body(client, json.dumps(document))


def rejection(response) -> tuple[int, set[str], int]:
    """What a client notices of a refused POST: status, fields named, and nothing saved."""
    return response.status_code, set(response.json()["errors"]), Assessment.objects.count()


def json_error(response) -> tuple[int, str, set[str]]:
    """Status, content type and the fields named by an API error."""
    return response.status_code, response["Content-Type"], set(response.json()["errors"])


def method_refusal(response) -> tuple[int, str, set[str]]:
    return response.status_code, response["Allow"], set(response.json()["errors"])


def answer_keys(*slugs: str) -> set[str]:
    return {f"answers.{slug}" for slug in slugs}


@pytest.fixture
def created(client, chat_answers):
    return post_json(client, {"title": "Team chat", "answers": chat_answers})


@pytest.fixture
def revised(created, dashboard_answers) -> Assessment:
    assessment = Assessment.objects.get()
    assessment.revise("Team chat", dashboard_answers)
    return assessment


# --- GET /api/questions/ -------------------------------------------------------


@pytest.fixture
def questions(client) -> dict:
    return client.get("/api/questions/").json()


def test_questions_ok(client):
    assert client.get("/api/questions/").status_code == 200


def test_questions_version(questions):
    assert questions["version"] == available_versions()[-1]


def test_questions_optional_question_names_its_default(questions):
    by_slug = {q["slug"]: q for section in questions["sections"] for q in section["questions"]}

    assert (by_slug["stream_buffering"]["optional"], by_slug["stream_buffering"]["default"]) == (
        True,
        "unknown",
    )


def test_questions_server_commands_names_its_default(questions):
    by_slug = {q["slug"]: q for section in questions["sections"] for q in section["questions"]}

    assert (by_slug["server_commands"]["optional"], by_slug["server_commands"]["default"]) == (
        True,
        "no",
    )


def test_questions_other_questions_are_required_without_default(questions):
    others = [
        (q["optional"], q["default"])
        for section in questions["sections"]
        for q in section["questions"]
        if q["slug"] not in DEFAULTS
    ]

    assert set(others) == {(False, None)}


def test_questions_sections(questions):
    assert [section["slug"] for section in questions["sections"]] == [
        "interactivity",
        "network",
        "payload",
        "overhead",
    ]


def test_questions_slugs(questions):
    slugs = [q["slug"] for section in questions["sections"] for q in section["questions"]]

    assert slugs == QUESTION_SLUGS


def test_questions_have_text_and_help(questions):
    question = questions["sections"][0]["questions"][0]

    assert question["text"] == "While connected, how often do clients send data to the server?"
    assert question["help"]


def test_questions_options_have_value_label_points_reason_source(questions):
    keys = {
        frozenset(option)
        for section in questions["sections"]
        for question in section["questions"]
        for option in question["options"]
    }

    assert keys == {frozenset({"value", "label", "points", "reason", "source"})}


def test_questions_option_points_per_transport(questions):
    option = questions["sections"][0]["questions"][0]["options"][0]

    assert (option["value"], set(option["points"])) == ("none", {"websocket", "sse"})


def test_questions_option_source_has_title_and_url(questions):
    source = questions["sections"][0]["questions"][0]["options"][0]["source"]

    assert set(source) == {"title", "url"}
    assert source["url"].startswith("https://")


def test_questions_match_catalogue(questions, catalogue):
    labels = {
        (q["slug"], o["value"]): o["label"]
        for section in questions["sections"]
        for q in section["questions"]
        for o in q["options"]
    }

    assert labels == {(q.slug, o.value): o.label for q in catalogue.questions for o in q.options}


def test_questions_lists_presets(questions, chat_answers):
    presets = {preset["slug"]: preset["answers"] for preset in questions["presets"]}

    assert (len(presets), presets["chat"]) == (8, chat_answers)


# --- POST /api/assessments/ ----------------------------------------------------


def test_create_reads_nothing_back(client, chat_answers, django_assert_num_queries):
    # The two inserts in their transaction (a savepoint in the test's) and the
    # audit entry; no session for a program without cookies, and no read of
    # the revision it answers with.
    with django_assert_num_queries(5):
        response = post_json(client, {"title": "Team chat", "answers": chat_answers})

    assert response.status_code == 201


def test_create_status_created(created):
    assert created.status_code == 201


def test_create_location_header(created):
    assessment = Assessment.objects.get()

    assert created["Location"] == f"http://testserver/api/assessments/{assessment.pk}/"


def test_create_document_fields(created):
    assert set(created.json()) >= {
        "id",
        "url",
        "title",
        "revision",
        "answers",
        "recommendation",
        "confidence",
        "scores",
        "sections",
        "pattern",
        "reasons",
        "caveats",
        "flips",
        "checklist",
    }


def test_create_chat_recommends_websocket(created):
    assert created.json()["recommendation"] == "websocket"


def test_create_confidence_is_a_known_level(created):
    assert created.json()["confidence"] in {"strong", "moderate", "slight"}


def test_create_scores_per_transport(created):
    scores = created.json()["scores"]

    assert (set(scores), scores["websocket"] > scores["sse"]) == ({"websocket", "sse"}, True)


def test_create_sections_scored(created):
    assert set(created.json()["sections"]) == {"interactivity", "network", "payload", "overhead"}


def test_create_pattern_has_title(created):
    assert set(created.json()["pattern"]) >= {"slug", "title", "description"}


def test_create_reasons_one_per_answer(created):
    reasons = created.json()["reasons"]

    assert sorted(reason["question"] for reason in reasons) == sorted(QUESTION_SLUGS)


def test_create_reasons_fields(created):
    reason = created.json()["reasons"][0]

    assert set(reason) >= {"question", "answer", "favours", "points", "reason"}


def test_create_reasons_strongest_first(created):
    points = [reason["points"] for reason in created.json()["reasons"]]

    assert points == sorted(points, reverse=True)


def test_create_caveats_and_flips_are_lists(created):
    document = created.json()

    assert (type(document["caveats"]), type(document["flips"])) == (list, list)


def test_create_flips_lead_to_sse(created):
    flips = created.json()["flips"]

    assert flips and {flip["recommendation"] for flip in flips} == {"sse"}


def test_create_echoes_answers(created, chat_answers):
    # The optional question left out is stored as its default.
    assert (created.json()["answers"], created.json()["revision"]) == (
        {**chat_answers, **DEFAULTS},
        1,
    )


def test_create_with_the_optional_answer_scores_it(client, dashboard_answers):
    response = post_json(
        client, {"answers": {**dashboard_answers, "stream_buffering": "buffered"}}
    )

    document = response.json()
    assert (response.status_code, document["answers"]["stream_buffering"]) == (201, "buffered")
    assert "sse-buffered" in {caveat["slug"] for caveat in document["caveats"]}


def test_create_unknown_optional_answer_is_rejected(client, chat_answers):
    response = post_json(client, {"answers": {**chat_answers, "stream_buffering": "sometimes"}})

    assert rejection(response) == (400, answer_keys("stream_buffering"), 0)


def test_create_id_is_the_saved_assessment(created):
    assert created.json()["id"] == str(Assessment.objects.get().pk)


def test_create_url_is_result_page(created):
    document = created.json()

    assert document["url"] == f"http://testserver/assessments/{document['id']}/"


def test_create_url_opens(client, created):
    assert client.get(created.json()["url"]).status_code == 200


def test_create_then_get_returns_same_document(client, created):
    assert client.get(created["Location"]).json() == created.json()


def test_create_stores_title(created):
    assert Assessment.objects.get().title == "Team chat"


def test_create_strips_title(client, chat_answers):
    post_json(client, {"title": "  Team chat  ", "answers": chat_answers})

    assert Assessment.objects.get().title == "Team chat"


def test_create_without_title(client, chat_answers):
    response = post_json(client, {"answers": chat_answers})

    assert (response.status_code, response.json()["title"]) == (201, "")


def test_create_null_title_is_no_title(client, chat_answers):
    response = post_json(client, {"title": None, "answers": chat_answers})

    assert (response.status_code, response.json()["title"]) == (201, "")


def test_create_title_at_limit_accepted(client, chat_answers):
    response = post_json(client, {"title": "x" * 200, "answers": chat_answers})

    assert response.status_code == 201


def test_create_saves_one_revision(created):
    assert Assessment.objects.get().revisions.count() == 1


def test_create_needs_no_csrf_token(chat_answers):
    client = Client(enforce_csrf_checks=True)

    assert post_json(client, {"answers": chat_answers}).status_code == 201


def test_create_body_at_size_limit_accepted(client, chat_answers):
    body = json.dumps({"answers": chat_answers})
    body += " " * (MAX_BODY - len(body))

    assert post_body(client, body).status_code == 201


# --- POST /api/assessments/: rejected --------------------------------------------


def test_create_body_not_json(client):
    assert rejection(post_body(client, "answers=frequent")) == (400, {"body"}, 0)


def test_create_body_empty(client):
    assert rejection(post_body(client, b"")) == (400, {"body"}, 0)


def test_create_body_not_utf8(client):
    assert rejection(post_body(client, b'{"title": "caf\xe9"}')) == (400, {"body"}, 0)


def test_create_body_json_array(client, chat_answers):
    assert rejection(post_json(client, [{"answers": chat_answers}])) == (400, {"body"}, 0)


@pytest.mark.parametrize("document", ["chat", 42, None, True])
def test_create_body_json_scalar(client, document):
    assert rejection(post_json(client, document)) == (400, {"body"}, 0)


def test_create_errors_are_json(client):
    response = post_body(client, "nope")

    assert response["Content-Type"] == "application/json"


def test_create_answers_a_string(client):
    assert rejection(post_json(client, {"answers": "chat"})) == (400, {"answers"}, 0)


def test_create_answers_a_list(client, chat_answers):
    document = {"answers": list(chat_answers.items())}

    assert rejection(post_json(client, document)) == (400, {"answers"}, 0)


def test_create_answers_null(client):
    assert rejection(post_json(client, {"answers": None})) == (400, {"answers"}, 0)


def test_create_unknown_question(client, chat_answers):
    document = {"answers": {**chat_answers, "carrier": "pigeon"}}

    assert rejection(post_json(client, document)) == (400, {"answers.carrier"}, 0)


def test_create_unknown_option(client, chat_answers):
    document = {"answers": {**chat_answers, "scale": "galactic"}}

    assert rejection(post_json(client, document)) == (400, {"answers.scale"}, 0)


def test_create_unknown_option_message_lists_options(client, chat_answers):
    response = post_json(client, {"answers": {**chat_answers, "scale": "galactic"}})

    assert "small, medium, large" in response.json()["errors"]["answers.scale"]


@pytest.mark.parametrize("value", [3, None, True, ["medium"], {"value": "medium"}])
def test_create_option_not_a_string(client, chat_answers, value):
    document = {"answers": {**chat_answers, "scale": value}}

    assert rejection(post_json(client, document)) == (400, {"answers.scale"}, 0)


def test_create_missing_answers_each_named(client):
    document = {"answers": {"client_messages": "none"}}

    assert rejection(post_json(client, document)) == (400, answer_keys(*REQUIRED_SLUGS[1:]), 0)


def test_create_empty_answers_names_every_required_question(client):
    assert rejection(post_json(client, {"answers": {}})) == (400, answer_keys(*REQUIRED_SLUGS), 0)


def test_create_no_answers_key(client):
    assert rejection(post_json(client, {"title": "Team chat"})) == (400, {"answers"}, 0)


@pytest.mark.parametrize("title", [42, ["Team chat"], {"en": "Team chat"}, False])
def test_create_title_not_a_string(client, chat_answers, title):
    document = {"title": title, "answers": chat_answers}

    assert rejection(post_json(client, document)) == (400, {"title"}, 0)


def test_create_title_too_long(client, chat_answers):
    document = {"title": "x" * 201, "answers": chat_answers}

    assert rejection(post_json(client, document)) == (400, {"title"}, 0)


def test_create_unknown_top_level_field(client, chat_answers):
    document = {"answers": chat_answers, "recommendation": "sse"}

    assert rejection(post_json(client, document)) == (400, {"recommendation"}, 0)


def test_create_several_problems_all_named(client, chat_answers):
    answers = {**chat_answers, "scale": "galactic", "carrier": "pigeon"}
    del answers["auth"]
    document = {"title": 7, "answers": answers, "colour": "blue"}

    assert rejection(post_json(client, document)) == (
        400,
        {"title", "colour", "answers.scale", "answers.carrier", "answers.auth"},
        0,
    )


def test_create_rejection_saves_nothing_when_others_exist(client, created, chat_answers):
    post_json(client, {"answers": {**chat_answers, "scale": "galactic"}})

    assert Assessment.objects.count() == 1


def test_create_body_too_large(client, chat_answers):
    response = post_json(client, {"title": "x" * MAX_BODY, "answers": chat_answers})

    assert rejection(response) == (413, {"body"}, 0)


def test_create_body_one_byte_over_limit(client, chat_answers):
    body = json.dumps({"answers": chat_answers})
    body += " " * (MAX_BODY + 1 - len(body))

    assert rejection(post_body(client, body)) == (413, {"body"}, 0)


@pytest.mark.parametrize(
    "body",
    [
        '{"answers": null}',
        '{"answers": {"client_messages": null}}',
        '{"answers": {"client_messages": {"nested": {"deeper": ["x"]}}}}',
        '{"answers": {"": ""}}',
        '{"answers": [[["nested"]]]}',
        '{"answers": {"client_messages": "none"}, "": null}',
        '{"title": null, "answers": null}',
        '{"title": {"nested": {}}, "answers": {"scale": []}}',
        '{"title": "\\ud800", "answers": {}}',
        '{"title": NaN, "answers": Infinity}',
        '{"answers": 1e999}',
        '{"answers": {}, "answers": "twice"}',
        "\ufeff{}",
        '"{}"',
        "null",
        "{",
        "[]",
    ],
)
def test_create_garbage_never_500(client, body):
    assert post_body(client, body).status_code < 500


def test_create_deeply_nested_body_rejected(client):
    response = post_body(client, '{"answers": ' + "[" * 20_000 + "]" * 20_000 + "}")

    assert rejection(response) == (400, {"body"}, 0)


def test_create_huge_integer_rejected(client, chat_answers):
    body = '{"title": ' + "1" * 5000 + ', "answers": ' + json.dumps(chat_answers) + "}"

    assert post_body(client, body).status_code == 400


def test_create_huge_content_length_is_json_413(chat_answers):
    # Django's own body reader calls int() on it and raised past 4,300 digits.
    client = Client(raise_request_exception=False)
    body = json.dumps({"answers": chat_answers})

    response = client.post(
        ASSESSMENTS, body, content_type="application/json", headers={"Content-Length": "9" * 5000}
    )

    assert rejection(response) == (413, {"body"}, 0)


@pytest.mark.parametrize("length", ["abc", "-1", "1_0", " 10", "²"])
def test_create_malformed_content_length_is_json_400(chat_answers, length):
    client = Client(raise_request_exception=False)
    body = json.dumps({"answers": chat_answers})

    response = client.post(
        ASSESSMENTS, body, content_type="application/json", headers={"Content-Length": length}
    )

    assert rejection(response) == (400, {"body"}, 0)


def test_create_title_with_nul_never_500(chat_answers):
    client = Client(raise_request_exception=False)

    response = post_json(client, {"title": "Team\u0000chat", "answers": chat_answers})

    assert response.status_code < 500


def test_create_title_with_lone_surrogate_rejected(client, chat_answers):
    body = '{"title": "\\ud800", "answers": ' + json.dumps(chat_answers) + "}"

    assert rejection(post_body(client, body)) == (400, {"title"}, 0)


# --- Behind a TLS proxy (DJANGO_SECURE_PROXY_SSL_HEADER=1) ------------------------

PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# What a proxy passes on: the browser's Host (without it the test client names
# port 80, which an https:// URL would then spell out) and the protocol.
THROUGH_TLS_PROXY = {"Host": "testserver", "X-Forwarded-Proto": "https"}


def test_create_behind_tls_proxy_links_with_https(client, settings, chat_answers):
    settings.SECURE_PROXY_SSL_HEADER = PROXY_SSL_HEADER
    response = client.post(
        ASSESSMENTS,
        json.dumps({"answers": chat_answers}),
        content_type="application/json",
        headers=THROUGH_TLS_PROXY,
    )

    assert response.status_code == 201
    assert response["Location"].startswith("https://testserver/api/assessments/")
    assert response.json()["url"].startswith("https://testserver/assessments/")


def test_get_behind_tls_proxy_links_with_https(client, settings, created):
    settings.SECURE_PROXY_SSL_HEADER = PROXY_SSL_HEADER

    document = client.get(created["Location"], headers=THROUGH_TLS_PROXY).json()

    assert document["url"].startswith("https://testserver/assessments/")


def test_forwarded_proto_not_trusted_by_default(client, chat_answers):
    # Without the setting, any client could claim HTTPS with the header.
    response = client.post(
        ASSESSMENTS,
        json.dumps({"answers": chat_answers}),
        content_type="application/json",
        headers=THROUGH_TLS_PROXY,
    )

    assert response["Location"].startswith("http://testserver/")


# --- GET /api/assessments/<id>/ ------------------------------------------------


def test_get_unknown_id_is_json_404(client):
    response = client.get(f"{ASSESSMENTS}{uuid.uuid4()}/")

    assert json_error(response) == (404, "application/json", {"id"})


def test_get_malformed_id_is_json_404(client):
    response = client.get(f"{ASSESSMENTS}not-a-uuid/")

    assert json_error(response) == (404, "application/json", {"path"})


def test_unknown_api_path_is_json_404(client):
    response = client.get("/api/nothing-here/")

    assert json_error(response) == (404, "application/json", {"path"})


def test_unknown_api_path_names_path(client):
    assert client.get("/api/nothing-here/").json() == {
        "errors": {"path": "nothing at /api/nothing-here/"}
    }


def test_unknown_page_outside_api_is_not_json(client):
    response = client.get("/nothing-here/")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_get_latest_revision_by_default(client, revised):
    document = client.get(f"{ASSESSMENTS}{revised.pk}/").json()

    assert (document["revision"], document["recommendation"]) == (2, "sse")


def test_get_earlier_revision(client, revised, chat_answers):
    document = client.get(f"{ASSESSMENTS}{revised.pk}/?revision=1").json()

    assert (document["revision"], document["recommendation"], document["answers"]) == (
        1,
        "websocket",
        {**chat_answers, **DEFAULTS},
    )


def test_get_earlier_revision_keeps_its_title(client, created, dashboard_answers):
    assessment = Assessment.objects.get()
    assessment.revise("Ops dashboard", dashboard_answers)
    path = f"{ASSESSMENTS}{assessment.pk}/"

    titles = [client.get(path, query).json()["title"] for query in ({"revision": "1"}, {})]

    assert titles == ["Team chat", "Ops dashboard"]


def test_get_latest_revision_by_number(client, revised):
    path = f"{ASSESSMENTS}{revised.pk}/"

    assert client.get(f"{path}?revision=2").json() == client.get(path).json()


@pytest.mark.parametrize("revision", ["99", "0", "3"])
def test_get_unknown_revision_is_json_404(client, revised, revision):
    response = client.get(f"{ASSESSMENTS}{revised.pk}/?revision={revision}")

    assert json_error(response) == (404, "application/json", {"revision"})


@pytest.mark.parametrize("revision", ["abc", "", "-1", "1.0", " 1"])
def test_get_malformed_revision_is_json_400(client, revised, revision):
    response = client.get(f"{ASSESSMENTS}{revised.pk}/", {"revision": revision})

    assert json_error(response) == (400, "application/json", {"revision"})


# Past Python's 4,300-digit limit int() raises: a number that long was a 500.
@pytest.mark.parametrize("revision", ["1" * 10, "1" * 4301, "1" * 5000, "0" * 5000 + "1"])
def test_get_huge_revision_is_json_404(client, revised, revision):
    response = client.get(f"{ASSESSMENTS}{revised.pk}/", {"revision": revision})

    assert json_error(response) == (404, "application/json", {"revision"})


def test_get_huge_revision_error_does_not_echo_it_whole(client, revised):
    response = client.get(f"{ASSESSMENTS}{revised.pk}/", {"revision": "1" * 5000})

    assert len(response.json()["errors"]["revision"]) < 100


def test_get_huge_malformed_revision_is_json_400(client, revised):
    response = client.get(f"{ASSESSMENTS}{revised.pk}/", {"revision": "1" * 5000 + "x"})

    assert json_error(response) == (400, "application/json", {"revision"})


def test_get_superscript_revision_is_json_400(client, revised):
    response = client.get(f"{ASSESSMENTS}{revised.pk}/", {"revision": "²"})

    assert response.status_code == 400


def test_get_serves_stored_snapshot(client, created):
    revision = Assessment.objects.get().latest
    revision.result["pattern"]["title"] = "Stored, not re-scored"
    revision.save()

    document = client.get(created["Location"]).json()

    assert document["pattern"]["title"] == "Stored, not re-scored"


# --- Methods -------------------------------------------------------------------


def test_change_assessment_list_not_allowed(client):
    response = client.put(ASSESSMENTS)

    assert method_refusal(response) == (405, "GET, POST, HEAD", {"method"})


def test_post_questions_not_allowed(client):
    response = client.post("/api/questions/")

    assert method_refusal(response) == (405, "GET, HEAD", {"method"})


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_change_assessment_not_allowed(client, created, method):
    response = getattr(client, method)(created["Location"])

    assert method_refusal(response) == (405, "GET, HEAD", {"method"})


def test_post_questions_without_csrf_token_is_json_405():
    response = Client(enforce_csrf_checks=True).post("/api/questions/")

    assert (response.status_code, response["Content-Type"]) == (405, "application/json")


# Cross-site writes ---------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"],
)
def test_create_not_json_content_type_unsupported(client, chat_answers, content_type):
    # What a form on another site, or a no-cors fetch, can send without a preflight.
    body = json.dumps({"answers": chat_answers})
    response = client.post(ASSESSMENTS, data=body, content_type=content_type)

    assert rejection(response) == (415, {"body"}, 0)


@pytest.mark.django_db
@pytest.mark.parametrize("origin", ["https://evil.example", "http://127.0.0.1:1234", "null"])
def test_create_foreign_origin_forbidden(client, chat_answers, origin):
    response = client.post(
        ASSESSMENTS,
        data=json.dumps({"answers": chat_answers}),
        content_type="application/json",
        headers={"Origin": origin},
    )

    assert rejection(response) == (403, {"origin"}, 0)


@pytest.mark.django_db
def test_create_own_origin_created(client, chat_answers):
    response = client.post(
        ASSESSMENTS,
        data=json.dumps({"answers": chat_answers}),
        content_type="application/json",
        headers={"Origin": "http://testserver"},
    )

    assert response.status_code == 201
    assert Assessment.objects.count() == 1


@pytest.mark.django_db
def test_create_trusted_origin_created(client, chat_answers, settings):
    settings.CSRF_TRUSTED_ORIGINS = ["https://advisor.example.com"]
    response = client.post(
        ASSESSMENTS,
        data=json.dumps({"answers": chat_answers}),
        content_type="application/json",
        headers={"Origin": "https://advisor.example.com"},
    )

    assert response.status_code == 201


@pytest.mark.django_db
def test_create_untyped_body_unsupported(client, chat_answers):
    # A Blob posted by fetch() carries no Content-Type at all.
    body = json.dumps({"answers": chat_answers}).encode()
    response = client.generic("POST", ASSESSMENTS, body, content_type="")

    assert rejection(response) == (415, {"body"}, 0)


# --- POST /api/assessments/<id>/revisions/: the creation's checks, shared ------------------


@pytest.fixture
def revisions_url(client, chat_answers) -> str:
    # Anonymous mode is on in the suite: this browser (it opened a page, so it
    # sends our cookies) made it, and its session may revise it.
    client.get("/")
    created = post_json(client, {"title": "Team chat", "answers": chat_answers}).json()
    return f"{ASSESSMENTS}{created['id']}/revisions/"


BAD_DOCUMENTS = [
    {"title": "No answers"},
    {"answers": "chat"},
    {"answers": None},
    {"answers": {}},
    {"answers": {"client_messages": "nope"}},
    {"title": 5, "answers": {}},
    {"title": "x" * 201, "answers": {}},
    {"title": "a\x00b", "answers": {}},
    {"colour": "blue", "answers": {}},
    {"network_check": "not-a-uuid", "answers": {}},
    {"network_check": str(uuid.UUID(int=1)), "answers": {}},
]


@pytest.mark.parametrize("document", BAD_DOCUMENTS)
def test_revise_refuses_what_create_refuses(client, revisions_url, document):
    created = post_json(client, document)
    revised = client.post(revisions_url, json.dumps(document), content_type="application/json")

    assert (revised.status_code, revised.json()) == (created.status_code, created.json())


@pytest.mark.parametrize("document", BAD_DOCUMENTS)
def test_revise_refused_saves_nothing(client, revisions_url, document):
    client.post(revisions_url, json.dumps(document), content_type="application/json")

    assert Revision.objects.count() == 1


def test_revise_title_limit_same_as_create(client, revisions_url, chat_answers):
    document = {"title": "x" * 200, "answers": chat_answers}

    response = client.post(revisions_url, json.dumps(document), content_type="application/json")

    assert response.status_code == 201


def test_revise_body_too_large(client, revisions_url, chat_answers):
    body = json.dumps({"title": "x" * MAX_BODY, "answers": chat_answers})

    response = client.post(revisions_url, body, content_type="application/json")

    assert (response.status_code, Revision.objects.count()) == (413, 1)


def test_revise_not_json_content_type_415(client, revisions_url):
    response = client.post(revisions_url, "answers=x", content_type="text/plain")

    assert (response.status_code, Revision.objects.count()) == (415, 1)
