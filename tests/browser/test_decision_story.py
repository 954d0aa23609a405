"""A decision taken by two people, seen live on the editor's open page, and caught up after a drop.

The live server is daphne in a child process: a change made from this
process reaches the database but not the server's channel layer (in memory,
one per process), so its streams see it at their next heartbeat, made short
here. The reviewer's steps go through the decision services as that person
until the result page has its review forms.

The drop is a real one: the editor's browser reaches the server through a
relay in this process that the test cuts and restores. (Playwright's
``set_offline`` leaves an open stream flowing in Chromium: it fails new
requests only.)
"""

from __future__ import annotations

import contextlib
import re
import socket
import threading
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from django.contrib.auth import get_user_model
from django.test import Client, RequestFactory
from playwright.sync_api import expect

from questionnaire import decisions
from questionnaire.models import Assessment
from tests.conftest import off_loop
from workspaces.models import AuditAction, AuditEvent, Membership, Role, Workspace

pytestmark = pytest.mark.browser


def as_user(user):
    request = RequestFactory().post("/")
    request.user = user
    return request


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
def short_heartbeat(settings) -> None:
    """Set before the live server starts: its streams re-read the log every 0.3 s."""
    settings.DECISION_STREAM = {**settings.DECISION_STREAM, "HEARTBEAT": 0.3, "RETRY_MS": 300}


@pytest.fixture
def team(short_heartbeat, live_server_url, chat_answers) -> dict:
    workspace = Workspace.objects.create(slug="team", name="Team One")
    make = get_user_model().objects.create_user
    ed, rita = make("ed"), make("rita")
    Membership.objects.create(workspace=workspace, user=ed, role=Role.EDITOR)
    Membership.objects.create(workspace=workspace, user=rita, role=Role.REVIEWER)
    assessment, _ = Assessment.create_scored(
        "Team chat", chat_answers, workspace=workspace, created_by=ed
    )
    sessions = {}
    for user in (ed, rita):
        client = Client()
        client.force_login(user)
        sessions[user.get_username()] = client.cookies["sessionid"].value
    return {"ed": ed, "rita": rita, "a": assessment, "sessions": sessions}


def signed_in_page(browser_context_factory, live_server_url, session: str):
    context = browser_context_factory()
    context.add_cookies([{"name": "sessionid", "value": session, "url": live_server_url}])
    return context, context.new_page()


def test_review_seen_live_and_caught_up_after_a_drop(
    team, live_server_url, browser_context_factory, relay
) -> None:
    a = team["a"]
    ed_context, ed_page = signed_in_page(
        browser_context_factory, live_server_url, team["sessions"]["ed"]
    )
    streams = []
    ed_page.on(
        "request",
        lambda request: streams.append(request) if "/decisions/stream/" in request.url else None,
    )
    ed_page.goto(f"{relay.url}/assessments/{a.pk}/")
    status = ed_page.locator("#decision .decision-status")
    expect(status).to_have_text("Draft")
    announcer = ed_page.locator("#decision-live")

    # The editor asks for review: the open page follows.
    off_loop(lambda: decisions.request_review(as_user(team["ed"]), a, ["rita"]))
    expect(status).to_have_text("In review")
    expect(ed_page.locator("#decision .reviewers")).to_contain_text("rita")

    # The reviewer, in a second browser, sees the decision waiting for her.
    _, rita_page = signed_in_page(
        browser_context_factory, live_server_url, team["sessions"]["rita"]
    )
    rita_page.goto("/decisions/waiting/")
    expect(rita_page.get_by_role("link", name="Team chat")).to_be_visible()
    rita_count = rita_page.locator("#decisions-waiting-count")
    expect(rita_count).to_have_text("1")

    off_loop(lambda: decisions.review(as_user(team["rita"]), a, "approve", "Ship it"))

    # Without a reload: the approval, the Accepted status, and an announcement.
    expect(status).to_have_text("Accepted")
    expect(ed_page.locator("#decision .approvals")).to_contain_text("rita approved revision 1")
    expect(ed_page.locator("#decision .approvals")).to_contain_text("Ship it")
    expect(announcer).to_have_text(re.compile(r"^The decision is now accepted"))
    expect(rita_count).to_have_text("0")
    assert len(streams) == 1

    # The connection drops; a comment is made meanwhile; the page catches up.
    relay.cut()
    off_loop(lambda: decisions.add_comment(as_user(team["rita"]), a, "Made while you were away"))
    commented = off_loop(lambda: AuditEvent.objects.get(action=AuditAction.DECISION_COMMENTED).pk)
    # Several heartbeats' time: nothing can reach the page while cut.
    ed_page.wait_for_timeout(1000)
    expect(ed_page.locator("#decision .comments")).to_have_count(0)
    relay.restore()

    expect(ed_page.locator("#decision .comments")).to_contain_text("Made while you were away")
    expect(announcer).to_have_text("rita commented")
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
    a = team["a"]
    _, page = signed_in_page(browser_context_factory, live_server_url, team["sessions"]["ed"])
    page.goto(f"/assessments/{a.pk}/")
    # A form field in the panel, as the review and comment forms have.
    page.evaluate(
        """() => {
          const field = document.createElement("textarea");
          field.setAttribute("aria-label", "My note");
          document.querySelector("#decision").append(field);
        }"""
    )
    draft = page.get_by_label("My note")
    draft.fill("Half a thought")

    off_loop(lambda: decisions.add_comment(as_user(team["rita"]), a, "Meanwhile"))

    # Announced, but the panel, and the text typed in it, stay.
    expect(page.locator("#decision-live")).to_have_text("rita commented")
    expect(draft).to_have_value("Half a thought")
    expect(page.locator("#decision .comments")).to_have_count(0)

    draft.fill("")
    draft.blur()
    expect(page.locator("#decision .comments")).to_contain_text("Meanwhile")
