"""The portfolio: the page, its chart, and its JSON and CSV export."""

from __future__ import annotations

import csv
import io
import json
from xml.etree import ElementTree

import pytest
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext

from questionnaire import decisions
from questionnaire.models import Assessment, DecisionStatus, Review, Reviewer, Revision
from workspaces.models import Membership, Role
from workspaces.portfolio import CSV_FIELDS

pytestmark = pytest.mark.django_db

PAGE = "/workspaces/team/portfolio/"
CHART = "/workspaces/team/portfolio.svg"
API = "/api/portfolio/"
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def viewer(client, people):
    client.force_login(people[Role.VIEWER])
    return client


def add(workspace, title: str, answers, owner=None, **fields) -> Assessment:
    assessment, _ = Assessment.create_scored(title, answers, workspace=workspace, created_by=owner)
    if fields:
        Assessment.objects.filter(pk=assessment.pk).update(**fields)
        assessment.refresh_from_db()
    return assessment


def make_stale(assessment: Assessment, *, verdict_changes: bool) -> None:
    """Scored with catalogue 1 (the current one is newer); optionally with the other verdict."""
    revision = assessment.latest
    result = dict(revision.result)
    if verdict_changes:
        result["recommendation"] = (
            "sse" if result["recommendation"] == "websocket" else "websocket"
        )
    Revision.objects.filter(pk=revision.pk).update(catalogue_version="1", result=result)


@pytest.fixture
def portfolio(workspace, people, chat_answers, dashboard_answers) -> dict[str, Assessment]:
    """Four assessments, two of each verdict: one accepted, one stale, one would change."""
    chat = add(workspace, "Chat", chat_answers, people[Role.EDITOR])
    board = add(workspace, "Board", dashboard_answers, people[Role.OWNER])
    old = add(workspace, "Old chat", chat_answers, people[Role.EDITOR])
    flip = add(workspace, "Flipping board", dashboard_answers, people[Role.EDITOR])
    Reviewer.objects.create(assessment=board, user=people[Role.REVIEWER])
    Review.objects.create(
        assessment=board,
        revision=board.latest,
        reviewer=people[Role.REVIEWER],
        reviewer_name="reviewer",
        verdict="approve",
        # Accepted with it, as decisions.review records.
        counted_in_decision=True,
    )
    Assessment.objects.filter(pk=board.pk).update(status=DecisionStatus.ACCEPTED)
    make_stale(old, verdict_changes=False)
    Assessment.objects.filter(pk=old.pk).update(confidence="moderate")
    make_stale(flip, verdict_changes=True)
    return {"chat": chat, "board": board, "old": old, "flip": flip}


def titles(response) -> list[str]:
    """The titles in the page's table, in order."""
    html = response.content.decode()
    body = html.split('<table class="data-table portfolio">', 1)[1].split("</table>", 1)[0]
    found = []
    for chunk in body.split("<tr>")[2:]:
        found.append(chunk.split('">', 1)[1].split("</a>", 1)[0])
    return found


# --- The page ----------------------------------------------------------------------------------


def test_page_lists_every_assessment(viewer, portfolio):
    response = viewer.get(PAGE)

    assert response.status_code == 200
    assert sorted(titles(response)) == ["Board", "Chat", "Flipping board", "Old chat"]


def test_page_row_shows_the_decision(viewer, portfolio):
    html = viewer.get(f"{PAGE}?q=Board&sort=title").content.decode()
    row = html.split(f'href="/assessments/{portfolio["board"].pk}/"', 1)[1].split("</tr>", 1)[0]

    cells = [cell.split("</td>", 1)[0] for cell in row.split("<td>")[1:]]
    assert "Server-Sent Events" in cells[0]
    assert cells[3:6] == ["Accepted", "owner", "reviewer"]
    assert "Current" in cells[-1]


def test_page_flags_stale_and_changing_verdicts(viewer, portfolio):
    html = viewer.get(f"{PAGE}?sort=title").content.decode()

    assert "<strong>Verdict would change</strong>" in html
    assert html.count("<td>Stale</td>") == 1


def test_nav_links_the_portfolio(viewer, workspace):
    assert f'href="{PAGE}"' in viewer.get("/workspaces/team/").content.decode()


def test_page_escapes_titles(viewer, workspace, chat_answers):
    add(workspace, "<script>alert(1)</script>", chat_answers)

    html = viewer.get(PAGE).content.decode()

    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_page_of_an_empty_workspace(viewer, workspace):
    assert "No assessments in this workspace yet" in viewer.get(PAGE).content.decode()


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("sort=title", ["Board", "Chat", "Flipping board", "Old chat"]),
        ("sort=-title", ["Old chat", "Flipping board", "Chat", "Board"]),
        ("sort=status", ["Chat", "Flipping board", "Old chat", "Board"]),
        ("sort=-approvers", ["Board", "Chat", "Flipping board", "Old chat"]),
        ("sort=-stale", ["Flipping board", "Old chat", "Board", "Chat"]),
        ("sort=owner", ["Chat", "Flipping board", "Old chat", "Board"]),
    ],
)
def test_page_sorts(viewer, portfolio, query, expected):
    assert titles(viewer.get(f"{PAGE}?{query}")) == expected


def test_page_sorts_by_verdict(viewer, portfolio):
    got = titles(viewer.get(f"{PAGE}?sort=verdict"))

    assert set(got[:2]) == {"Board", "Flipping board"} and set(got[2:]) == {"Chat", "Old chat"}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("verdict=websocket", ["Chat", "Old chat"]),
        ("status=accepted", ["Board"]),
        ("stale=stale", ["Flipping board", "Old chat"]),
        ("stale=would_change", ["Flipping board"]),
        ("stale=current", ["Board", "Chat"]),
        ("owner=owner", ["Board"]),
        ("q=CHAT", ["Chat", "Old chat"]),
        ("verdict=sse&owner=editor", ["Flipping board"]),
    ],
)
def test_page_filters(viewer, portfolio, query, expected):
    assert titles(viewer.get(f"{PAGE}?{query}&sort=title")) == expected


def test_page_filters_by_confidence(viewer, portfolio):
    assert titles(viewer.get(f"{PAGE}?confidence=moderate")) == ["Old chat"]


def test_page_sorts_by_confidence(viewer, portfolio):
    assert titles(viewer.get(f"{PAGE}?sort=-confidence"))[0] == "Old chat"


def test_sort_links_keep_the_filters_and_reverse(viewer, portfolio):
    html = viewer.get(f"{PAGE}?verdict=sse&sort=title").content.decode()

    assert 'aria-sort="ascending"><a href="?verdict=sse&amp;sort=-title">' in html
    assert 'href="?verdict=sse&amp;sort=status"' in html


def test_export_links_carry_the_filters(viewer, portfolio):
    html = viewer.get(f"{PAGE}?verdict=sse").content.decode()

    assert (
        'href="/api/portfolio/?verdict=sse&amp;workspace=team&amp;format=csv">Export CSV' in html
    )
    assert 'href="/api/portfolio/?verdict=sse&amp;workspace=team">Export JSON' in html


@pytest.mark.parametrize(
    ("query", "field"),
    [("verdict=grpc", "verdict"), ("sort=colour", "sort"), ("stale=maybe", "stale")],
)
def test_page_unknown_filter_says_so(viewer, portfolio, query, field):
    response = viewer.get(f"{PAGE}?{query}")

    assert response.status_code == 400
    assert f"Unknown {field}" in response.content.decode()


def test_page_search_with_control_characters_says_so(viewer, portfolio):
    response = viewer.get(f"{PAGE}?q=%00")

    assert response.status_code == 400
    assert "control characters" in response.content.decode()


def test_page_queries_do_not_grow_with_the_portfolio(viewer, workspace, people, chat_answers):
    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert viewer.get(PAGE).status_code == 200
        return len(queries)

    add(workspace, "One", chat_answers, people[Role.EDITOR])
    few = count()
    for number in range(8):
        made = add(workspace, f"More {number}", chat_answers, people[Role.OWNER])
        Reviewer.objects.create(assessment=made, user=people[Role.REVIEWER])
        make_stale(made, verdict_changes=number % 2 == 0)

    assert count() == few


def test_page_is_for_members_only(client, people, portfolio):
    client.force_login(people["outsider"])

    assert client.get(PAGE).status_code == 404


# --- Approvers: the decision's own rule --------------------------------------------------------


def test_approvers_are_those_that_count(
    viewer, workspace, people, chat_answers, dashboard_answers
):
    assessment = add(workspace, "Chat", chat_answers, people[Role.EDITOR])
    for role in (Role.REVIEWER, Role.OWNER):
        Reviewer.objects.create(assessment=assessment, user=people[role])
    Review.objects.create(
        assessment=assessment,
        revision=assessment.latest,
        reviewer=people[Role.OWNER],
        reviewer_name="owner",
        verdict="approve",
    )
    assessment.revise("Chat", dashboard_answers)
    Review.objects.create(
        assessment=assessment,
        revision=assessment.latest,
        reviewer=people[Role.REVIEWER],
        reviewer_name="reviewer",
        verdict="approve",
    )
    expected = [each.reviewer for each in decisions.approvals(assessment) if each.counts]

    document = viewer.get(f"{API}?workspace=team").json()

    assert document["results"][0]["approvers"] == expected == ["reviewer"]


# --- The chart ---------------------------------------------------------------------------------


def test_chart_is_well_formed_svg_with_a_title(viewer, portfolio):
    response = viewer.get(CHART)

    root = ElementTree.fromstring(response.content)
    assert response["Content-Type"].startswith("image/svg+xml")
    assert root.tag == f"{SVG}svg"
    assert root.find(f"{SVG}title").text == "Verdicts and confidence in Team <b>One</b>"
    assert "4 current decisions in all" in root.find(f"{SVG}desc").text
    assert "superseded decisions not counted" in root.find(f"{SVG}desc").text


def test_chart_labels_every_bar_with_its_count(viewer, portfolio):
    root = ElementTree.fromstring(viewer.get(CHART).content)

    labels = [
        each.find(f"{SVG}title").text
        for each in root.iter(f"{SVG}g")
        if each.find(f"{SVG}title") is not None
    ]
    counts = {label.rsplit(": ", 1)[0]: int(label.rsplit(": ", 1)[1]) for label in labels}
    assert len(counts) == 6
    assert sum(counts.values()) == 4
    assert counts[f"Server-Sent Events, {portfolio['board'].confidence}"] >= 1


def test_page_has_the_chart_and_its_table(viewer, portfolio):
    html = viewer.get(PAGE).content.decode()

    assert f'<img src="{CHART}"' in html
    assert (
        "Verdicts and confidence of the 4 current decisions (superseded decisions not counted)"
        in html
    )


@pytest.fixture
def superseded(workspace, people, chat_answers, portfolio) -> Assessment:
    """A fifth assessment, an accepted decision that Board (accepted) replaced."""
    return add(
        workspace,
        "Retired chat",
        chat_answers,
        people[Role.EDITOR],
        status=DecisionStatus.SUPERSEDED,
        superseded_by=portfolio["board"],
    )


def test_chart_counts_current_decisions_only(viewer, superseded):
    root = ElementTree.fromstring(viewer.get(CHART).content)
    counts = [
        int(each.find(f"{SVG}title").text.rsplit(": ", 1)[1])
        for each in root.iter(f"{SVG}g")
        if each.find(f"{SVG}title") is not None
    ]

    assert sum(counts) == 4
    assert "4 current decisions in all" in root.find(f"{SVG}desc").text


def test_page_hides_superseded_decisions_unless_asked(viewer, superseded):
    default = viewer.get(f"{PAGE}?sort=title")
    html = default.content.decode()

    assert "Retired chat" not in titles(default)
    assert '<option value="">Any current (not superseded)</option>' in html
    assert '<option value="superseded">Superseded</option>' in html
    assert titles(viewer.get(f"{PAGE}?status=superseded")) == ["Retired chat"]
    assert "Retired chat" in titles(viewer.get(f"{PAGE}?status=all&sort=title"))


def test_api_names_the_successor_of_a_superseded_decision(viewer, portfolio, superseded):
    rows = viewer.get(f"{API}?status=all&sort=title").json()["results"]
    by_title = {row["title"]: row["superseded_by"] for row in rows}

    assert by_title["Retired chat"] == str(portfolio["board"].pk)
    assert by_title["Board"] is None
    assert viewer.get(API).json()["count"] == 4


def test_csv_names_the_successor_of_a_superseded_decision(viewer, portfolio, superseded):
    rows = read_csv(viewer.get(f"{API}?format=csv&status=superseded"))

    assert [(row["title"], row["superseded_by"]) for row in rows] == [
        ("Retired chat", str(portfolio["board"].pk))
    ]


def test_chart_is_for_members_only(client, people, portfolio):
    client.force_login(people["outsider"])

    assert client.get(CHART).status_code == 404


# --- JSON and CSV ------------------------------------------------------------------------------


def test_api_gives_the_token_workspace(client, people, portfolio, token_of, workspace):
    response = client.get(API, headers=token_of(people[Role.VIEWER], workspace))

    document = response.json()
    assert (document["workspace"], document["count"]) == ("team", 4)
    assert set(document["results"][0]) == set(CSV_FIELDS)


def test_api_row_fields(viewer, portfolio):
    row = viewer.get(f"{API}?q=Flipping").json()["results"][0]

    assert {key: row[key] for key in ("title", "verdict", "status", "owner", "stale")} == {
        "title": "Flipping board",
        "verdict": "sse",
        "status": "draft",
        "owner": "editor",
        "stale": True,
    }
    assert (row["would_change"], row["approvers"], row["revision"]) == (True, [], 1)
    assert row["url"] == f"http://testserver/assessments/{portfolio['flip'].pk}/"


def test_api_session_current_workspace(viewer, portfolio):
    assert viewer.get(API).json()["count"] == 4


def test_api_session_names_a_workspace_of_theirs(client, people, portfolio):
    client.force_login(people["outsider"])

    assert client.get(API).json()["count"] == 0
    assert client.get(f"{API}?workspace=team").status_code == 404


def test_api_unknown_workspace_is_the_same_404(client, people, portfolio):
    client.force_login(people["outsider"])

    theirs = client.get(f"{API}?workspace=team").json()
    unknown = client.get(f"{API}?workspace=nope").json()

    assert list(theirs["errors"]) == list(unknown["errors"]) == ["workspace"]


def test_api_token_of_another_workspace_is_404(client, people, portfolio, token_of):
    outsider = token_of(people["outsider"])

    assert client.get(f"{API}?workspace=team", headers=outsider).status_code == 404
    assert "Chat" not in client.get(API, headers=outsider).content.decode()


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("format=xml", "format"),
        ("status=done", "status"),
        ("sort=-", "sort"),
        ("q=" + "x" * 201, "q"),
    ],
)
def test_api_bad_query_is_400(viewer, portfolio, query, field):
    response = viewer.get(f"{API}?{query}")

    assert (response.status_code, list(response.json()["errors"])) == (400, [field])


def test_api_filters_and_sorts_as_the_page(viewer, portfolio):
    document = viewer.get(f"{API}?verdict=sse&sort=-title").json()

    assert [row["title"] for row in document["results"]] == ["Flipping board", "Board"]


def read_csv(response) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(response.content.decode())))


def test_csv_has_a_header_and_a_row_per_assessment(viewer, portfolio):
    response = viewer.get(f"{API}?format=csv&sort=title")

    rows = read_csv(response)
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="team-portfolio.csv"'
    assert next(csv.reader(io.StringIO(response.content.decode()))) == list(CSV_FIELDS)
    assert [row["title"] for row in rows] == ["Board", "Chat", "Flipping board", "Old chat"]
    assert (rows[0]["approvers"], rows[0]["status"], rows[2]["would_change"]) == (
        "reviewer",
        "accepted",
        "yes",
    )


@pytest.mark.parametrize("title", ['=HYPERLINK("http://x")', "+1", "-1+1", "@SUM(A1)"])
def test_csv_cells_never_start_a_formula(viewer, workspace, people, chat_answers, title):
    add(workspace, title, chat_answers, people[Role.EDITOR])

    rows = read_csv(viewer.get(f"{API}?format=csv"))

    assert rows[0]["title"] == f"'{title}"


def test_csv_keeps_commas_quotes_and_newlines(viewer, workspace, people, chat_answers):
    add(workspace, 'Chat, "the new one"', chat_answers, people[Role.EDITOR])

    assert read_csv(viewer.get(f"{API}?format=csv"))[0]["title"] == 'Chat, "the new one"'


def test_api_is_json_by_default(viewer, portfolio):
    response = viewer.get(API)

    assert response["Content-Type"] == "application/json"
    assert json.loads(response.content)["count"] == 4


def test_page_pages_keep_the_filters_and_sort(viewer, portfolio, monkeypatch):
    monkeypatch.setattr("workspaces.portfolio.ROWS_PER_PAGE", 2)

    first = viewer.get(f"{PAGE}?q=a&sort=title")
    second = viewer.get(f"{PAGE}?q=a&sort=title&page=2")

    assert titles(first) == ["Board", "Chat"]
    assert 'href="?q=a&amp;sort=title&amp;page=2">Next' in first.content.decode()
    assert titles(second) == ["Flipping board", "Old chat"]


@pytest.mark.parametrize("slug", ["te\x00am", "TEAM", "x" * 300])
def test_api_a_slug_no_workspace_can_have_is_the_same_404(viewer, portfolio, slug):
    response = viewer.get(API, {"workspace": slug})
    assert response.status_code == 404
    assert list(response.json()["errors"]) == ["workspace"]


@pytest.mark.parametrize(
    "address",
    ["/workspaces/team/portfolio/", "/workspaces/team/portfolio.svg", API, f"{API}?format=csv"],
)
def test_a_teams_portfolio_is_never_stored_by_a_cache(viewer, portfolio, address):
    response = viewer.get(address)
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]


def as_user(user):
    request = RequestFactory().post("/")
    request.user, request.session = user, {}
    return request


def test_a_taken_decision_lists_the_approvers_it_was_taken_with(
    viewer, people, workspace, chat_answers
):
    """As its page does: a reviewer who left later is still one who accepted it."""
    assessment = add(workspace, "Taken", chat_answers)
    decisions.request_review(as_user(people["editor"]), assessment, ["reviewer"])
    decisions.review(as_user(people["reviewer"]), assessment, "approve")
    Membership.objects.filter(user=people["reviewer"]).delete()

    (row,) = viewer.get(f"{API}?q=Taken").json()["results"]

    assert row["status"] == "accepted"
    assert row["approvers"] == ["reviewer"]
