"""Cached result pages and PDF reports: what they serve is what a fresh render gives.

The renders cache (questionnaire/snapshot.py, report_cache.py) must never
show an old decision, an old revision or the last release's templates, and
never answer anyone the access policy refuses.
"""

# The workspace fixtures are imported to be shared, which ruff reads as redefinitions.
# ruff: noqa: F811

from __future__ import annotations

import asyncio
import gc
import json
import multiprocessing
import os
import re
import signal
import threading
import uuid
import weakref
from types import SimpleNamespace

import pytest
import weasyprint
from asgiref.sync import sync_to_async
from asgiref.testing import ApplicationCommunicator
from django.core.cache import caches
from django.db import connections
from django.test import Client

from advisor.asgi import application
from live_demo.workload.evidence import workload_evidence
from questionnaire import render_pool, report, report_cache, snapshot
from questionnaire.models import Assessment, ShareLink
from tests.live_demo.test_workload_api import document
from tests.operations.asgi import communicator
from tests.questionnaire import render_helpers
from tests.questionnaire.test_report import asgi_client, pdf_text  # noqa: F401
from tests.workspaces.conftest import people, signed_in, team_assessment, workspace  # noqa: F401

pytestmark = pytest.mark.django_db

RENDERS = caches[snapshot.CACHE_ALIAS]
# A masked CSRF token differs on every response; nothing else may.
CSRF = re.compile(r'(csrfmiddlewaretoken" value="|"x-csrftoken": ")[^"]+')


def url(assessment, tail=""):
    return f"/assessments/{assessment.pk}/{tail}"


def as_(people, who) -> Client:
    return signed_in(Client(), people[who])


def page_text(response) -> str:
    assert response.status_code == 200
    return CSRF.sub(r"\1", response.content.decode())


def snapshot_key(assessment: Assessment, viewer: snapshot.Viewer = snapshot.READER) -> str:
    return snapshot.cache_key(assessment.latest, viewer)


SHARED = snapshot.Viewer(shared=True)
EDITOR = snapshot.Viewer(can_revise=True)


def post_workload_run(people, assessment) -> None:
    response = as_(people, "editor").post(
        "/api/workload-runs/", json.dumps(document(assessment)), content_type="application/json"
    )
    assert response.status_code == 201


def request_review(people, assessment) -> None:
    response = as_(people, "editor").post(
        url(assessment, "review-requests/"), {"reviewers": ["reviewer"]}
    )
    assert response.status_code == 302


def approve(people, assessment, revision=1) -> None:
    response = as_(people, "reviewer").post(
        url(assessment, "reviews/"), {"verdict": "approve", "revision": str(revision)}
    )
    assert response.status_code == 302


def share_secret(people, assessment) -> str:
    response = as_(people, "editor").post(url(assessment, "share-links/"), {"expires": "30"})
    found = re.search(r'id="new-share-link" type="text" readonly value="([^"]+)"', response.text)
    return found[1].rsplit("/shared/", 1)[1].strip("/")


# --- The result page ---------------------------------------------------------------


def test_cached_page_is_the_fresh_page(people, team_assessment, monkeypatch):
    viewer = as_(people, "viewer")
    viewer.get(url(team_assessment))  # stores the snapshot
    assert RENDERS.get(snapshot_key(team_assessment)) is not None

    cached = page_text(viewer.get(url(team_assessment)))
    monkeypatch.setattr("questionnaire.views.snapshot_parts", snapshot.render_parts)
    fresh = page_text(viewer.get(url(team_assessment)))

    assert cached == fresh


def test_page_is_served_from_the_cache(people, team_assessment):
    viewer = as_(people, "viewer")
    viewer.get(url(team_assessment))
    RENDERS.set(snapshot_key(team_assessment), dict.fromkeys(snapshot.PARTS, "FROM-THE-CACHE"))

    assert "FROM-THE-CACHE" in page_text(viewer.get(url(team_assessment)))


def test_page_after_a_deploy_is_rendered_again(people, team_assessment, monkeypatch):
    viewer = as_(people, "viewer")
    viewer.get(url(team_assessment))
    RENDERS.set(snapshot_key(team_assessment), dict.fromkeys(snapshot.PARTS, "FROM-THE-CACHE"))

    monkeypatch.setattr(snapshot, "deploy_fingerprint", lambda: "next-release")
    page = page_text(viewer.get(url(team_assessment)))

    assert "FROM-THE-CACHE" not in page
    assert "Recommendation:" in page


def test_deploy_fingerprint_changes_with_a_template(tmp_path):
    template = tmp_path / "page.html"
    template.write_text("<p>one</p>")
    before = snapshot.fingerprint_of([template])
    template.write_text("<p>two</p>")

    assert snapshot.fingerprint_of([template]) != before


def test_deploy_fingerprint_is_the_same_in_another_checkout_folder(tmp_path, settings):
    for checkout in ("one", "two"):
        (tmp_path / checkout / "templates").mkdir(parents=True)
        (tmp_path / checkout / "templates" / "page.html").write_text("<p>same</p>")
    fingerprints = set()
    for checkout in ("one", "two"):
        settings.BASE_DIR = tmp_path / checkout
        fingerprints.add(
            snapshot.fingerprint_of([tmp_path / checkout / "templates" / "page.html"])
        )

    assert len(fingerprints) == 1


def test_deploy_fingerprint_changes_with_an_installed_version(tmp_path):
    template = tmp_path / "page.html"
    template.write_text("<p>one</p>")

    assert snapshot.fingerprint_of([template], "Django==5.2.19") != snapshot.fingerprint_of(
        [template], "Django==5.2.20"
    )


def test_deploy_fingerprint_covers_templates_and_catalogues():
    hashed = {path.name for path in snapshot._fingerprinted_files()}

    assert {"_snapshot.html", "report.html", "1.json", "2.json", "report.css"} <= hashed


def test_deploy_fingerprint_covers_what_the_snapshot_reads_beyond_the_revision():
    hashed = {
        path.relative_to(snapshot.settings.BASE_DIR).as_posix()
        for path in snapshot._fingerprinted_files()
    }

    assert {
        # "Products like yours" is drawn from the newest case library at render time.
        "questionnaire/catalogues/cases/3.json",
        # The capacity plan's figures and its template tags.
        "questionnaire/costs/reference.json",
        "questionnaire/templatetags/capacity_plan.py",
        # The workload evidence in the PDF, and the URLs every page links.
        "live_demo/workload/evidence.py",
        "advisor/urls.py",
    } <= hashed
    assert not any(path.startswith("tests/") for path in hashed)


def test_page_shows_a_new_revision_at_once(people, team_assessment, chat_answers):
    viewer = as_(people, "viewer")
    viewer.get(url(team_assessment))

    team_assessment.revise("Team chat", {**chat_answers, "client_messages": "none"})
    page = page_text(viewer.get(url(team_assessment)))

    assert "revision 2 of 2" in page
    assert 'Recommendation: <span class="verdict-transport">Server-Sent Events' in page


def test_page_shows_a_status_change_and_an_approval_at_once(people, team_assessment):
    viewer = as_(people, "viewer")
    assert "Draft" in page_text(viewer.get(url(team_assessment)))

    request_review(people, team_assessment)
    in_review = page_text(viewer.get(url(team_assessment)))
    approve(people, team_assessment)
    accepted = page_text(viewer.get(url(team_assessment)))

    assert "In review" in in_review
    assert "Accepted" in accepted


def test_cached_page_is_never_served_to_a_non_member(people, team_assessment):
    as_(people, "viewer").get(url(team_assessment))
    assert RENDERS.get(snapshot_key(team_assessment)) is not None

    assert as_(people, "outsider").get(url(team_assessment)).status_code == 404
    assert Client().get(url(team_assessment)).status_code in {302, 404}


def test_revoked_share_link_page_is_refused_though_cached(people, team_assessment):
    secret = share_secret(people, team_assessment)
    assert Client().get(f"/shared/{secret}/").status_code == 200
    link = ShareLink.objects.get()

    as_(people, "editor").post(url(team_assessment, f"share-links/{link.pk}/revoke/"))

    assert RENDERS.get(snapshot_key(team_assessment, SHARED)) is not None
    assert Client().get(f"/shared/{secret}/").status_code == 404


def test_shared_page_shows_its_own_snapshot_without_the_workload_link(people, team_assessment):
    as_(people, "viewer").get(url(team_assessment))
    secret = share_secret(people, team_assessment)
    shared = page_text(Client().get(f"/shared/{secret}/"))
    parts = RENDERS.get(snapshot_key(team_assessment, SHARED))

    assert all(html in shared for html in parts.values())
    assert "Edit answers" not in shared
    assert "data-run-workload" not in shared
    assert "data-run-workload" in RENDERS.get(snapshot_key(team_assessment))["verdict"]


def test_a_viewer_never_gets_the_editors_cached_traffic_link(people, team_assessment):
    editor_page = page_text(as_(people, "editor").get(url(team_assessment)))
    viewer_page = page_text(as_(people, "viewer").get(url(team_assessment)))

    link = f'href="/assessments/{team_assessment.pk}/edit/#traffic">Add peak clients'
    assert link in editor_page
    assert link not in viewer_page
    assert "No traffic figures were given with these answers." in viewer_page


def test_similar_cases_and_capacity_are_cached_the_workload_runs_are_not(people, team_assessment):
    post_workload_run(people, team_assessment)
    as_(people, "viewer").get(url(team_assessment))
    parts = RENDERS.get(snapshot_key(team_assessment))

    assert "Products like yours" in parts["verdict"]
    assert "Capacity plan: how many servers for this traffic" in parts["details"]
    assert not any("Evidence: your workload, measured" in html for html in parts.values())


def test_page_shows_a_workload_run_posted_after_it_was_cached(people, team_assessment):
    viewer = as_(people, "viewer")
    before = page_text(viewer.get(url(team_assessment)))
    cached = RENDERS.get(snapshot_key(team_assessment))

    post_workload_run(people, team_assessment)
    after = page_text(viewer.get(url(team_assessment)))

    assert "Evidence: your workload, measured" not in before
    assert "Evidence: your workload, measured" in after
    # Between the network check's evidence and the caveats, as before the cache.
    assert after.index("Evidence: your workload") < after.index('id="caveats-heading"')
    assert RENDERS.get(snapshot_key(team_assessment)) == cached


# --- The PDF report ------------------------------------------------------------------


def fresh_pdf(assessment: Assessment, paper: str = report.DEFAULT_PAPER, *, shared=False):
    """The PDF rendered here and now, from the database, with no cache on the way."""
    return report.render_pdf(fresh_html(assessment, paper, shared=shared))


def fresh_html(assessment: Assessment, paper: str = report.DEFAULT_PAPER, *, shared=False) -> str:
    """The report's HTML made here and now, from the database."""
    from questionnaire import decisions

    assessment = Assessment.objects.get(pk=assessment.pk)
    revisions = list(assessment.revisions.select_related("network_check"))
    decision = decisions.panel_context(assessment)["decision"]
    context = report.report_context(
        revisions[-1].display_title, revisions, revisions[-1], decision, shared=shared
    )
    context["workload_runs"] = workload_evidence(revisions[-1])
    return report.report_html(context, paper)


def test_report_stylesheet_trim_changes_no_byte_of_a_full_report(
    people, team_assessment, chat_answers
):
    """Every part a report can have (lists, a revision's changes, reviews, a comment with
    a line break, a workload run) is the PDF WeasyPrint's whole user-agent stylesheet makes."""
    team_assessment.revise("Team chat", {**chat_answers, "client_messages": "none"})
    request_review(people, team_assessment)
    approve(people, team_assessment, revision=2)
    comment = as_(people, "reviewer").post(
        url(team_assessment, "comments/"), {"body": "Why SSE?\nClients never send."}
    )
    assert comment.status_code == 302
    post_workload_run(people, team_assessment)
    html = fresh_html(team_assessment, "letter")
    assert "Why SSE?<br>" in html and "<li" in html

    assert report.render_pdf(html) == report.render_pdf(html, weasyprint.HTML)


def test_reports_render_with_the_trimmed_stylesheet():
    """A WeasyPrint release that words its stylesheet otherwise fails here, not in slow renders."""
    document = report.ReportHTML(string="<p>report</p>")

    assert document._ua_stylesheets() != weasyprint.HTML(string="<p>report</p>")._ua_stylesheets()


@pytest.mark.parametrize("paper", ["a4", "letter"])
def test_cached_pdf_is_the_fresh_pdf(people, team_assessment, paper):
    viewer = as_(people, "viewer")
    first = viewer.get(url(team_assessment, f"report.pdf?paper={paper}"))
    cached = viewer.get(url(team_assessment, f"report.pdf?paper={paper}"))

    assert first.content == cached.content == fresh_pdf(team_assessment, paper)
    assert first["ETag"] == cached["ETag"]


def test_pdf_is_served_from_the_cache(people, team_assessment, monkeypatch):
    viewer = as_(people, "viewer")
    first = viewer.get(url(team_assessment, "report.pdf"))
    # Were it rendered again, the worker would say so.
    monkeypatch.setattr(report, "render_pdf", render_helpers.pid_pdf)

    assert viewer.get(url(team_assessment, "report.pdf")).content == first.content


def test_pdf_after_a_deploy_is_rendered_again(people, team_assessment, monkeypatch):
    viewer = as_(people, "viewer")
    first = viewer.get(url(team_assessment, "report.pdf"))
    monkeypatch.setattr(report, "render_pdf", render_helpers.pid_pdf)
    monkeypatch.setattr("questionnaire.report_cache.deploy_fingerprint", lambda: "next-release")

    again = viewer.get(url(team_assessment, "report.pdf"))

    assert again.content.startswith(b"%PDF- made by")
    assert again["ETag"] != first["ETag"]


def test_pdf_shows_a_new_revision_at_once(people, team_assessment, chat_answers):
    viewer = as_(people, "viewer")
    viewer.get(url(team_assessment, "report.pdf"))

    team_assessment.revise("Team chat", {**chat_answers, "client_messages": "none"})
    latest = viewer.get(url(team_assessment, "report.pdf"))
    first = viewer.get(url(team_assessment, "report.pdf?revision=1"))

    assert "revision 2 of 2" in pdf_text(latest.content)
    assert "revision 1 of 2" in pdf_text(first.content)
    assert latest.content == fresh_pdf(team_assessment)


def test_pdf_shows_a_status_change_and_an_approval_at_once(people, team_assessment):
    viewer = as_(people, "viewer")
    draft = viewer.get(url(team_assessment, "report.pdf"))

    request_review(people, team_assessment)
    in_review = viewer.get(url(team_assessment, "report.pdf"))
    approve(people, team_assessment)
    accepted = viewer.get(url(team_assessment, "report.pdf"))

    assert len({draft["ETag"], in_review["ETag"], accepted["ETag"]}) == 3
    assert "Decision: Draft" in pdf_text(draft.content)
    assert "Decision: In review · 0 of 1" in pdf_text(in_review.content)
    assert "Decision: Accepted · 1 of 1" in pdf_text(accepted.content)
    assert accepted.content == fresh_pdf(team_assessment)


def test_pdf_shows_a_workload_run_at_once(people, team_assessment):
    viewer = as_(people, "viewer")
    before = viewer.get(url(team_assessment, "report.pdf"))

    post_workload_run(people, team_assessment)
    after = viewer.get(url(team_assessment, "report.pdf"), HTTP_IF_NONE_MATCH=before["ETag"])

    assert after.status_code == 200
    assert after["ETag"] != before["ETag"]
    assert "Evidence: your workload, measured" in pdf_text(after.content)
    assert after.content == fresh_pdf(team_assessment)


def test_pdf_revalidates_with_304(people, team_assessment):
    viewer = as_(people, "viewer")
    first = viewer.get(url(team_assessment, "report.pdf"))

    by_etag = viewer.get(url(team_assessment, "report.pdf"), HTTP_IF_NONE_MATCH=first["ETag"])
    by_date = viewer.get(
        url(team_assessment, "report.pdf"), HTTP_IF_MODIFIED_SINCE=first["Last-Modified"]
    )

    assert (by_etag.status_code, by_etag.content) == (304, b"")
    assert (by_date.status_code, by_date.content) == (304, b"")
    assert by_etag["ETag"] == first["ETag"]


def test_pdf_date_is_not_304_when_the_report_went_back_to_an_older_state(
    people, team_assessment, workspace, monkeypatch
):
    # A (1 approval needed) -> B (2) -> A again: a client holding B, asking
    # with B's date only, must get A, not "your copy is current".
    clock = iter([1_000_000.0, 1_000_100.0, 1_000_200.0])
    monkeypatch.setattr(report_cache, "time", SimpleNamespace(time=lambda: next(clock)))
    viewer = as_(people, "viewer")
    first = viewer.get(url(team_assessment, "report.pdf"))
    workspace.required_approvals = 2
    workspace.save()
    second = viewer.get(url(team_assessment, "report.pdf"))
    workspace.required_approvals = 1
    workspace.save()

    again = viewer.get(
        url(team_assessment, "report.pdf"), HTTP_IF_MODIFIED_SINCE=second["Last-Modified"]
    )

    assert second["Last-Modified"] != first["Last-Modified"]
    assert again.status_code == 200
    assert again["ETag"] == first["ETag"]
    assert again["Last-Modified"] not in (first["Last-Modified"], second["Last-Modified"])


def test_pdf_date_stays_while_the_report_is_unchanged(people, team_assessment, monkeypatch):
    clock = iter([1_000_000.0, 1_000_100.0])
    monkeypatch.setattr(report_cache, "time", SimpleNamespace(time=lambda: next(clock)))
    viewer = as_(people, "viewer")
    first = viewer.get(url(team_assessment, "report.pdf"))
    # The PDF evicted: rendered again, yet the same document as before.
    RENDERS.delete(f"report:{first['ETag'].strip(chr(34))}")

    again = viewer.get(url(team_assessment, "report.pdf"))

    assert again.content == first.content
    assert again["Last-Modified"] == first["Last-Modified"]


def test_pdf_head_answers_as_get_without_rendering(people, team_assessment, monkeypatch):
    viewer = as_(people, "viewer")
    first = viewer.get(url(team_assessment, "report.pdf"))
    RENDERS.clear()
    monkeypatch.setattr(render_pool, "pool", lambda: pytest.fail("HEAD rendered a PDF"))

    head = viewer.head(url(team_assessment, "report.pdf"))
    unchanged = viewer.head(url(team_assessment, "report.pdf"), HTTP_IF_NONE_MATCH=first["ETag"])

    assert (head.status_code, head["ETag"]) == (200, first["ETag"])
    assert head["Content-Type"] == "application/pdf"
    assert "Last-Modified" in head
    assert "Content-Disposition" in head
    assert (unchanged.status_code, unchanged["ETag"]) == (304, first["ETag"])


def test_pdf_head_to_a_non_member_is_404(people, team_assessment):
    etag = as_(people, "viewer").get(url(team_assessment, "report.pdf"))["ETag"]

    refused = as_(people, "outsider").head(
        url(team_assessment, "report.pdf"), HTTP_IF_NONE_MATCH=etag
    )

    assert refused.status_code == 404
    assert "ETag" not in refused


def test_pdf_after_an_approval_is_not_304(people, team_assessment):
    viewer = as_(people, "viewer")
    request_review(people, team_assessment)
    before = viewer.get(url(team_assessment, "report.pdf"))
    approve(people, team_assessment)

    after = viewer.get(url(team_assessment, "report.pdf"), HTTP_IF_NONE_MATCH=before["ETag"])

    assert after.status_code == 200
    assert "Decision: Accepted · 1 of 1" in pdf_text(after.content)


def test_cached_pdf_is_never_served_to_a_non_member(people, team_assessment):
    etag = as_(people, "viewer").get(url(team_assessment, "report.pdf"))["ETag"]

    outsider = as_(people, "outsider")
    assert outsider.get(url(team_assessment, "report.pdf")).status_code == 404
    # Knowing the ETag gives nothing either: access comes before the 304.
    refused = outsider.get(url(team_assessment, "report.pdf"), HTTP_IF_NONE_MATCH=etag)
    assert refused.status_code == 404


def test_revoked_share_link_pdf_is_refused_though_cached(people, team_assessment):
    secret = share_secret(people, team_assessment)
    shared = Client().get(f"/shared/{secret}/report.pdf")
    assert shared.content == fresh_pdf(team_assessment, shared=True)
    link = ShareLink.objects.get()

    as_(people, "editor").post(url(team_assessment, f"share-links/{link.pk}/revoke/"))
    refused = Client().get(f"/shared/{secret}/report.pdf", HTTP_IF_NONE_MATCH=shared["ETag"])

    assert refused.status_code == 404


# --- Too many renders at once --------------------------------------------------------


@pytest.fixture
def small_pool(settings):
    """One worker and no queue, for this test only."""
    render_pool.shutdown()
    settings.ADVISOR_REPORT_WORKERS, settings.ADVISOR_REPORT_QUEUE = 1, 0
    yield render_pool.pool()
    render_pool.shutdown()


def held_render(monkeypatch, gate) -> None:
    """Renders wait for ``gate`` (a path) to exist."""
    monkeypatch.setattr(report, "report_html", lambda context, paper: f"{gate}-{paper}")
    monkeypatch.setattr(report, "render_pdf", render_helpers.gated_pdf)


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_full_queue_is_503_with_retry_after(
    asgi_client, small_pool, saved_pair, monkeypatch, tmp_path
):
    held_render(monkeypatch, tmp_path / "gate")
    first, second = saved_pair
    rendering = asyncio.create_task(asgi_client.get(url(first, "report.pdf")))
    await wait_until(lambda: small_pool.pending == 1)

    refused = await asgi_client.get(url(second, "report.pdf?paper=letter"))
    as_json = await asgi_client.get(
        url(second, "report.pdf?paper=letter"), headers={"Accept": "application/json"}
    )
    (tmp_path / "gate-a4").touch()
    served = await asyncio.wait_for(rendering, timeout=10)

    assert (refused.status_code, refused["Content-Type"]) == (503, "text/plain; charset=utf-8")
    assert int(refused["Retry-After"]) >= 1
    assert "try again" in refused.content.decode()
    assert (as_json.status_code, as_json["Retry-After"]) == (503, refused["Retry-After"])
    assert "report" in as_json.json()["errors"]
    assert served.status_code == 200


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_same_pdf_at_once_is_one_render(
    asgi_client, small_pool, saved_pair, monkeypatch, tmp_path
):
    # A board downloading the same report together fills no queue.
    held_render(monkeypatch, tmp_path / "gate")
    first, _ = saved_pair
    downloads = [asyncio.create_task(asgi_client.get(url(first, "report.pdf"))) for _ in range(3)]
    await wait_until(lambda: small_pool.pending == 1)
    # All three wait for the one render before it is let through.
    await wait_until(lambda: next(iter(small_pool._flights.values())).waiters == 3)
    (tmp_path / "gate-a4").touch()
    answers = await asyncio.wait_for(asyncio.gather(*downloads), timeout=10)

    assert [answer.status_code for answer in answers] == [200, 200, 200]


@pytest.mark.asyncio
async def test_queued_render_is_cancelled_when_its_client_goes_away(tmp_path):
    pool = render_pool.RenderPool(workers=1, queue=2)
    try:
        running = asyncio.create_task(pool.run("a", render_helpers.gated_pdf, str(tmp_path / "a")))
        queued = asyncio.create_task(pool.run("b", render_helpers.gated_pdf, str(tmp_path / "b")))
        await wait_until(lambda: pool.pending == 2)
        waiting = pool._flights["b"].future

        queued.cancel()  # what Django does to a view whose client disconnected
        (tmp_path / "a").touch()
        (tmp_path / "b").touch()
        made = await asyncio.wait_for(running, timeout=10)

        assert waiting.cancelled()
        assert made == b"%PDF- gated a"
        assert pool.pending == 0
    finally:
        pool.shutdown()


@pytest.mark.asyncio
async def test_render_shared_by_two_goes_on_when_one_leaves(tmp_path):
    pool = render_pool.RenderPool(workers=1, queue=0)
    try:
        gate = str(tmp_path / "a")
        leaving = asyncio.create_task(pool.run("a", render_helpers.gated_pdf, gate))
        staying = asyncio.create_task(pool.run("a", render_helpers.gated_pdf, gate))
        await wait_until(lambda: pool.pending == 1)
        await asyncio.sleep(0.05)

        leaving.cancel()
        (tmp_path / "a").touch()

        assert await asyncio.wait_for(staying, timeout=10) == b"%PDF- gated a"
    finally:
        pool.shutdown()


@pytest.fixture
def saved_pair(chat_answers) -> tuple[Assessment, Assessment]:
    """Two anonymous assessments (readable by anyone with their link)."""
    return (
        Assessment.create_scored("First", chat_answers)[0],
        Assessment.create_scored("Second", chat_answers)[0],
    )


async def wait_until(condition, timeout: float = 10) -> None:
    async def poll() -> None:
        while not condition():
            await asyncio.sleep(0.01)

    await asyncio.wait_for(poll(), timeout)


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_download_abandoned_while_queued_cancels_its_render(
    asgi_client, saved_pair, monkeypatch, tmp_path, settings
):
    """The whole ASGI stack: a client that hangs up while its render waits frees the queue."""
    render_pool.shutdown()
    settings.ADVISOR_REPORT_WORKERS, settings.ADVISOR_REPORT_QUEUE = 1, 1
    pool = render_pool.pool()
    held_render(monkeypatch, tmp_path / "gate")
    first, second = saved_pair
    try:
        rendering = asyncio.create_task(asgi_client.get(url(first, "report.pdf")))
        await wait_until(lambda: pool.pending == 1)
        path = url(second, "report.pdf")  # on letter paper: a render of its own
        scope = {
            "type": "http",
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"paper=letter",
            "headers": [(b"host", b"127.0.0.1")],
            "client": ("127.0.0.1", 50000),
        }
        leaving = ApplicationCommunicator(application, scope)
        await leaving.send_input({"type": "http.request", "body": b""})
        await wait_until(lambda: pool.pending == 2)
        queued = [flight.future for flight in pool._flights.values()][-1]

        await leaving.send_input({"type": "http.disconnect"})
        await wait_until(lambda: pool.pending == 1)
        (tmp_path / "gate-a4").touch()
        served = await asyncio.wait_for(rendering, timeout=10)

        assert queued.cancelled()
        assert served.status_code == 200
        await leaving.wait(5)
    finally:
        render_pool.shutdown()


# --- Workers that die or never start ---------------------------------------------------


@pytest.fixture
def two_workers(settings):
    render_pool.shutdown()
    settings.ADVISOR_REPORT_WORKERS, settings.ADVISOR_REPORT_QUEUE = 2, 2
    yield render_pool.pool()
    render_pool.shutdown()


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_worker_killed_mid_render_is_no_500(
    asgi_client, two_workers, saved_pair, monkeypatch, tmp_path
):
    held_render(monkeypatch, tmp_path / "gate")
    first, second = saved_pair
    downloads = [
        asyncio.create_task(asgi_client.get(url(first, "report.pdf"))),
        asyncio.create_task(asgi_client.get(url(second, "report.pdf?paper=letter"))),
    ]
    await wait_until(lambda: two_workers._running == 2)
    broken = two_workers._executor
    await wait_until(lambda: len(broken._processes) == 2)

    os.kill(next(iter(broken._processes)), signal.SIGKILL)
    await wait_until(lambda: two_workers._executor is not broken)
    (tmp_path / "gate-a4").touch()
    (tmp_path / "gate-letter").touch()
    answers = await asyncio.wait_for(asyncio.gather(*downloads), timeout=30)

    assert {answer.status_code for answer in answers} <= {200, 503}
    assert 200 in {answer.status_code for answer in answers}
    # One executor: the broken one's workers go, the new one's stay.
    await wait_until(lambda: len(multiprocessing.active_children()) == 2, timeout=20)
    assert set(two_workers._executor._processes) == {
        child.pid for child in multiprocessing.active_children()
    }


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_workers_that_cannot_start_are_503_then_not_started_again(
    asgi_client, small_pool, saved_pair, monkeypatch
):
    # Settings a worker cannot load: it dies in its start, as with no fonts.
    monkeypatch.setenv("DJANGO_SETTINGS_MODULE", "tests.no_such_settings")
    first, second = saved_pair

    failed = await asgi_client.get(url(first, "report.pdf"))
    again = await asgi_client.get(
        url(second, "report.pdf"), headers={"Accept": "application/json"}
    )

    assert failed.status_code == 503
    assert int(failed["Retry-After"]) >= 1
    assert "could not be rendered" in failed.content.decode()
    assert again.status_code == 503
    assert "report" in again.json()["errors"]
    # Backing off: this download started no worker.
    assert small_pool._executor is None


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_render_that_fails_in_its_worker_is_503(
    asgi_client, small_pool, saved_pair, monkeypatch
):
    monkeypatch.setattr(report, "render_pdf", render_helpers.out_of_memory)
    first, _ = saved_pair

    failed = await asgi_client.get(url(first, "report.pdf"))

    assert failed.status_code == 503
    assert int(failed["Retry-After"]) >= 1
    assert "try again" in failed.content.decode()


class Node:
    """A cycle, as a render's boxes and styles make."""

    def __init__(self) -> None:
        self.itself = self


def test_a_worker_frees_a_renders_cycles_when_it_ends():
    left = []

    def render() -> bytes:
        node = Node()
        left.append(weakref.ref(node))
        return b"%PDF-"

    assert render_pool._run_in_worker(render) == b"%PDF-"
    assert left[0]() is None
    assert gc.isenabled()


def test_a_render_that_fails_leaves_the_workers_collector_on():
    with pytest.raises(MemoryError):
        render_pool._run_in_worker(render_helpers.out_of_memory, "<html>")

    assert gc.isenabled()


@pytest.mark.asyncio
async def test_render_queued_at_shutdown_is_refused(tmp_path):
    pool = render_pool.RenderPool(workers=1, queue=2)
    running = asyncio.create_task(pool.run("a", render_helpers.gated_pdf, str(tmp_path / "a")))
    queued = asyncio.create_task(pool.run("b", render_helpers.gated_pdf, str(tmp_path / "b")))
    await wait_until(lambda: pool.pending == 2)
    await wait_until(lambda: pool._executor is not None and len(pool._executor._processes) == 1)

    stopping = asyncio.get_running_loop().run_in_executor(None, pool.shutdown)
    await wait_until(lambda: pool._closed)
    (tmp_path / "a").touch()

    assert await asyncio.wait_for(running, timeout=10) == b"%PDF- gated a"
    with pytest.raises(render_pool.Unavailable):
        await asyncio.wait_for(queued, timeout=10)
    await asyncio.wait_for(stopping, timeout=10)


def test_first_request_starts_the_workers_in_the_background(settings):
    from django.core.signals import request_started

    render_pool.shutdown()
    settings.ADVISOR_REPORT_WORKERS = 1
    request_started.connect(
        render_pool.start_at_first_request, dispatch_uid=render_pool.EARLY_START
    )
    try:
        assert Client().get("/").status_code == 200
        asyncio.run(wait_until(lambda: render_pool.pool()._proven, timeout=30))
        # Once: the receiver is gone after the first request.
        assert not request_started.disconnect(dispatch_uid=render_pool.EARLY_START)
    finally:
        request_started.disconnect(dispatch_uid=render_pool.EARLY_START)
        render_pool.shutdown()


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_a_download_through_the_served_application(
    small_pool, saved_pair, monkeypatch, tmp_path
):
    # As served (advisor/asgi.py): the access check, the reads, the HTML and
    # the cache read take one hop to a kept request thread (report_cache.prepare).
    held_render(monkeypatch, tmp_path / "gate")
    (tmp_path / "gate-a4").touch()
    first, _ = saved_pair

    async def download(path: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
        app = communicator(path, headers=headers)
        await app.send_input({"type": "http.request", "body": b""})
        start = await app.receive_output(30)  # the first render starts a worker
        body = (await app.receive_output(5)).get("body", b"")
        await app.wait(5)
        names = {name.decode().lower(): value.decode() for name, value in start["headers"]}
        return start["status"], names, body

    status, headers, body = await download(url(first, "report.pdf"))
    assert (status, headers["content-type"]) == (200, "application/pdf")
    assert body.startswith(b"%PDF")
    kept = {"If-None-Match": headers["etag"]}
    status, _, body = await download(url(first, "report.pdf"), **kept)
    assert (status, body) == (304, b"")
    status, _, _ = await download(f"/assessments/{uuid.uuid4()}/report.pdf")
    assert status == 404


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_a_download_waits_for_its_render_without_a_database_connection(
    asgi_client, saved_pair, monkeypatch
):
    # With PostgreSQL, ten first downloads waiting for their renders would
    # otherwise hold ten connections of the pool, and every other request
    # would queue for one.
    held, reads = [], []

    async def render(key: str, html: str) -> bytes:
        # On the thread that did the download's reads (asgiref's
        # thread-sensitive one): each thread has its own connections.
        def connected() -> tuple[int, bool]:
            return threading.get_ident(), connections["default"].connection is not None

        held.append(await sync_to_async(connected)())
        return b"%PDF-rendered"

    prepare = report_cache.prepare

    def prepared(*args):
        reads.append(threading.get_ident())
        return prepare(*args)

    monkeypatch.setattr(report_cache, "_render", render)
    monkeypatch.setattr(report_cache, "prepare", prepared)
    first, _ = saved_pair
    response = await asgi_client.get(url(first, "report.pdf"))

    assert (response.status_code, response.content) == (200, b"%PDF-rendered")
    assert held == [(reads[0], False)]
    # And the next download reads again, on a connection of its own.
    again = await asgi_client.get(url(first, "report.pdf?paper=letter"))
    assert again.status_code == 200
