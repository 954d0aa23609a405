"""The decision record (ADR): MADR's sections, approvals, inert user text, access; the PDF's."""

# The workspace fixtures are imported to be shared, which ruff reads as redefinitions.
# ruff: noqa: F811

from __future__ import annotations

import json
import re

import pytest
from django.test import RequestFactory
from django.utils import timezone
from markdown_it import MarkdownIt

from questionnaire import decisions, report
from questionnaire.adr import inline, lines
from questionnaire.catalogue import get_catalogue
from questionnaire.models import Assessment, DecisionStatus, Review, ShareLink
from tests.questionnaire.test_report import missing, pdf_text
from tests.workspaces.conftest import people, signed_in, token_of, workspace  # noqa: F401
from workspaces.models import ApiToken

pytestmark = pytest.mark.django_db

PRESETS = [preset.slug for preset in get_catalogue().presets]
# MADR's sections, in its template's order, as this record fills them.
SECTIONS_BEFORE_CHECKLISTS = [
    ("h2", "Context and Problem Statement"),
    ("h2", "Decision Drivers"),
    ("h2", "Considered Options"),
    ("h2", "Decision Outcome"),
    ("h3", "Consequences"),
]
SECTIONS_AFTER_CHECKLISTS = [
    ("h2", "Pros and Cons of the Options"),
    ("h3", "WebSocket"),
    ("h3", "Server-Sent Events (SSE)"),
    ("h2", "More Information"),
    ("h3", "Approvals"),
    ("h3", "Discussion"),
    ("h3", "What would change the decision"),
]
HOSTILE_TITLE = (
    "<script>alert(1)</script> # x [x](javascript:alert(1)) ![i](https://evil.example/i.png) "
    "*bold* `code` https://evil.example www.evil.example me@evil.example &amp; | a | b |"
)
HOSTILE_COMMENT = (
    "Fine by me\n# Heading\n- item\n1. first\n    indented code\n```\nfence\n```\n"
    "<img src=x onerror=alert(1)>\n[x](javascript:alert(1))\nhttps://evil.example\n---\n"
    "> quoted\n[ref]: https://evil.example"
)


def parser() -> MarkdownIt:
    """CommonMark (raw HTML on, as GitHub's is before it sanitises) with GitHub's tables."""
    return MarkdownIt("commonmark").enable(["table", "strikethrough"])


def split(markdown: str) -> tuple[dict, str]:
    """The front matter (each value JSON, which YAML reads as is) and the body."""
    assert markdown.startswith("---\n"), markdown[:80]
    head, _, body = markdown[4:].partition("\n---\n")
    meta = {}
    for line in head.splitlines():
        key, _, value = line.partition(": ")
        meta[key] = json.loads(value)
    return meta, body


def headings(body: str) -> list[tuple[str, str]]:
    tokens = parser().parse(body)
    return [
        (token.tag, tokens[index + 1].content)
        for index, token in enumerate(tokens)
        if token.type == "heading_open"
    ]


def as_user(user):
    request = RequestFactory().post("/")
    request.user = user
    return request


def adr(client, assessment, query: str = "") -> str:
    response = client.get(f"/assessments/{assessment.pk}/adr.md{query}")
    assert response.status_code == 200, response.content[:300]
    return response.content.decode()


@pytest.fixture
def decision(workspace, people, chat_answers) -> Assessment:
    """Team chat, accepted: the reviewer asked for changes, then the owner approved."""
    workspace.required_approvals = 1
    workspace.save()
    assessment, _ = Assessment.create_scored(
        "Team chat", chat_answers, workspace=workspace, created_by=people["editor"]
    )
    decisions.request_review(as_user(people["editor"]), assessment, ["owner", "reviewer"])
    decisions.review(as_user(people["reviewer"]), assessment, "request_changes", "Add resume")
    decisions.request_review(as_user(people["editor"]), assessment, ["reviewer"])
    decisions.review(as_user(people["owner"]), assessment, "approve", "Looks right")
    assessment.refresh_from_db()
    return assessment


# --- MADR's sections, for every preset ---------------------------------------------


@pytest.mark.parametrize("slug", PRESETS)
def test_adr_has_madrs_sections_in_order(client, settings, catalogue, slug):
    settings.ADVISOR_ANONYMOUS = True
    preset = catalogue.preset(slug)
    assessment, revision = Assessment.create_scored(preset.title, dict(preset.answers))

    meta, body = split(adr(client, assessment))

    found = headings(body)
    name = catalogue.transport_names[revision.result["recommendation"]]
    assert found[0] == ("h1", f"{preset.title}: {name}")
    checklists = len(found) - 1 - len(SECTIONS_BEFORE_CHECKLISTS) - len(SECTIONS_AFTER_CHECKLISTS)
    assert found[1 : 1 + len(SECTIONS_BEFORE_CHECKLISTS)] == SECTIONS_BEFORE_CHECKLISTS
    # An implementation and a security list per transport the pattern builds on.
    assert checklists in {2, 4}
    assert all(
        tag == "h4"
        and text.endswith(("checklist: WebSocket", "checklist: Server-Sent Events (SSE)"))
        for tag, text in found[6 : 6 + checklists]
    )
    assert found[6 + checklists :] == SECTIONS_AFTER_CHECKLISTS
    assert meta == {"status": "draft", "date": revision.created_at.date().isoformat()}


@pytest.mark.parametrize("slug", PRESETS)
def test_adr_decision_outcome_names_the_chosen_option_and_pattern(
    client, settings, catalogue, slug
):
    settings.ADVISOR_ANONYMOUS = True
    preset = catalogue.preset(slug)
    assessment, revision = Assessment.create_scored(preset.title, dict(preset.answers))

    body = adr(client, assessment)

    result = revision.result
    name = catalogue.transport_names[result["recommendation"]]
    assert f"Chosen option: “{name}”, because " in body
    assert f"Delivery pattern: **{inline(result['pattern']['title'])}**" in body
    for caveat in result["caveats"]:
        assert inline(caveat["title"]) in body
    for item in result["checklist"]["implementation"] + result["checklist"]["security"]:
        assert f"* [ ] {inline(item)}" in body


def test_adr_drivers_are_the_strongest_answers_for_the_chosen_option(client, settings, catalogue):
    settings.ADVISOR_ANONYMOUS = True
    assessment, revision = Assessment.create_scored("Chat", dict(catalogue.preset("chat").answers))

    body = adr(client, assessment)

    drivers = body.split("## Decision Drivers")[1].split("## Considered Options")[0]
    favouring = [
        reason
        for reason in revision.result["reasons"]
        if reason["favours"] == revision.result["recommendation"]
    ]
    listed = [line for line in drivers.splitlines() if line.startswith("* ")]
    assert len(listed) == min(len(favouring), 5)
    for line, reason in zip(listed, favouring, strict=False):
        assert inline(reason["question_text"]) in line
        assert inline(reason["answer_label"]) in line


def test_adr_of_a_tie_names_the_tie_break_rule(client, settings, chat_answers):
    settings.ADVISOR_ANONYMOUS = True
    tie = {**chat_answers, "upstream_latency": "relaxed", "load_balancer": "http_only"}
    assessment, revision = Assessment.create_scored("Tied", tie)
    assert revision.result["scores"]["websocket"] == revision.result["scores"]["sse"]

    body = adr(client, assessment)

    drivers = body.split("## Decision Drivers")[1].split("## Considered Options")[0]
    assert "* A tie: the tie-break rule gives a tie to SSE, the simpler of the two" in drivers
    assert "Chosen option: “Server-Sent Events (SSE)”, because both score" in body


def test_adr_is_markdown_to_download(client, settings, chat_answers):
    settings.ADVISOR_ANONYMOUS = True
    assessment, _ = Assessment.create_scored("Team chat: mobile", chat_answers)

    response = client.get(f"/assessments/{assessment.pk}/adr.md")

    assert response["Content-Type"] == "text/markdown; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="0001-team-chat-mobile.md"'
    assert "no-store" in response["Cache-Control"]


def test_adr_number_is_the_assessments_place_in_its_workspace(
    client, workspace, people, chat_answers
):
    for title in ("First", "Second"):
        latest, _ = Assessment.create_scored(title, chat_answers, workspace=workspace)

    response = signed_in(client, people["viewer"]).get(f"/assessments/{latest.pk}/adr.md")

    assert response["Content-Disposition"] == 'attachment; filename="0002-second.md"'


def test_adr_links_back_to_the_assessment(client, settings, chat_answers):
    settings.ADVISOR_ANONYMOUS = True
    assessment, _ = Assessment.create_scored("Team chat", chat_answers)

    body = adr(client, assessment)

    tokens = parser().parse(body)
    hrefs = [
        child.attrs["href"]
        for token in tokens
        if token.children
        for child in token.children
        if child.type == "link_open"
    ]
    assert f"http://testserver/assessments/{assessment.pk}/" in hrefs


# --- The decision: status and approvals ---------------------------------------------


def test_adr_states_the_accepted_decision_and_who_took_it(client, people, decision):
    meta, body = split(adr(signed_in(client, people["viewer"]), decision))

    assert meta["status"] == "accepted"
    assert meta["date"] == decision.status_changed_at.date().isoformat()
    # The reviewer whose approval took it decides; the requester and the
    # reviewer who asked for changes were consulted.
    assert meta["decision-makers"] == ["owner"]
    assert meta["consulted"] == ["editor", "reviewer"]
    approvals = body.split("### Approvals")[1]
    accepted = decision.status_changed_at
    assert (
        f"Accepted on {accepted:%Y-%m-%d} with 1 of 1 required approval of revision 1. "
        "Review requested by **editor**."
    ) in approvals


def test_adr_lists_every_review_with_name_date_revision_and_standing(client, people, decision):
    body = adr(signed_in(client, people["viewer"]), decision)

    reviews = decision.reviews.order_by("created_at", "id")
    changes, approval = reviews
    assert (
        f"* **reviewer** requested changes to revision 1 on "
        f"{changes.created_at:%Y-%m-%d %H:%M} UTC:\\\n  Add resume"
    ) in body
    assert (
        f"* **owner** approved revision 1 on {approval.created_at:%Y-%m-%d %H:%M} UTC "
        "(counted):\\\n  Looks right"
    ) in body


def test_adr_approval_of_an_earlier_revision_is_not_counted(
    client, people, decision, dashboard_answers
):
    decision.revise("Team chat", dashboard_answers)
    decisions.revised(None, decision)

    meta, body = split(adr(signed_in(client, people["viewer"]), decision))

    assert meta["status"] == "proposed"
    assert "approved revision 1 on" in body
    assert "(not counted: an earlier revision)" in body
    assert "Status: In review. 0 of 1 required approval of the latest revision, revision 2." in (
        body
    )


def test_adr_of_an_earlier_revision_is_superseded_by_the_latest(
    client, people, decision, dashboard_answers
):
    decision.revise("Team dashboard", dashboard_answers)
    decisions.revised(None, decision)

    meta, body = split(adr(signed_in(client, people["viewer"]), decision, "?revision=1"))

    assert meta["status"] == "superseded by revision 2"
    assert headings(body)[0] == ("h1", "Team chat: WebSocket")
    assert "this record is of revision 1 of 2" in body


def test_adr_of_a_superseded_decision_names_its_successor(
    client, workspace, people, decision, chat_answers
):
    accepted = decision.status_changed_at
    newer, _ = Assessment.create_scored("Team chat v2", chat_answers, workspace=workspace)
    Assessment.objects.filter(pk=newer.pk).update(status=DecisionStatus.ACCEPTED)
    decisions.supersede(as_user(people["owner"]), decision, newer)
    decision.refresh_from_db()

    meta, body = split(adr(signed_in(client, people["viewer"]), decision))

    assert meta["status"] == "superseded by 0002-team-chat-v2.md"
    # It still says that it was accepted, when and how, read from the audit log.
    assert (
        f"Accepted on {accepted:%Y-%m-%d} with 1 of 1 required approval of revision 1; "
        f"superseded by “Team chat v2” on {decision.status_changed_at:%Y-%m-%d}."
    ) in body.split("### Approvals")[1]
    assert meta["decision-makers"] == ["owner"]
    assert (
        f"Superseded by [0002-team-chat-v2.md](<http://testserver/assessments/{newer.pk}/>)"
        in (body)
    )
    newer_body = adr(client, newer)
    assert f"Supersedes [0001-team-chat.md](<http://testserver/assessments/{decision.pk}/>)" in (
        newer_body
    )


def test_adr_of_a_draft_without_reviews(client, workspace, people, chat_answers):
    assessment, _ = Assessment.create_scored("Team chat", chat_answers, workspace=workspace)

    meta, body = split(adr(signed_in(client, people["viewer"]), assessment))

    assert meta["status"] == "draft"
    assert "decision-makers" not in meta
    assert "No reviews yet." in body


def test_adr_outside_a_workspace_is_a_draft_nobody_reviews(client, settings, chat_answers):
    settings.ADVISOR_ANONYMOUS = True
    assessment, _ = Assessment.create_scored("Team chat", chat_answers)

    meta, body = split(adr(client, assessment))

    assert meta["status"] == "draft"
    assert "not in a workspace, so nobody reviews or signs it off" in body


# --- User text stays text ------------------------------------------------------------


def test_hostile_title_and_comment_come_out_inert(client, workspace, people, chat_answers):
    assessment, _ = Assessment.create_scored(HOSTILE_TITLE, chat_answers, workspace=workspace)
    decisions.request_review(as_user(people["editor"]), assessment, ["owner"])
    given = decisions.review(
        as_user(people["owner"]), assessment, "approve", " ".join(HOSTILE_COMMENT.split("\n"))
    )
    # The service takes one line today; the record must hold up to any text the model stores.
    Review.objects.filter(pk=given.pk).update(comment=HOSTILE_COMMENT)

    markdown = adr(signed_in(client, people["viewer"]), assessment)
    _, body = split(markdown)

    tokens = parser().parse(body)
    flat = [*tokens, *(child for token in tokens for child in token.children or [])]
    assert not [token for token in flat if token.type.startswith("html")]
    assert not [token for token in flat if token.type in {"code_block", "fence", "image"}]
    hrefs = {token.attrs["href"] for token in flat if token.type == "link_open"}
    assert all(href.startswith("https://") for href in hrefs - {assessment_url(assessment)})
    assert not [href for href in hrefs if "evil" in href or "javascript" in href]
    # The comment's lines stay in its list item: no heading, quote, rule or list of its own.
    assert [heading for heading in headings(body) if "Heading" in heading[1]] == []
    assert not [token for token in tokens if token.type in {"blockquote_open", "hr"}]
    html = parser().render(body)
    assert "&lt;script&gt;alert(1)&lt;/script&gt; # x [x](javascript:alert(1))" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "# Heading" in html and "- item" in html and "1. first" in html
    # GitHub links bare URLs, www. names and e-mail addresses it finds in the source.
    for autolinked in ("https://evil", "www.evil", "me@evil"):
        assert autolinked not in markdown


def assessment_url(assessment) -> str:
    return f"http://testserver/assessments/{assessment.pk}/"


@pytest.mark.parametrize(
    ("text", "markdown"),
    [
        ("<b>x</b>", "\\<b\\>x\\</b\\>"),
        ("# x", "\\# x"),
        ("- x", "\\- x"),
        ("12) x", "12\\) x"),
        ("a - b (c)", "a - b (c)"),
        ("[x](javascript:y)", "\\[x\\](javascript:y)"),
        ("see http://a.example", "see http\\://a.example"),
        ("www.a.example", "www\\.a.example"),
        ("a@b.example", "a\\@b.example"),
        (
            "$x$ ~y~ |z| `w` *v* _u_ &amp; \\",
            "\\$x\\$ \\~y\\~ \\|z\\| \\`w\\` \\*v\\* \\_u\\_ \\&amp; \\\\",
        ),
        ("two\nlines", "two lines"),
    ],
)
def test_inline_escapes_what_would_be_markdown(text, markdown):
    assert inline(text) == markdown


def test_lines_keep_line_breaks_inside_the_item():
    assert lines("a\n\n  - b\n", "  ") == "a\\\n  \\- b"


# --- Access -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "expected"),
    [("owner", 200), ("editor", 200), ("reviewer", 200), ("viewer", 200), ("outsider", 404)],
)
def test_adr_page_route_follows_the_access_policy(client, people, decision, who, expected):
    response = signed_in(client, people[who]).get(f"/assessments/{decision.pk}/adr.md")

    assert response.status_code == expected


def test_adr_page_route_asks_to_sign_in(client, settings, decision):
    settings.ADVISOR_ANONYMOUS = False

    response = client.get(f"/assessments/{decision.pk}/adr.md")

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


@pytest.mark.parametrize(("query", "expected"), [("?revision=1", 200), ("?revision=2", 404)])
def test_adr_page_route_revision(client, people, decision, query, expected):
    response = signed_in(client, people["viewer"]).get(f"/assessments/{decision.pk}/adr.md{query}")

    assert response.status_code == expected


def test_adr_for_a_share_link_holder(client, decision):
    _, secret = ShareLink.issue(decision)

    response = client.get(f"/shared/{secret}/adr.md")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/markdown; charset=utf-8"
    # The record links to the assessment's own page: the secret is never in it.
    assert secret not in response.content.decode()
    assert assessment_url(decision) in response.content.decode()


def test_adr_for_a_revoked_share_link_is_not_found(client, decision):
    link, secret = ShareLink.issue(decision)
    ShareLink.objects.filter(pk=link.pk).update(revoked_at=timezone.now())

    assert client.get(f"/shared/{secret}/adr.md").status_code == 404


def test_api_adr_is_markdown(client, people, decision, token_of):
    response = client.get(
        f"/api/assessments/{decision.pk}/adr/", headers=token_of(people["viewer"])
    )

    assert response.status_code == 200
    assert response["Content-Type"] == "text/markdown; charset=utf-8"
    # A team's decision: no cache keeps it once the token is revoked.
    assert "no-store" in response["Cache-Control"]
    meta, _ = split(response.content.decode())
    assert meta["status"] == "accepted"


def test_api_adr_of_an_earlier_revision(client, people, decision, token_of, dashboard_answers):
    decision.revise("Team dashboard", dashboard_answers)

    response = client.get(
        f"/api/assessments/{decision.pk}/adr/?revision=1", headers=token_of(people["viewer"])
    )

    assert headings(split(response.content.decode())[1])[0] == ("h1", "Team chat: WebSocket")


@pytest.mark.parametrize(("query", "status"), [("?revision=7", 404), ("?revision=x", 400)])
def test_api_adr_refuses_a_bad_revision_in_json(client, people, decision, token_of, query, status):
    response = client.get(
        f"/api/assessments/{decision.pk}/adr/{query}", headers=token_of(people["viewer"])
    )

    assert response.status_code == status
    assert set(response.json()["errors"]) == {"revision"}


def test_api_adr_refusals_are_json(client, settings, people, decision, token_of):
    settings.ADVISOR_ANONYMOUS = False
    url = f"/api/assessments/{decision.pk}/adr/"
    outsider = token_of(people["outsider"])
    revoked = token_of(people["viewer"])
    ApiToken.objects.filter(user=people["viewer"]).update(revoked_at=timezone.now())

    unauthenticated = client.get(url)
    other_workspace = client.get(url, headers=outsider)
    unknown = client.get(
        "/api/assessments/00000000-0000-0000-0000-000000000000/adr/", headers=outsider
    )

    assert unauthenticated.status_code == 401
    assert set(unauthenticated.json()["errors"]) == {"auth"}
    assert other_workspace.status_code == 404
    # Another workspace's record cannot be told from none.
    assert other_workspace.json()["errors"].keys() == unknown.json()["errors"].keys() == {"id"}
    assert client.get(url, headers=revoked).status_code == 401


def test_api_adr_takes_only_get(client, people, decision, token_of):
    response = client.post(
        f"/api/assessments/{decision.pk}/adr/",
        "{}",
        content_type="application/json",
        headers=token_of(people["editor"]),
    )

    assert response.status_code == 405
    assert set(response.json()["errors"]) == {"method"}


# --- The result page and the PDF ---------------------------------------------------------


def test_result_page_links_to_the_adr(client, people, decision, dashboard_answers):
    decision.revise("Team dashboard", dashboard_answers)
    signed_in(client, people["viewer"])

    latest = client.get(f"/assessments/{decision.pk}/").content.decode()
    earlier = client.get(f"/assessments/{decision.pk}/?revision=1").content.decode()

    assert re.search(
        rf'href="/assessments/{decision.pk}/adr.md"[^>]*>Download ADR \(Markdown\)', latest
    )
    assert f'href="/assessments/{decision.pk}/adr.md?revision=1"' in earlier


def test_shared_page_links_to_the_shared_adr(client, decision):
    _, secret = ShareLink.issue(decision)

    page = client.get(f"/shared/{secret}/").content.decode()

    assert f'href="/shared/{secret}/adr.md"' in page


def test_pdf_states_the_decision_and_its_approvals(client, people, decision):
    response = signed_in(client, people["viewer"]).get(f"/assessments/{decision.pk}/report.pdf")

    text = pdf_text(response.content)
    approved = decision.reviews.get(verdict="approve").created_at
    assert not missing(
        text,
        "Decision: Accepted",
        "Decision and sign-off",
        f"Accepted on {decision.status_changed_at:%Y-%m-%d} with 1 of 1 required approval of "
        "revision 1",
        "review requested by editor",
        f"owner approved revision 1, {approved:%-d %B %Y, %H:%M} UTC (counted)",
        "Looks right",
        "reviewer requested changes to revision 1",
    )


def test_pdf_outside_a_workspace_says_nobody_reviews_it(client, settings, chat_answers):
    settings.ADVISOR_ANONYMOUS = True
    assessment, _ = Assessment.create_scored("Team chat", chat_answers)

    text = pdf_text(client.get(f"/assessments/{assessment.pk}/report.pdf").content)

    assert not missing(text, "Decision: Draft", "nobody reviews or signs it off")


# --- Consequences, discussion, who decided, supersession ------------------------------


def test_adr_consequences_are_good_then_bad(client, settings, catalogue):
    settings.ADVISOR_ANONYMOUS = True
    assessment, revision = Assessment.create_scored("Chat", dict(catalogue.preset("chat").answers))
    result = revision.result

    body = adr(client, assessment)

    tokens = parser().parse(body.split("### Consequences")[1].split("####")[0])
    items = [token.content for token in tokens if token.type == "inline"]
    kinds = [item.split(",")[0] for item in items]
    assert kinds == sorted(kinds, key=["Good", "Bad"].index)
    favouring = [reason for reason in result["reasons"] if reason["favours"] == "websocket"]
    good = [item for item in items if item.startswith("Good, because ")]
    assert len(good) == 3
    # The strongest reasons, as clauses: "because continuous upstream traffic needs …".
    assert good[0].startswith("Good, because continuous upstream traffic needs")
    for item, reason in zip(good, favouring, strict=False):
        assert f"(“{reason['question_text']}”: {reason['answer_label']})" in item
    assert len(kinds) - len(good) == len(result["caveats"])


def test_adr_and_pdf_hold_the_discussion_oldest_first(client, people, decision):
    decisions.add_comment(as_user(people["editor"]), decision, "First point\nSecond line")
    decisions.add_comment(as_user(people["viewer"]), decision, "Agreed")
    first, second = decision.comments.order_by("created_at", "id")
    signed_in(client, people["viewer"])

    meta, body = split(adr(client, decision))
    text = pdf_text(client.get(f"/assessments/{decision.pk}/report.pdf").content)

    discussion = body.split("### Discussion")[1].split("### What would change")[0]
    assert discussion.strip().splitlines() == [
        f"* **editor** on {first.created_at:%Y-%m-%d %H:%M} UTC, on revision 1:\\",
        "  First point\\",
        "  Second line",
        f"* **viewer** on {second.created_at:%Y-%m-%d %H:%M} UTC, on revision 1:\\",
        "  Agreed",
    ]
    assert meta["consulted"] == ["editor", "reviewer", "viewer"]
    assert not missing(
        text,
        "Discussion",
        f"editor, {first.created_at:%-d %B %Y, %H:%M} UTC, on revision 1",
        "First point",
        "Second line",
        f"viewer, {second.created_at:%-d %B %Y, %H:%M} UTC, on revision 1",
        "Agreed",
    )


def test_hostile_comment_in_the_discussion_comes_out_inert(client, people, decision):
    decisions.add_comment(as_user(people["editor"]), decision, HOSTILE_COMMENT)

    _, body = split(adr(signed_in(client, people["viewer"]), decision))

    discussion = body.split("### Discussion")[1].split("### What would change")[0]
    tokens = parser().parse(discussion)
    flat = [*tokens, *(child for token in tokens for child in token.children or [])]
    assert [token.type for token in tokens if token.type.endswith("_open")] == [
        "bullet_list_open",
        "list_item_open",
        "paragraph_open",
    ]
    assert not [token for token in flat if token.type.startswith("html")]
    assert not [token for token in flat if token.type in {"link_open", "image", "fence"}]
    assert "&lt;img src=x onerror=alert(1)&gt;" in parser().render(discussion)


def test_adr_of_an_undecided_decision_names_every_reviewer_as_decision_maker(
    client, workspace, people, chat_answers
):
    assessment, _ = Assessment.create_scored("Team chat", chat_answers, workspace=workspace)
    decisions.request_review(as_user(people["editor"]), assessment, ["owner", "reviewer"])

    meta, _ = split(adr(signed_in(client, people["viewer"]), assessment))

    assert meta["status"] == "proposed"
    assert meta["decision-makers"] == ["owner", "reviewer"]
    assert meta["consulted"] == ["editor"]


def test_taken_decision_keeps_the_rule_it_was_taken_under(client, workspace, people, decision):
    workspace.required_approvals = 2
    workspace.save()
    signed_in(client, people["viewer"])

    body = adr(client, decision)
    text = pdf_text(client.get(f"/assessments/{decision.pk}/report.pdf").content)

    assert "with 1 of 1 required approval of revision 1." in body
    assert not missing(text, "1 of 1 required approval of revision 1")


@pytest.fixture
def superseded(workspace, people, decision, chat_answers) -> Assessment:
    """Team chat v2 (accepted) supersedes the decision fixture's Team chat."""
    newer, _ = Assessment.create_scored("Team chat v2", chat_answers, workspace=workspace)
    Assessment.objects.filter(pk=newer.pk).update(status=DecisionStatus.ACCEPTED)
    decisions.supersede(as_user(people["owner"]), decision, newer)
    return newer


def test_shared_adr_names_no_other_assessment(client, decision, superseded):
    _, old_secret = ShareLink.issue(decision)
    _, new_secret = ShareLink.issue(superseded)

    old = client.get(f"/shared/{old_secret}/adr.md")
    new = client.get(f"/shared/{new_secret}/adr.md")

    assert old["Content-Disposition"] == 'attachment; filename="adr-team-chat.md"'
    assert new["Content-Disposition"] == 'attachment; filename="adr-team-chat-v2.md"'
    old_meta, old_body = split(old.content.decode())
    _, new_body = split(new.content.decode())
    assert old_meta["status"] == "superseded"
    assert "Superseded by another decision of this workspace." in old_body
    assert "; superseded by another decision of this workspace on " in old_body
    assert "Supersedes one or more earlier decisions of this workspace." in new_body
    assert "Team chat v2" not in old_body and str(superseded.pk) not in old_body
    assert "“Team chat”" not in new_body and str(decision.pk) not in new_body
    for body in (old_body, new_body):
        # A record's number starts a file name; a random id may hold "-0001-" (not a leak).
        assert not re.search(r"(?<![0-9a-f-])000[12]-", body), body


def test_members_adr_still_names_the_other_assessment(client, people, decision, superseded):
    body = adr(signed_in(client, people["viewer"]), superseded)

    assert f"Supersedes [0001-team-chat.md](<http://testserver/assessments/{decision.pk}/>)" in (
        body
    )


def test_shared_pdf_names_no_other_assessment(client, people, decision, superseded):
    _, secret = ShareLink.issue(decision)

    shared = pdf_text(client.get(f"/shared/{secret}/report.pdf").content)
    member = pdf_text(
        signed_in(client, people["viewer"]).get(f"/assessments/{decision.pk}/report.pdf").content
    )

    assert "Team chat v2" not in shared
    assert not missing(shared, "Superseded by another decision of this workspace")
    assert not missing(member, "Superseded by “Team chat v2”", "superseded by “Team chat v2” on")


def test_report_of_a_discussed_decision_renders_without_a_query(
    people, decision, django_assert_num_queries
):
    decisions.add_comment(as_user(people["editor"]), decision, "Ship it")
    revisions = list(decision.revisions.select_related("network_check"))
    context = report.report_context(
        "Team chat", revisions, revisions[-1], decisions.panel_context(decision)["decision"]
    )

    with django_assert_num_queries(0):
        pdf = report.render_report(context, report.DEFAULT_PAPER)

    assert "Ship it" in pdf_text(pdf)
