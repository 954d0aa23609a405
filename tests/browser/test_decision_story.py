"""A decision taken by two people in two browsers, seen live, recorded as an ADR, and re-scored.

The live server is daphne in a child process. Every change an open page is
to see live is made through the other browser's page forms, so it is made in
that process and its wake-up travels through the server's channel layer to
the page's stream. The stream's heartbeat (which also re-reads the audit
log) is set far longer than any wait here: what arrives, arrived by its
wake-up. (Setting the scene before a page opens goes through the decision
services from this process.)

The drop is a real one: the editor's browser reaches the server through a
relay in this process that the test cuts and restores. (Playwright's
``set_offline`` leaves an open stream flowing in Chromium: it fails new
requests only.)

The last story reads the decision's record and the workspace's portfolio
under a newer catalogue (``catalogue_v4``). The server is forked from this
process when it starts (``start_daphne``), so it inherits the catalogue
published at that moment: that fixture is set up before the server's.
"""

from __future__ import annotations

import contextlib
import re
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.contrib.auth import get_user_model
from django.test import Client, RequestFactory
from playwright.sync_api import expect

from questionnaire import decisions
from questionnaire.catalogue import get_catalogue
from questionnaire.models import Assessment
from tests.conftest import off_loop
from workspaces.models import AuditAction, AuditEvent, Membership, Role, Workspace

pytestmark = pytest.mark.browser

# Far longer than any wait in these stories: an update seen came by its wake-up.
HEARTBEAT = 60.0
# The live refresh of the panel (it carries ?seen=N, the revision the page shows).
PANEL = re.compile(r"/assessments/[0-9a-f-]+/decision/\?seen=[0-9]+$")
COMMENTS = re.compile(r"/assessments/[0-9a-f-]+/comments/$")


class Relay:
    """A TCP relay to the live server whose connections can be cut, and refused until restored."""

    def __init__(self, port: int) -> None:
        self.target = port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.up = threading.Event()
        self.up.set()
        self.lock = threading.Lock()
        self.sockets: set[socket.socket] = set()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.up.is_set():
                client.close()
                continue
            server = socket.create_connection(("127.0.0.1", self.target))
            with self.lock:
                self.sockets |= {client, server}
            threading.Thread(target=self._pump, args=(client, server), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            self._drop(source)
            self._drop(sink)

    def _drop(self, sock: socket.socket) -> None:
        with self.lock:
            self.sockets.discard(sock)
        # shutdown wakes a thread blocked in recv on it; close alone does not.
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        sock.close()

    def cut(self) -> None:
        """Drop every open connection, and refuse new ones until restored."""
        self.up.clear()
        with self.lock:
            open_now = list(self.sockets)
        for sock in open_now:
            self._drop(sock)

    def restore(self) -> None:
        self.up.set()

    def close(self) -> None:
        self.listener.close()
        self.cut()


@pytest.fixture
def relay(live_server_url) -> Iterator[Relay]:
    relay = Relay(urlsplit(live_server_url).port)
    yield relay
    relay.close()


@pytest.fixture
def wake_ups_only(settings) -> None:
    """Set before the live server starts: no heartbeat re-read, a quick reconnect."""
    settings.DECISION_STREAM = {
        **settings.DECISION_STREAM,
        "HEARTBEAT": HEARTBEAT,
        "RETRY_MS": 300,
    }


def make_team() -> dict:
    """Workspace "team": ed (editor) and rita (reviewer), with their session cookies."""
    workspace = Workspace.objects.create(slug="team", name="Team One")
    make = get_user_model().objects.create_user
    ed, rita = make("ed"), make("rita")
    Membership.objects.create(workspace=workspace, user=ed, role=Role.EDITOR)
    Membership.objects.create(workspace=workspace, user=rita, role=Role.REVIEWER)
    sessions = {}
    for user in (ed, rita):
        client = Client()
        client.force_login(user)
        sessions[user.get_username()] = client.cookies["sessionid"].value
    return {"workspace": workspace, "ed": ed, "rita": rita, "sessions": sessions}


@pytest.fixture
def team(wake_ups_only, live_server_url, chat_answers) -> dict:
    """The team, and ed's draft assessment "Team chat"."""
    team = make_team()
    team["a"], _ = Assessment.create_scored(
        "Team chat", chat_answers, workspace=team["workspace"], created_by=team["ed"]
    )
    return team


def signed_in_page(browser_context_factory, live_server_url, session: str):
    context = browser_context_factory()
    context.add_cookies([{"name": "sessionid", "value": session, "url": live_server_url}])
    return context.new_page()


def comment(panel, text: str) -> None:
    """Types a comment in a decision panel and sends it."""
    panel.get_by_label("Add a comment").fill(text)
    panel.get_by_role("button", name="Comment").click()


def test_review_seen_live_and_caught_up_after_a_drop(
    team, live_server_url, browser_context_factory, relay
) -> None:
    path = team["a"].get_absolute_url()
    ed_page = signed_in_page(browser_context_factory, live_server_url, team["sessions"]["ed"])
    streams = []
    ed_page.on(
        "request",
        lambda request: streams.append(request) if "/decisions/stream/" in request.url else None,
    )
    ed_page.goto(f"{relay.url}{path}")
    # Gone if the page were ever loaded again: the updates must come without.
    ed_page.evaluate("() => { window.__marker = 1; }")
    ed_panel = ed_page.locator("#decision")
    status = ed_panel.locator(".decision-status")
    expect(status).to_have_text("Draft")
    announcer = ed_page.locator("#decision-live")

    # The reviewer, in a second browser, has a page open with nothing waiting.
    rita_page = signed_in_page(browser_context_factory, live_server_url, team["sessions"]["rita"])
    rita_page.goto("/decisions/waiting/")
    rita_count = rita_page.locator("#decisions-waiting-count")
    expect(rita_count).to_have_text("0")

    # The editor asks her for a review with the page's form.
    ed_panel.get_by_label("rita").check()
    ed_panel.get_by_role("button", name="Request review").click()
    expect(status).to_have_text("In review")
    expect(ed_panel.locator(".reviewers")).to_contain_text("rita")

    # Her header counts it at once; she follows it to the decision and approves.
    expect(rita_count).to_have_text("1")
    rita_page.locator("#decisions-waiting").click()
    rita_page.get_by_role("link", name="Team chat").click()
    rita_panel = rita_page.locator("#decision")
    rita_panel.get_by_label("Approve").check()
    rita_panel.get_by_label("Comment", exact=True).fill("Ship it")
    rita_panel.get_by_role("button", name="Send review").click()
    expect(rita_panel.locator(".decision-status")).to_have_text("Accepted")
    expect(rita_count).to_have_text("0")

    # The editor's open page: the approval, the Accepted status, and an announcement.
    expect(status).to_have_text("Accepted")
    expect(ed_panel.locator(".approvals")).to_contain_text("rita approved revision 1")
    expect(ed_panel.locator(".approvals")).to_contain_text("Ship it")
    expect(announcer).to_have_text(re.compile(r"^The decision is now accepted"))
    assert ed_page.evaluate("() => window.__marker") == 1
    assert len(streams) == 1

    # The editor's connection drops; the reviewer comments meanwhile.
    relay.cut()
    comment(rita_panel, "Made while you were away")
    expect(rita_panel.locator(".comments")).to_contain_text("Made while you were away")
    commented = off_loop(lambda: AuditEvent.objects.get(action=AuditAction.DECISION_COMMENTED).pk)
    # A moment for a wake-up to arrive, were there a way while cut.
    ed_page.wait_for_timeout(500)
    expect(ed_panel.locator(".comments")).to_have_count(0)
    relay.restore()

    # Back: the page catches up with what it missed, still without a reload.
    expect(ed_panel.locator(".comments")).to_contain_text("Made while you were away")
    expect(announcer).to_have_text("rita commented")
    assert ed_page.evaluate("() => window.__marker") == 1
    # It came by a resume: a new stream asked for what followed an event
    # before the comment (EventSource's Last-Event-ID on its own reconnect).
    resumed = streams[-1]
    resumed_from = resumed.all_headers().get("last-event-id") or re.search(
        r"last_event_id=(\d+)", resumed.url
    ).group(1)
    assert len(streams) > 1
    assert int(resumed_from) < commented


def test_panel_waits_while_someone_types_in_it(
    team, live_server_url, browser_context_factory
) -> None:
    path = team["a"].get_absolute_url()
    page = signed_in_page(browser_context_factory, live_server_url, team["sessions"]["ed"])
    page.goto(path)
    draft = page.locator("#decision").get_by_label("Add a comment")
    draft.fill("Half a thought")

    rita_page = signed_in_page(browser_context_factory, live_server_url, team["sessions"]["rita"])
    rita_page.goto(path)
    comment(rita_page.locator("#decision"), "Meanwhile")
    expect(rita_page.locator("#decision .comments")).to_contain_text("Meanwhile")

    # Announced, and said on the page, but the panel, and the text typed in it, stay.
    expect(page.locator("#decision-live")).to_have_text("rita commented")
    note = page.locator("#decision").get_by_text("New activity: the panel updates")
    expect(note).to_be_visible()
    expect(draft).to_have_value("Half a thought")
    expect(page.locator("#decision .comments")).to_have_count(0)

    draft.fill("")
    draft.blur()
    expect(page.locator("#decision .comments")).to_contain_text("Meanwhile")
    expect(note).to_have_count(0)


def test_a_refresh_under_way_waits_for_someone_who_starts_typing(
    team, live_server_url, browser_context_factory
) -> None:
    path = team["a"].get_absolute_url()
    page = signed_in_page(browser_context_factory, live_server_url, team["sessions"]["ed"])
    # The panel's refresh is held on its way until the editor has typed.
    held = []
    page.route(PANEL, lambda route: held.append(route))
    page.goto(path)
    page.evaluate(
        """() => document.addEventListener("htmx:afterRequest", (event) => {
          if (event.detail.requestConfig.verb === "get") window.__refreshed = true;
        })"""
    )

    rita_page = signed_in_page(browser_context_factory, live_server_url, team["sessions"]["rita"])
    rita_page.goto(path)
    with page.expect_request(PANEL):
        comment(rita_page.locator("#decision"), "Meanwhile")
    draft = page.locator("#decision").get_by_label("Add a comment")
    draft.fill("Half a thought")
    held[0].continue_()
    page.unroute(PANEL)
    page.wait_for_function("() => window.__refreshed")

    # Its answer came while they typed: the panel, and their text, stay; the page says so.
    expect(draft).to_have_value("Half a thought")
    expect(page.locator("#decision .comments")).to_have_count(0)
    note = page.locator("#decision").get_by_text("New activity: the panel updates when you finish")
    expect(note).to_be_visible()

    draft.fill("")
    draft.blur()
    expect(page.locator("#decision .comments")).to_contain_text("Meanwhile")


def test_a_refusal_on_screen_outlasts_the_live_update(
    team, live_server_url, browser_context_factory
) -> None:
    """Another person's comment arrives while the editor's refused comment is on screen.

    The refusal's reason and its kept text stay until the editor sends the
    form again: a live swap must not take them away unread.
    """
    path = team["a"].get_absolute_url()
    page = signed_in_page(browser_context_factory, live_server_url, team["sessions"]["ed"])
    page.goto(path)
    panel = page.locator("#decision")
    comment(panel, "   ")
    expect(page.locator("#err-comment")).to_have_text("Write a comment.")

    rita_page = signed_in_page(browser_context_factory, live_server_url, team["sessions"]["rita"])
    rita_page.goto(path)
    comment(rita_page.locator("#decision"), "Meanwhile")
    expect(rita_page.locator("#decision .comments")).to_contain_text("Meanwhile")

    expect(page.locator("#decision-live")).to_have_text("rita commented")
    note = panel.get_by_text("New activity: the panel updates when you send the form again")
    expect(note).to_be_visible()
    expect(page.locator("#err-comment")).to_have_text("Write a comment.")
    expect(panel.locator(".comments")).to_have_count(0)

    # Sent again, properly: the form's own answer brings everything, the refusal gone.
    comment(panel, "Now with words")
    expect(panel.locator(".comments")).to_contain_text("Meanwhile")
    expect(panel.locator(".comments")).to_contain_text("Now with words")
    expect(page.locator("#err-comment")).to_have_count(0)
    expect(note).to_have_count(0)


def test_a_change_arriving_while_a_refused_form_is_on_its_way_is_said(
    team, live_server_url, browser_context_factory
) -> None:
    """The editor's review request is refused, and its answer comes after rita's comment.

    No refresh starts while the form's request is on its way (it would take
    the form, and so its answer, out of the page). When the refusal arrives,
    it shows the panel from before the comment, and stays: the page must say
    that the panel is behind, or the editor reads an old panel as current.
    """
    path = team["a"].get_absolute_url()
    page = signed_in_page(browser_context_factory, live_server_url, team["sessions"]["ed"])
    refusals, refreshes = [], []

    def answered_later(route) -> None:
        refusals.append((route, route.fetch()))

    page.route(re.compile(r"/review-requests/$"), answered_later)
    page.on("request", lambda request: PANEL.search(request.url) and refreshes.append(request))
    page.goto(path)
    panel = page.locator("#decision")
    panel.get_by_label("rita").uncheck()
    with page.expect_request(re.compile(r"/review-requests/$")):
        panel.get_by_role("button", name="Request review").click()
    while not refusals:
        page.wait_for_timeout(50)

    rita_page = signed_in_page(browser_context_factory, live_server_url, team["sessions"]["rita"])
    rita_page.goto(path)
    comment(rita_page.locator("#decision"), "Meanwhile")
    expect(page.locator("#decision-live")).to_have_text("rita commented")
    page.wait_for_timeout(300)
    assert refreshes == []
    route, response = refusals[0]
    route.fulfill(response=response)

    expect(page.locator("#err-review-request")).to_be_visible()
    expect(page.locator("#err-review-request")).to_be_focused()
    expect(panel.get_by_text("New activity: the panel updates when you send")).to_be_visible()
    expect(panel.locator(".comments")).to_have_count(0)


def test_focus_in_the_panel_survives_a_live_update(
    team, live_server_url, browser_context_factory
) -> None:
    """A keyboard user's place in the panel is kept when someone else's comment swaps it."""
    path = team["a"].get_absolute_url()
    page = signed_in_page(browser_context_factory, live_server_url, team["sessions"]["ed"])
    page.goto(path)
    panel = page.locator("#decision")
    heading = page.locator("#decision-heading")
    heading.focus()

    rita_page = signed_in_page(browser_context_factory, live_server_url, team["sessions"]["rita"])
    rita_page.goto(path)
    comment(rita_page.locator("#decision"), "Meanwhile")
    expect(panel.locator(".comments")).to_contain_text("Meanwhile")
    expect(heading).to_be_focused()

    # A button is found again by its form.
    panel.get_by_role("button", name="Request review").focus()
    comment(rita_page.locator("#decision"), "And again")
    expect(panel.locator(".comments")).to_contain_text("And again")
    expect(panel.get_by_role("button", name="Request review")).to_be_focused()


def test_choices_not_yet_sent_hold_the_live_update(
    team, live_server_url, browser_context_factory
) -> None:
    """A reviewer ticked and not yet sent is not reset by someone else's comment."""
    path = team["a"].get_absolute_url()
    page = signed_in_page(browser_context_factory, live_server_url, team["sessions"]["ed"])
    page.goto(path)
    panel = page.locator("#decision")
    panel.get_by_label("rita").check()
    page.locator("#decision-heading").focus()

    rita_page = signed_in_page(browser_context_factory, live_server_url, team["sessions"]["rita"])
    rita_page.goto(path)
    comment(rita_page.locator("#decision"), "Meanwhile")
    expect(page.locator("#decision-live")).to_have_text("rita commented")
    expect(panel.get_by_role("status").filter(has_text="New activity")).to_be_visible()
    expect(panel.get_by_label("rita")).to_be_checked()
    expect(panel.locator(".comments")).to_have_count(0)

    panel.get_by_label("rita").uncheck()
    panel.get_by_label("rita").blur()
    expect(panel.locator(".comments")).to_contain_text("Meanwhile")


def test_a_form_sent_while_a_change_arrives_keeps_its_answer(
    team, live_server_url, browser_context_factory
) -> None:
    """The editor's comment is on its way when rita's arrives: both end up in the panel."""
    path = team["a"].get_absolute_url()
    page = signed_in_page(browser_context_factory, live_server_url, team["sessions"]["ed"])
    held = []
    page.route(COMMENTS, lambda route: held.append(route))
    page.goto(path)
    panel = page.locator("#decision")
    with page.expect_request(COMMENTS):
        comment(panel, "Mine, on its way")

    rita_page = signed_in_page(browser_context_factory, live_server_url, team["sessions"]["rita"])
    rita_page.goto(path)
    comment(rita_page.locator("#decision"), "Meanwhile")
    expect(page.locator("#decision-live")).to_have_text("rita commented")
    page.wait_for_timeout(300)

    held[0].continue_()
    page.unroute(COMMENTS)
    expect(panel.locator(".comments")).to_contain_text("Mine, on its way")
    expect(panel.locator(".comments")).to_contain_text("Meanwhile")
    expect(page.locator("#decision-heading")).to_be_focused()


def test_a_panel_fetch_answered_with_an_error_is_tried_again(
    team, live_server_url, browser_context_factory
) -> None:
    """A 502 from a proxy mid-deploy: the panel is fetched again, not left behind."""
    path = team["a"].get_absolute_url()
    page = signed_in_page(browser_context_factory, live_server_url, team["sessions"]["ed"])
    answered = []

    def bad_gateway_once(route) -> None:
        answered.append(route.request.url)
        if len(answered) == 1:
            route.fulfill(status=502, body="Bad gateway")
        else:
            route.continue_()

    page.route(PANEL, bad_gateway_once)
    page.goto(path)
    rita_page = signed_in_page(browser_context_factory, live_server_url, team["sessions"]["rita"])
    rita_page.goto(path)
    comment(rita_page.locator("#decision"), "Meanwhile")
    expect(page.locator("#decision .comments")).to_contain_text("Meanwhile", timeout=10_000)
    assert len(answered) == 2


def as_user(user):
    request = RequestFactory().post("/")
    request.user = user
    return request


def test_a_failed_panel_fetch_is_fetched_again(team, live_server_url, browser_context_factory):
    """An approval is two events (the review, the status), so two refreshes of the panel at once.

    The first fetch fails: the panel is fetched again after the page's retry
    delay (3 s, fast-forwarded), one fetch at a time. (Left to htmx, the
    second refresh would be queued as a fetch of its own whose failure
    nobody hears: an uncaught rejection, and no retry.)
    """
    path = team["a"].get_absolute_url()
    off_loop(lambda: decisions.request_review(as_user(team["ed"]), team["a"], ["rita"]))
    ed_page = signed_in_page(browser_context_factory, live_server_url, team["sessions"]["ed"])
    ed_page.clock.install()
    fetches = []

    def fail_twice(route) -> None:
        fetches.append(route.request.url)
        if len(fetches) <= 2:
            route.abort()
        else:
            route.continue_()

    ed_page.route(PANEL, fail_twice)
    ed_page.goto(path)
    rita_page = signed_in_page(browser_context_factory, live_server_url, team["sessions"]["rita"])
    rita_page.goto(path)

    def failed(request) -> bool:
        return bool(PANEL.search(request.url))

    rita_page.locator("#decision").get_by_label("Approve").check()
    with ed_page.expect_event("requestfailed", predicate=failed):
        rita_page.locator("#decision").get_by_role("button", name="Send review").click()
    with ed_page.expect_event("requestfailed", predicate=failed):
        ed_page.clock.fast_forward(3000)
    ed_page.clock.fast_forward(3000)

    expect(ed_page.locator("#decision .decision-status")).to_have_text("Accepted")
    assert len(fetches) == 3


@pytest.fixture
def accepted_under_v4(catalogue_v4, live_server_url) -> dict:
    """ed's "Team chat", accepted by rita, and "Board", both scored with catalogue 3; v4 served.

    ``catalogue_v4`` comes first, so the server forked after it serves v4.
    The decision is taken with the services: the first story takes one
    through the pages.
    """
    team = make_team()
    v3 = get_catalogue("3")
    place = {"workspace": team["workspace"], "created_by": team["ed"]}
    team["a"], _ = Assessment.create_scored("Team chat", v3.preset("chat").answers, v3, **place)
    Assessment.create_scored("Board", v3.preset("dashboard").answers, v3, **place)
    decisions.request_review(as_user(team["ed"]), team["a"], ["rita"])
    decisions.review(as_user(team["rita"]), team["a"], "approve", "Ship it")
    return team


def test_accepted_decision_exported_and_flagged_by_a_newer_catalogue(
    accepted_under_v4, live_server_url, browser_context_factory
) -> None:
    team = accepted_under_v4
    page = signed_in_page(browser_context_factory, live_server_url, team["sessions"]["ed"])
    page.goto(team["a"].get_absolute_url())
    expect(page.locator("#decision .decision-status")).to_have_text("Accepted")

    # The decision record, as a repository's docs/decisions/ would keep it.
    with page.expect_download() as download:
        page.get_by_role("link", name="Download ADR (Markdown)").click()
    assert download.value.suggested_filename.endswith(".md")
    adr = Path(download.value.path()).read_text(encoding="utf-8")
    assert 'status: "accepted"' in adr
    assert "**rita** approved revision 1" in adr

    # The portfolio: both are stale under v4; only the chat's verdict would change.
    page.goto(f"/workspaces/{team['workspace'].slug}/")
    page.get_by_role("link", name="Portfolio").click()
    rows = page.locator("table.portfolio tbody tr")
    expect(rows).to_have_count(2)
    chat = rows.filter(has_text="Team chat")
    expect(chat).to_contain_text("Accepted")
    expect(chat).to_contain_text("rita")
    expect(chat.locator("td").last).to_have_text("Verdict would change")
    expect(rows.filter(has_text="Board").locator("td").last).to_have_text("Stale")

    page.get_by_label("Catalogue").select_option("would_change")
    page.get_by_role("button", name="Filter").click()
    expect(rows).to_have_count(1)
    rows.get_by_role("link", name="Team chat").click()

    # Its page says what the newer catalogue would make of the same answers.
    outlook = page.locator("#outlook")
    expect(outlook.get_by_role("heading", level=2)).to_have_text("A newer catalogue (v4) says…")
    expect(outlook).to_contain_text("change the verdict to")
