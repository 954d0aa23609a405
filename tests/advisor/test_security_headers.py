"""The Content-Security-Policy of the pages, and nosniff on the static files.

The policy (advisor/settings.py) holds only while the templates have no
inline code or style for it to refuse: the scans below keep it that way.
The browser tests run every story under it (tests/conftest.py fails a test
on any violation the browser reports).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from asgiref.testing import ApplicationCommunicator
from django.conf import settings
from django.template import Context, Template
from django.test import override_settings

from advisor.asgi import application
from advisor.static_headers import StaticFileHeaders
from questionnaire.catalogue import get_catalogue
from questionnaire.models import Assessment
from questionnaire.scoring import evaluate

TEMPLATES = Path(settings.BASE_DIR) / "templates"
# The PDF report's template is rendered by WeasyPrint, never by a browser:
# its <style> (the page size, per request) meets no policy.
NOT_FOR_BROWSERS = {"questionnaire/report.html"}

POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self'",
    "connect-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'none'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}


def directives(header: str) -> dict[str, str]:
    parts = (part.strip().split(None, 1) for part in header.split(";") if part.strip())
    return dict(parts)


@pytest.fixture
def assessment(chat_answers) -> Assessment:
    return Assessment.create_scored("Team chat", chat_answers)[0]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url",
    [
        "/",
        "/assessments/new/",
        "/assessments/new/?preset=chat",
        "/demo/",
        "/network-check/",
        "/admin/login/",
    ],
)
def test_every_page_carries_the_policy(client, url):
    response = client.get(url)

    assert response.status_code == 200
    assert directives(response["Content-Security-Policy"]) == POLICY
    assert "Content-Security-Policy-Report-Only" not in response


@pytest.mark.django_db
def test_result_page_carries_the_policy(client, assessment):
    response = client.get(f"/assessments/{assessment.pk}/")

    assert response.status_code == 200
    assert directives(response["Content-Security-Policy"])["script-src"] == "'self'"
    assert directives(response["Content-Security-Policy"])["frame-ancestors"] == "'none'"


@pytest.mark.django_db
def test_htmx_partials_and_json_carry_the_policy_too(client):
    # Harmless on fragments and JSON, and a JSON answer opened as a page is a document.
    leaning = client.post("/assessments/leaning/", {"client_messages": "none"})
    api = client.get("/api/questions/")

    for response in (leaning, api):
        assert directives(response["Content-Security-Policy"]) == POLICY


@pytest.mark.django_db
def test_pdf_report_is_a_download_with_nosniff(client, assessment):
    response = client.get(f"/assessments/{assessment.pk}/report.pdf")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["X-Content-Type-Options"] == "nosniff"
    # No browser renders it as a page (an attachment), so the policy is
    # merely harmless here; it still forbids framing a PDF viewer.
    assert directives(response["Content-Security-Policy"])["frame-ancestors"] == "'none'"


# --- The templates ----------------------------------------------------------------


def without_comments(text: str) -> str:
    # Comments may name what they keep out ("no style=..."); browsers never see them.
    text = re.sub(r"{%\s*comment\s*%}.*?{%\s*endcomment\s*%}", "", text, flags=re.S)
    return re.sub(r"{#.*?#}", "", text)


def browser_templates() -> list[tuple[str, str]]:
    return [
        (name, without_comments(path.read_text()))
        for path in sorted(TEMPLATES.rglob("*.html"))
        if (name := path.relative_to(TEMPLATES).as_posix()) not in NOT_FOR_BROWSERS
    ]


def test_templates_are_found():
    names = [name for name, _ in browser_templates()]
    assert "_base.html" in names and "questionnaire/wizard.html" in names


@pytest.mark.parametrize(("name", "text"), browser_templates())
def test_template_has_no_inline_script(name, text):
    for tag, body in re.findall(r"(<script\b[^>]*>)(.*?)</script\s*>", text, re.S | re.I):
        assert "src=" in tag, f"{name}: inline <script> (the policy refuses it): {tag}"
        assert not body.strip(), f"{name}: code inside a <script src> tag: {body[:60]!r}"
    assert not re.search(r"<script\b(?![^>]*\bsrc=)", text, re.I), f"{name}: <script> without src"


@pytest.mark.parametrize(("name", "text"), browser_templates())
def test_template_has_no_inline_style(name, text):
    # style-src 'self': style="" attributes and <style> elements are refused.
    assert not re.search(r"\sstyle\s*=", text, re.I), f"{name}: a style= attribute"
    assert not re.search(r"<style\b", text, re.I), f"{name}: a <style> element"


@pytest.mark.parametrize(("name", "text"), browser_templates())
def test_template_has_no_code_in_attributes(name, text):
    # Inline handlers need 'unsafe-inline'; hx-on and js: values make htmx eval
    # code, which needs 'unsafe-eval'; javascript: URLs are inline script.
    assert not re.search(r"\son[a-z]+\s*=", text, re.I), f"{name}: an on...= handler"
    assert not re.search(r"\s(data-)?hx-on", text, re.I), f"{name}: an hx-on attribute"
    assert not re.search(r"\s(data-)?hx-(vals|vars)\s*=\s*['\"]\s*js:", text, re.I), name
    assert "javascript:" not in text.lower(), f"{name}: a javascript: URL"


@pytest.mark.parametrize("debug", [False, True])
def test_htmx_script_tag_emits_only_script_src(debug):
    # In DEBUG django-htmx adds its error-page helper, as a file too.
    with override_settings(DEBUG=debug):
        html = Template("{% load django_htmx %}{% htmx_script %}").render(Context())

    tags = re.findall(r"<script\b[^>]*>(.*?)</script>", html, re.S)
    assert len(tags) == (2 if debug else 1)
    assert all(body == "" for body in tags)
    assert all(src.startswith(settings.STATIC_URL) for src in re.findall(r'src="([^"]*)"', html))
    assert "nonce" not in html


def test_base_template_turns_off_htmx_indicator_style():
    text = (TEMPLATES / "_base.html").read_text()
    assert """<meta name="htmx-config" content='{"includeIndicatorStyles": false}'>""" in text


# --- The leaning bars, without style="" --------------------------------------------


@pytest.mark.parametrize(
    ("websocket", "sse", "share"),
    [(0, 0, 50), (3, 3, 50), (9, 0, 90), (0, 9, 10), (100, 0, 100), (0, 100, 0), (2, 1, 60)],
)
def test_websocket_share_is_a_step_of_five(websocket, sse, share):
    result = evaluate(get_catalogue(), {}, with_flips=False)
    result = type(result)(**{**vars(result), "scores": {"websocket": websocket, "sse": sse}})

    assert result.websocket_share == share


def test_every_share_has_its_class_in_the_stylesheet():
    css = (Path(settings.BASE_DIR) / "static/css/app.css").read_text()
    for share in range(0, 101, 5):
        assert f".ws-share-{share} .bar-websocket {{ flex-grow: {share}; }}" in css
        assert f".ws-share-{share} .bar-sse {{ flex-grow: {100 - share}; }}" in css


@pytest.mark.django_db
def test_leaning_bars_take_their_widths_from_a_class(client):
    answers = {"client_messages": "frequent", "upstream_latency": "realtime"}
    result = evaluate(get_catalogue(), answers, with_flips=False)

    response = client.post("/assessments/leaning/", answers)

    assert f'class="leaning-bars ws-share-{result.websocket_share}"' in response.text
    assert result.websocket_share > 50


# --- Static files -----------------------------------------------------------------


async def get(path: str, app=application) -> dict:
    """The response's start message, with the body joined.

    Not channels' HttpCommunicator: it requires a "body" in every body
    message, and Django ends a streamed file with a message without one.
    """
    scope = {
        "type": "http",
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [(b"host", b"testserver")],
    }
    communicator = ApplicationCommunicator(app, scope)
    await communicator.send_input({"type": "http.request", "body": b""})
    response = await communicator.receive_output(10)
    response["body"] = b""
    while True:
        message = await communicator.receive_output(10)
        response["body"] += message.get("body", b"")
        if not message.get("more_body"):
            await communicator.wait(10)
            return response


def header_values(response: dict, name: bytes) -> list[bytes]:
    return [value for key, value in response["headers"] if key.lower() == name]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "path", ["/static/css/app.css", "/static/js/app.js", "/static/favicon.svg"]
)
async def test_static_files_carry_nosniff(path):
    assert settings.SERVE_STATIC  # the application serves them itself

    response = await get(path)

    assert response["status"] == 200
    assert header_values(response, b"x-content-type-options") == [b"nosniff"]
    # A script or stylesheet takes no policy from its own response.
    assert header_values(response, b"content-security-policy") == []


@pytest.mark.asyncio
async def test_a_missing_static_file_carries_nosniff_too():
    response = await get("/static/js/no-such-file.js")

    assert response["status"] == 404
    assert header_values(response, b"x-content-type-options") == [b"nosniff"]


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_pages_through_the_same_application_keep_one_nosniff_and_the_policy():
    response = await get("/demo/")

    assert response["status"] == 200
    assert header_values(response, b"x-content-type-options") == [b"nosniff"]
    (policy,) = header_values(response, b"content-security-policy")
    assert directives(policy.decode()) == POLICY


@pytest.mark.asyncio
async def test_static_wrapper_replaces_a_header_rather_than_doubling_it():
    async def static_app(scope, receive, send):
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"Content-Type", b"text/css"), (b"X-Content-Type-Options", b"x")],
            }
        )
        await send({"type": "http.response.body", "body": b""})

    response = await get("/static/x.css", StaticFileHeaders(static_app))

    assert header_values(response, b"x-content-type-options") == [b"nosniff"]
    assert header_values(response, b"content-type") == [b"text/css"]


@pytest.mark.asyncio
async def test_static_wrapper_leaves_other_paths_alone():
    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    response = await get("/demo/", StaticFileHeaders(app))

    assert response["headers"] == []
