"""Reports rendered when their assessment changes (questionnaire/prerender.py).

The first download after a save, a review request or an approval is served
from the cache, byte for byte what a fresh render gives; and rendering in
advance never takes a worker or a queue place a download could have.
"""

# The workspace fixtures are imported to be shared, which ruff reads as redefinitions.
# ruff: noqa: F811

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import time
import uuid
from types import SimpleNamespace

import pytest
from django.test import Client
from prometheus_client import REGISTRY

from questionnaire import prerender, render_pool, report_cache
from questionnaire.models import Assessment, DecisionStatus
from tests.questionnaire import render_helpers
from tests.questionnaire.test_render_cache import (
    approve,
    as_,
    fresh_html,
    fresh_pdf,
    request_review,
    url,
    wait_until,
)
from tests.workspaces.conftest import people, signed_in, team_assessment, workspace  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def prerendering(settings):
    settings.ADVISOR_REPORT_PRERENDER = True
    yield prerender.prerenderer
    prerender.prerenderer.wait()


@pytest.fixture
def started_pool(settings):
    """The process's render pool, one worker, started and idle."""
    render_pool.shutdown()
    settings.ADVISOR_REPORT_WORKERS, settings.ADVISOR_REPORT_QUEUE = 1, 1
    pool = render_pool.pool()
    pool.start()
    asyncio.run(pool.run("warm", render_helpers.pid_pdf, ""))
    yield pool
    render_pool.shutdown()


@pytest.fixture
def offered(monkeypatch) -> list[str]:
    """The keys offered to an idle stand-in pool, which renders nothing."""
    keys: list[str] = []

    def offer(key, function, html):
        keys.append(key)

    stand_in = SimpleNamespace(
        idle=True, starting=False, wait_started=lambda timeout: True, offer=offer
    )
    monkeypatch.setattr(render_pool, "pool", lambda: stand_in)
    return keys


def counted(outcome: str) -> float:
    return REGISTRY.get_sample_value("advisor_reports_prerendered_total", {"outcome": outcome})


def stored_within(key: str, seconds: float = 30) -> bool:
    deadline = time.monotonic() + seconds
    while not report_cache.is_stored(key):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def api_create(client: Client, answers) -> Assessment:
    response = client.post(
        "/api/assessments/",
        json.dumps({"title": "Team chat", "answers": answers}),
        content_type="application/json",
    )
    assert response.status_code == 201
    return Assessment.objects.get(pk=response.json()["id"])


def test_a_new_assessments_first_download_is_already_rendered(
    prerendering, started_pool, chat_answers, settings, monkeypatch
):
    settings.ADVISOR_ANONYMOUS = True
    rendered = counted("rendered")
    storing = []
    keep = report_cache.store_unless_there

    def recorded(*args) -> None:
        storing.append(threading.current_thread().name)
        keep(*args)

    monkeypatch.setattr(report_cache, "store_unless_there", recorded)
    client = Client()
    assessment = api_create(client, chat_answers)
    prerendering.wait()
    assert stored_within(report_cache.pdf_key(fresh_html(assessment)))
    # Stored by the background thread, never the render pool's own.
    assert [name.split("_")[0] for name in storing] == ["prerender"]
    assert counted("rendered") == rendered + 1

    async def no_render(key, html):
        raise AssertionError("the download rendered its PDF again")

    monkeypatch.setattr(report_cache, "_render", no_render)
    response = client.get(url(assessment, "report.pdf"))

    assert response.status_code == 200
    assert response.content == fresh_pdf(assessment)


@pytest.fixture
def starting_pool(settings, monkeypatch):
    """The process's render pool, one worker, started but held from answering until set."""
    render_pool.shutdown()
    settings.ADVISOR_REPORT_WORKERS, settings.ADVISOR_REPORT_QUEUE = 1, 1
    answer = threading.Event()
    answered = render_pool.RenderPool._answered

    def held(self, executor, ready) -> None:
        answer.wait(30)
        answered(self, executor, ready)

    monkeypatch.setattr(render_pool.RenderPool, "_answered", held)
    pool = render_pool.pool()
    pool.start()
    try:
        yield SimpleNamespace(pool=pool, answer=answer)
    finally:
        answer.set()
        render_pool.shutdown()


def test_a_change_made_while_the_workers_start_is_rendered_once_they_have(
    prerendering, starting_pool, chat_answers, settings
):
    # A deploy restarts the servers; the first save comes before their workers are up.
    settings.ADVISOR_ANONYMOUS = True
    busy, rendered = counted("busy"), counted("rendered")
    assessment = api_create(Client(), chat_answers)
    key = report_cache.pdf_key(fresh_html(assessment))

    assert starting_pool.pool.starting and not report_cache.is_stored(key)
    starting_pool.answer.set()
    prerendering.wait()
    assert stored_within(key)
    assert (counted("busy"), counted("rendered")) == (busy, rendered + 1)


def test_a_change_waits_for_starting_workers_only_so_long(
    prerendering, starting_pool, team_assessment, monkeypatch
):
    monkeypatch.setattr(prerender, "STARTING_SECONDS", 2.0)
    busy = counted("busy")
    began = time.monotonic()
    prerendering.changed(team_assessment.pk)
    prerendering.changed(uuid.uuid4())  # another, since deleted
    prerendering.wait()

    # One deadline per start, not one per change queued behind another.
    # (A wait each would end 4 s after the first change at the earliest.)
    assert time.monotonic() - began < 3.5
    assert counted("busy") == busy + 2
    assert not report_cache.is_stored(report_cache.pdf_key(fresh_html(team_assessment)))
    # Once a worker answers, the wait is over at once; after shutdown, nothing is started.
    starting_pool.answer.set()
    assert starting_pool.pool.wait_started(30)
    starting_pool.pool.shutdown()
    assert not starting_pool.pool.wait_started(30)


def test_a_review_request_and_an_approval_render_the_report_they_change(
    prerendering, offered, people, team_assessment
):
    request_review(people, team_assessment)
    prerendering.wait()
    in_review = report_cache.pdf_key(fresh_html(team_assessment))
    approve(people, team_assessment)
    prerendering.wait()
    approved = report_cache.pdf_key(fresh_html(team_assessment))

    # Each step is two events (a review request also changes the status):
    # the second finds the same report, in flight or stored, in the real pool.
    assert in_review != approved
    assert list(dict.fromkeys(offered)) == [in_review, approved]


def test_a_comment_or_requested_changes_render_nothing_in_advance(
    prerendering, offered, people, team_assessment
):
    request_review(people, team_assessment)
    prerendering.wait()
    offered.clear()
    commented = as_(people, "reviewer").post(
        url(team_assessment, "comments/"), {"body": "What about proxies?"}
    )
    changes = as_(people, "reviewer").post(
        url(team_assessment, "reviews/"),
        {"verdict": "request_changes", "revision": "1", "comment": "Measure the proxy first."},
    )
    prerendering.wait()

    assert (commented.status_code, changes.status_code) == (302, 302)
    assert offered == []


def test_a_change_is_saved_though_nothing_can_be_rendered_in_advance(
    prerendering, people, team_assessment, monkeypatch, caplog
):
    class Refusing:
        def __init__(self, **kwargs) -> None:
            pass

        def submit(self, *args):
            raise RuntimeError("cannot schedule new futures after interpreter shutdown")

    monkeypatch.setattr(
        render_pool, "pool", lambda: SimpleNamespace(idle=True, offer=lambda *args: None)
    )
    monkeypatch.setattr(prerender, "ThreadPoolExecutor", Refusing)
    monkeypatch.setattr(prerendering, "_thread", None)
    with caplog.at_level(logging.WARNING, logger="questionnaire.prerender"):
        request_review(people, team_assessment)
    monkeypatch.setattr(prerendering, "_thread", None)

    team_assessment.refresh_from_db()
    assert team_assessment.status == DecisionStatus.IN_REVIEW
    assert "not rendered in advance" in caplog.text


def test_a_new_revision_renders_its_report(
    prerendering, offered, people, team_assessment, dashboard_answers
):
    response = as_(people, "editor").post(
        f"/api/assessments/{team_assessment.pk}/revisions/",
        json.dumps({"answers": dashboard_answers}),
        content_type="application/json",
    )
    assert response.status_code == 201
    prerendering.wait()

    assert offered[-1] == report_cache.pdf_key(fresh_html(team_assessment))
    assert team_assessment.revisions.count() == 2


def test_nothing_is_rendered_in_advance_when_turned_off(
    prerendering, offered, settings, people, team_assessment
):
    settings.ADVISOR_REPORT_PRERENDER = False
    request_review(people, team_assessment)
    prerendering.wait()

    assert offered == []


def test_an_already_cached_report_is_not_rendered_again(
    prerendering, offered, people, team_assessment
):
    signed_in(Client(), people["editor"])
    report_cache.store(report_cache.pdf_key(fresh_html(team_assessment)), b"%PDF- kept")
    prerendering.changed(team_assessment.pk)
    prerendering.wait()

    assert offered == []


def test_a_refused_change_renders_nothing(prerendering, offered, people, team_assessment):
    # A viewer may not request a review: nothing changed, nothing to render.
    response = as_(people, "viewer").post(
        url(team_assessment, "review-requests/"), {"reviewers": ["reviewer"]}
    )
    prerendering.wait()

    assert response.status_code in (403, 404)
    assert offered == []


def test_a_failure_in_advance_is_logged_and_the_next_change_still_renders(
    prerendering, offered, team_assessment, monkeypatch, caplog
):
    def broken(*args, **kwargs):
        raise RuntimeError("the database went away")

    with monkeypatch.context() as patched:
        patched.setattr(prerender, "report_context", broken)
        with caplog.at_level(logging.WARNING, logger="questionnaire.prerender"):
            prerendering.changed(team_assessment.pk)
            prerendering.wait()
    prerendering.changed(team_assessment.pk)
    prerendering.wait()

    assert "could not be prepared in advance" in caplog.text
    assert offered == [report_cache.pdf_key(fresh_html(team_assessment))]


def test_a_deleted_assessment_renders_nothing(prerendering, offered, team_assessment):
    pk = team_assessment.pk
    team_assessment.delete()
    prerendering.changed(pk)
    prerendering.wait()

    assert offered == []


# --- The pool's side: only an idle worker ---------------------------------------------


@contextlib.asynccontextmanager
async def one_started_worker(queue: int):
    """A render pool of one worker that has answered, and ``queue`` places."""
    pool = render_pool.RenderPool(workers=1, queue=queue)
    try:
        pool.start()
        await pool.run("warm", render_helpers.pid_pdf, "")
        yield pool
    finally:
        pool.shutdown()


@pytest.mark.asyncio
async def test_offer_takes_only_an_idle_worker_and_a_download_shares_it(tmp_path):
    pool = render_pool.RenderPool(workers=1, queue=1)
    try:
        # Workers not started: an offer never starts them.
        assert pool.offer("early", render_helpers.pid_pdf, "") is None
        pool.start()
        # Still starting (a spawn takes a second or more): the offer would go
        # first once one is up, ahead of any download meanwhile.
        assert pool.offer("starting", render_helpers.pid_pdf, "") is None
        await pool.run("warm", render_helpers.pid_pdf, "")
        gate = str(tmp_path / "a")

        rendering = pool.offer("a", render_helpers.gated_pdf, gate)
        assert rendering is not None
        # The worker is taken: nothing more is offered, nothing queued.
        assert pool.offer("b", render_helpers.pid_pdf, "") is None
        assert not pool.idle
        # A download of the same report meanwhile waits for the same render.
        download = asyncio.create_task(pool.run("a", render_helpers.gated_pdf, gate))
        await wait_until(lambda: pool._flights["a"].waiters == 1)
        assert pool.pending == 1
        (tmp_path / "a").touch()

        assert await asyncio.wait_for(download, timeout=10) == b"%PDF- gated a"
        assert rendering.result(timeout=5) == b"%PDF- gated a"
        await wait_until(lambda: pool.idle)
    finally:
        pool.shutdown()


@pytest.mark.asyncio
async def test_an_offered_render_takes_no_downloads_queue_place(tmp_path):
    async with one_started_worker(queue=2) as pool:
        assert pool.offer("ahead", render_helpers.gated_pdf, str(tmp_path / "ahead")) is not None
        # One worker and two queue places: three downloads, as with no offer.
        downloads = [
            asyncio.create_task(pool.run(name, render_helpers.gated_pdf, str(tmp_path / name)))
            for name in ("a", "b", "c")
        ]
        await wait_until(lambda: pool.pending == 4)
        for name in ("ahead", "a", "b", "c"):
            (tmp_path / name).touch()
        made = await asyncio.wait_for(asyncio.gather(*downloads), timeout=20)

        assert made == [b"%PDF- gated a", b"%PDF- gated b", b"%PDF- gated c"]


@pytest.mark.asyncio
async def test_a_download_waiting_for_a_worker_is_never_passed_by_an_offer(tmp_path):
    async with one_started_worker(queue=1) as pool:
        held = asyncio.create_task(pool.run("a", render_helpers.gated_pdf, str(tmp_path / "a")))
        queued = asyncio.create_task(pool.run("b", render_helpers.gated_pdf, str(tmp_path / "b")))
        await wait_until(lambda: pool.pending == 2)
        (tmp_path / "a").touch()
        await asyncio.wait_for(held, timeout=10)
        # "b" has the worker now; an offer finds it busy, and after "b" idle.
        assert pool.offer("c", render_helpers.pid_pdf, "") is None
        (tmp_path / "b").touch()
        await asyncio.wait_for(queued, timeout=10)
        await wait_until(lambda: pool.idle)
        assert pool.offer("c", render_helpers.pid_pdf, "") is not None
