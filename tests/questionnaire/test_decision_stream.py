"""The live decision stream, GET /decisions/stream/ (questionnaire/live.py), over ASGI."""

from __future__ import annotations

import asyncio
import json

import pytest
import pytest_asyncio
from asgiref.sync import sync_to_async
from asgiref.testing import ApplicationCommunicator
from channels.layers import get_channel_layer
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.db import connections
from django.test import Client, RequestFactory

from advisor.asgi import application
from questionnaire import decisions, live
from questionnaire.models import Assessment
from workspaces.models import ApiToken, AuditEvent, Membership, Role, Workspace
from workspaces.streams import session_store

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

HOST = (b"host", b"127.0.0.1")


@pytest_asyncio.fixture(autouse=True)
async def quiet_layer():
    """Each test starts with an empty in-memory channel layer (one per process)."""
    layer = get_channel_layer()
    await layer.flush()
    yield
    await layer.flush()
    # The services these tests call through sync_to_async run on asgiref's
    # shared thread, which keeps its connection: closed here, or PostgreSQL
    # refuses to drop the test database at the end ("being accessed").
    await sync_to_async(connections.close_all)()


@pytest.fixture
def fast(settings):
    def set_heartbeat(seconds: float) -> None:
        settings.DECISION_STREAM = {**settings.DECISION_STREAM, "HEARTBEAT": seconds}

    return set_heartbeat


def as_user(user):
    """A request from ``user``, for calling the decision services as that person."""
    request = RequestFactory().post("/")
    request.user = user
    return request


@sync_to_async
def team_world(chat_answers):
    make = get_user_model().objects.create_user
    team = Workspace.objects.create(slug="team", name="Team")
    other = Workspace.objects.create(slug="other", name="Other")
    users = {name: make(name) for name in ("ed", "rita", "rob", "vic", "out")}
    for name, role in (("ed", Role.EDITOR), ("rita", Role.REVIEWER), ("rob", Role.REVIEWER)):
        Membership.objects.create(workspace=team, user=users[name], role=role)
    Membership.objects.create(workspace=team, user=users["vic"], role=Role.VIEWER)
    Membership.objects.create(workspace=other, user=users["out"], role=Role.OWNER)
    a, _ = Assessment.create_scored("Chat", chat_answers, workspace=team, created_by=users["ed"])
    b, _ = Assessment.create_scored("Other one", chat_answers, workspace=team)
    theirs, _ = Assessment.create_scored("Theirs", chat_answers, workspace=other)
    return {"team": team, "users": users, "a": a, "b": b, "theirs": theirs}


@sync_to_async
def cookie_for(user) -> bytes:
    client = Client()
    client.force_login(user)
    return f"{django_settings.SESSION_COOKIE_NAME}={client.cookies['sessionid'].value}".encode()


class Stream:
    """One GET of the whole ASGI application, read as text as it arrives."""

    def __init__(self, path: str, headers: list[tuple[bytes, bytes]], method: str = "GET") -> None:
        target, _, query = path.partition("?")
        scope = {
            "type": "http",
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": target,
            "raw_path": target.encode(),
            "query_string": query.encode(),
            "headers": [*headers] if any(n == b"host" for n, _ in headers) else [HOST, *headers],
            "client": ("127.0.0.1", 50000),
        }
        self.communicator = ApplicationCommunicator(application, scope)
        self.text = ""
        self.ended = False

    async def start(self) -> dict:
        await self.communicator.send_input({"type": "http.request", "body": b""})
        self.start_message = await self.communicator.receive_output(5)
        return self.start_message

    @property
    def status(self) -> int:
        return self.start_message["status"]

    @property
    def headers(self) -> dict[bytes, bytes]:
        return {name.lower(): value for name, value in self.start_message["headers"]}

    async def read_until(self, wanted: str, times: int = 1, timeout: float = 5) -> str:
        """Read until ``wanted`` arrived ``times`` times in all; the whole text so far."""
        while self.text.count(wanted) < times:
            message = await self.communicator.receive_output(timeout)
            self.text += message.get("body", b"").decode()
            if not message.get("more_body", False):
                self.ended = True
                break
        return self.text

    def events(self, kind: str) -> list[tuple[int | None, dict]]:
        """The (id, data) of every event of this kind so far."""
        found = []
        for block in self.text.split("\n\n"):
            fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
            if fields.get("event") == kind:
                event_id = int(fields["id"]) if "id" in fields else None
                found.append((event_id, json.loads(fields["data"])))
        return found

    async def close(self) -> None:
        await self.communicator.send_input({"type": "http.disconnect"})
        await self.communicator.wait(5)


async def open_stream(path: str, *headers: tuple[bytes, bytes]) -> Stream:
    stream = Stream(path, list(headers))
    await stream.start()
    return stream


def stream_path(assessment=None, last: int | None = None) -> str:
    query = []
    if assessment is not None:
        query.append(f"assessment={assessment.pk}")
    if last is not None:
        query.append(f"last_event_id={last}")
    return "/decisions/stream/" + ("?" + "&".join(query) if query else "")


@sync_to_async
def newest_id() -> int:
    """The newest decision event (the tests' workspaces are the members' only ones)."""
    decided = AuditEvent.objects.filter(action__in=live.DECISION_ACTIONS)
    return decided.order_by("-pk").values_list("pk", flat=True).first() or 0


async def test_not_signed_in_is_401(settings):
    settings.ADVISOR_ANONYMOUS = False
    stream = await open_stream("/decisions/stream/")
    assert stream.status == 401
    await stream.read_until("}")
    assert json.loads(stream.text)["errors"]["auth"]


async def test_not_signed_in_is_401_in_anonymous_mode_too(settings):
    settings.ADVISOR_ANONYMOUS = True
    stream = await open_stream("/decisions/stream/")
    assert stream.status == 401


async def test_unknown_token_is_401_as_on_the_api(chat_answers):
    stream = await open_stream("/decisions/stream/", (b"authorization", b"Bearer adv_unknown"))
    assert stream.status == 401
    assert stream.headers[b"www-authenticate"] == b'Bearer realm="advisor"'
    await stream.read_until("}")
    assert json.loads(stream.text) == {
        "errors": {"auth": "the token is unknown, revoked or expired, or its user left"}
    }


async def test_only_get_and_head(chat_answers):
    world = await team_world(chat_answers)
    cookie = (b"cookie", await cookie_for(world["users"]["vic"]))
    post = Stream("/decisions/stream/", [cookie], method="POST")
    await post.start()
    assert post.status == 405
    assert post.headers[b"allow"] == b"GET, HEAD"
    head = Stream(stream_path(world["a"]), [cookie], method="HEAD")
    await head.start()
    assert head.status == 200
    assert head.headers[b"content-type"] == b"text/event-stream; charset=utf-8"
    assert await head.read_until("never comes") == ""
    assert head.ended


async def test_another_host_is_400(chat_answers):
    world = await team_world(chat_answers)
    cookie = (b"cookie", await cookie_for(world["users"]["vic"]))
    stream = await open_stream("/decisions/stream/", (b"host", b"evil.example"), cookie)
    assert stream.status == 400


async def test_another_workspaces_assessment_is_404(chat_answers):
    world = await team_world(chat_answers)
    cookie = await cookie_for(world["users"]["out"])
    for path in (
        stream_path(world["a"]),
        "/decisions/stream/?assessment=not-a-uuid",
        "/decisions/stream/?assessment=",
    ):
        stream = await open_stream(path, (b"cookie", cookie))
        assert stream.status == 404
        await stream.read_until("}")
        # The one answer for "not yours" and "no such": nothing to tell them apart.
        assert json.loads(stream.text) == {"errors": {"assessment": "not found"}}


async def test_stream_headers_retry_and_first_count(chat_answers):
    world = await team_world(chat_answers)
    stream = await open_stream(
        stream_path(world["a"]), (b"cookie", await cookie_for(world["users"]["vic"]))
    )
    assert stream.status == 200
    assert stream.headers[b"content-type"] == b"text/event-stream; charset=utf-8"
    assert stream.headers[b"cache-control"] == b"no-cache"
    assert stream.headers[b"x-accel-buffering"] == b"no"
    assert stream.headers[b"x-content-type-options"] == b"nosniff"
    await stream.read_until("event: waiting")
    assert stream.text.startswith("retry: 3000\n\n")
    assert stream.events("waiting") == [(await newest_id(), {"count": 0})]
    await stream.close()


async def test_a_comment_arrives_live_as_a_decision_event(chat_answers):
    world = await team_world(chat_answers)
    stream = await open_stream(
        stream_path(world["a"]), (b"cookie", await cookie_for(world["users"]["vic"]))
    )
    await stream.read_until("event: waiting")

    await sync_to_async(decisions.add_comment)(as_user(world["users"]["rita"]), world["a"], "Hi")
    await stream.read_until("event: decision")

    [(event_id, data)] = stream.events("decision")
    assert event_id == data["id"] == await newest_id()
    assert data["action"] == "decision_commented"
    assert data["actor"] == "rita"
    assert data["summary"] == "rita commented"
    assert data["status"] == "draft"
    await stream.close()


async def test_resume_sends_exactly_the_missed_events_of_the_assessment(chat_answers):
    world = await team_world(chat_answers)
    users, a, b = world["users"], world["a"], world["b"]
    comment = sync_to_async(decisions.add_comment)
    await comment(as_user(users["ed"]), a, "seen")
    seen = await newest_id()
    await comment(as_user(users["ed"]), a, "missed one")
    await comment(as_user(users["ed"]), b, "another assessment's")
    await sync_to_async(decisions.request_review)(as_user(users["ed"]), a, ["rita"])
    missed = await sync_to_async(
        lambda: list(
            AuditEvent.objects.filter(pk__gt=seen, object_id=str(a.pk))
            .order_by("pk")
            .values_list("pk", "action")
        )
    )()

    stream = await open_stream(
        stream_path(a),
        (b"cookie", await cookie_for(users["vic"])),
        (b"last-event-id", str(seen).encode()),
    )
    await stream.read_until("event: waiting")

    got = [(event_id, data["action"]) for event_id, data in stream.events("decision")]
    assert got == missed
    assert [action for _, action in got] == [
        "decision_commented",
        "review_requested",
        "decision_status_changed",
    ]
    assert stream.events("decision")[-1][1]["status"] == "in_review"
    await stream.close()


async def test_first_connect_resumes_from_the_pages_id(chat_answers):
    world = await team_world(chat_answers)
    rendered = await newest_id()
    await sync_to_async(decisions.add_comment)(as_user(world["users"]["ed"]), world["a"], "x")

    stream = await open_stream(
        stream_path(world["a"], last=rendered),
        (b"cookie", await cookie_for(world["users"]["vic"])),
    )
    await stream.read_until("event: waiting")

    assert [data["summary"] for _, data in stream.events("decision")] == ["ed commented"]
    await stream.close()


async def test_waiting_count_follows_review_requests_and_reviews(chat_answers):
    world = await team_world(chat_answers)
    users, a = world["users"], world["a"]
    stream = await open_stream(stream_path(), (b"cookie", await cookie_for(users["rita"])))
    await stream.read_until("event: waiting")

    await sync_to_async(decisions.request_review)(as_user(users["ed"]), a, ["rita", "rob"])
    await stream.read_until('{"count": 1}')
    await sync_to_async(decisions.review)(as_user(users["rita"]), a, "approve", "Fine")
    await stream.read_until('{"count": 0}', times=2)

    assert [data for _, data in stream.events("waiting")] == [
        {"count": 0},
        {"count": 1},
        {"count": 0},
    ]
    # No assessment watched: no decision events.
    assert stream.events("decision") == []
    await stream.close()


async def test_removed_member_is_cut_off(chat_answers, fast):
    fast(0.05)
    world = await team_world(chat_answers)
    vic = world["users"]["vic"]
    stream = await open_stream(stream_path(world["a"]), (b"cookie", await cookie_for(vic)))
    await stream.read_until("event: waiting")

    await sync_to_async(Membership.objects.filter(user=vic).delete)()
    await stream.read_until("event: closed")

    await stream.read_until("never comes")
    assert stream.ended
    again = await open_stream(stream_path(world["a"]), (b"cookie", await cookie_for(vic)))
    assert again.status == 404


async def test_revoked_token_is_cut_off(chat_answers, fast):
    fast(0.05)
    world = await team_world(chat_answers)
    token, secret = await sync_to_async(ApiToken.issue)(world["users"]["vic"], world["team"])
    bearer = (b"authorization", f"Bearer {secret}".encode())
    stream = await open_stream(stream_path(world["a"]), bearer)
    assert stream.status == 200
    await stream.read_until("event: waiting")

    await sync_to_async(token.revoke)()
    await stream.read_until("event: closed")
    await stream.read_until("never comes")
    assert stream.ended


async def test_token_of_another_workspace_gets_404(chat_answers):
    world = await team_world(chat_answers)
    other = await sync_to_async(Workspace.objects.get)(slug="other")
    _, secret = await sync_to_async(ApiToken.issue)(world["users"]["out"], other)
    stream = await open_stream(
        stream_path(world["a"]), (b"authorization", f"Bearer {secret}".encode())
    )
    assert stream.status == 404


async def test_heartbeat_comment_and_a_lost_wake_up_caught_by_it(chat_answers, fast):
    fast(0.05)
    world = await team_world(chat_answers)
    stream = await open_stream(
        stream_path(world["a"]), (b"cookie", await cookie_for(world["users"]["vic"]))
    )
    await stream.read_until(": heartbeat\n\n")

    # No wake-up for this change (as after a lost message or a change made
    # in another process without a shared layer): the heartbeat reads it.
    decisions.decision_changed.disconnect(dispatch_uid="decision-stream-publish")
    try:
        await sync_to_async(decisions.add_comment)(as_user(world["users"]["ed"]), world["a"], "x")
    finally:
        decisions.decision_changed.connect(live.publish, dispatch_uid="decision-stream-publish")
    await stream.read_until("event: decision")
    assert [data["summary"] for _, data in stream.events("decision")] == ["ed commented"]
    await stream.close()


async def test_streams_per_person_are_capped(chat_answers, settings):
    settings.DECISION_STREAM = {**settings.DECISION_STREAM, "MAX_PER_USER": 1}
    world = await team_world(chat_answers)
    cookie = (b"cookie", await cookie_for(world["users"]["vic"]))
    first = await open_stream(stream_path(), cookie)
    await first.read_until("event: waiting")

    refused = await open_stream(stream_path(), cookie)
    assert refused.status == 429
    assert refused.headers[b"retry-after"] == b"5"

    await first.close()
    assert live.streams.count() == 0
    again = await open_stream(stream_path(), cookie)
    assert again.status == 200
    await again.close()


async def test_disconnect_leaves_the_groups(chat_answers):
    world = await team_world(chat_answers)
    vic = world["users"]["vic"]
    stream = await open_stream(stream_path(world["a"]), (b"cookie", await cookie_for(vic)))
    await stream.read_until("event: waiting")
    layer = get_channel_layer()
    groups = [live.user_group(vic.pk), live.assessment_group(world["a"].pk)]
    assert [len(layer.groups.get(group, {})) for group in groups] == [1, 1]

    await stream.close()

    assert not any(group in layer.groups for group in groups)


async def test_an_outsiders_stream_hears_nothing_of_another_workspace(chat_answers):
    world = await team_world(chat_answers)
    out = world["users"]["out"]
    stream = await open_stream(stream_path(), (b"cookie", await cookie_for(out)))
    await stream.read_until("event: waiting")
    layer = get_channel_layer()

    await sync_to_async(decisions.add_comment)(as_user(world["users"]["ed"]), world["a"], "x")

    assert live.assessment_group(world["a"].pk) not in layer.groups
    assert len(layer.groups[live.user_group(out.pk)]) == 1
    assert stream.events("decision") == []
    await stream.close()


@pytest.fixture
def polls(monkeypatch):
    """Every read of the log by an open stream: (username, assessment watched, recount asked)."""
    done = []
    read = live.poll

    def counted(watch, *, recount=False):
        done.append((watch.principal.user.username, watch.assessment_id, recount))
        return read(watch, recount=recount)

    monkeypatch.setattr(live, "poll", counted)
    return done


async def until(condition, timeout: float = 5) -> None:
    """Wait for a stream's task to have done something that shows in no response."""
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


async def test_a_comment_wakes_only_the_streams_watching_its_assessment(chat_answers, polls):
    world = await team_world(chat_answers)
    users, team = world["users"], world["team"]
    watching_a = await open_stream(
        stream_path(world["a"]), (b"cookie", await cookie_for(users["ed"]))
    )
    watching_b = await open_stream(
        stream_path(world["b"]), (b"cookie", await cookie_for(users["vic"]))
    )
    header = await open_stream(stream_path(), (b"cookie", await cookie_for(users["rob"])))
    for stream in (watching_a, watching_b, header):
        await stream.read_until("event: waiting")
    polls.clear()

    await sync_to_async(decisions.add_comment)(as_user(users["rita"]), world["a"], "For A")
    await watching_a.read_until("event: decision")
    # Then a wake-up of vic's and rob's own (their memberships saved): a
    # wake-up for the comment would have reached them first, and been read.
    for name in ("vic", "rob"):
        membership = await sync_to_async(Membership.objects.get)(workspace=team, user=users[name])
        await sync_to_async(membership.save)()
    await until(lambda: len(polls) >= 3)

    assert sorted((name, recount) for name, _, recount in polls) == [
        # The comment: A's events read, no recount (a comment changes no count).
        ("ed", False),
        ("rob", True),
        ("vic", True),
    ]
    assert watching_b.events("decision") == [] and header.events("decision") == []
    for stream in (watching_a, watching_b, header):
        await stream.close()


async def test_a_header_only_count_is_recounted_at_the_heartbeat_without_a_wake_up(
    chat_answers, fast
):
    fast(0.05)
    world = await team_world(chat_answers)
    users = world["users"]
    stream = await open_stream(stream_path(), (b"cookie", await cookie_for(users["rita"])))
    await stream.read_until("event: waiting")

    decisions.decision_changed.disconnect(dispatch_uid="decision-stream-publish")
    try:
        await sync_to_async(decisions.request_review)(as_user(users["ed"]), world["a"], ["rita"])
    finally:
        decisions.decision_changed.connect(live.publish, dispatch_uid="decision-stream-publish")
    await stream.read_until('{"count": 1}')
    await stream.close()


async def test_a_removed_member_is_cut_off_at_once_not_at_the_next_heartbeat(chat_answers):
    world = await team_world(chat_answers)
    vic = world["users"]["vic"]
    stream = await open_stream(stream_path(world["a"]), (b"cookie", await cookie_for(vic)))
    await stream.read_until("event: waiting")

    await sync_to_async(Membership.objects.filter(user=vic).delete)()

    # The heartbeat (15 s) is three times the read's timeout.
    await stream.read_until("event: closed")
    await stream.read_until("never comes")
    assert stream.ended


async def test_an_event_committed_after_a_later_id_is_still_sent(chat_answers, fast):
    """On PostgreSQL two transactions may commit out of id order: another
    assessment's event can be read before an earlier id of the watched one."""
    fast(0.05)
    world = await team_world(chat_answers)
    stream = await open_stream(
        stream_path(world["a"]), (b"cookie", await cookie_for(world["users"]["vic"]))
    )
    await stream.read_until("event: waiting")
    start = await newest_id()

    def log(pk: int, assessment) -> None:
        AuditEvent.objects.create(
            pk=pk,
            action="decision_commented",
            workspace=world["team"],
            actor="ed",
            object_type="assessment",
            object_id=str(assessment.pk),
            detail={},
        )

    await sync_to_async(log)(start + 5, world["b"])
    await stream.read_until(f"id: {start + 5}\n\n")
    await sync_to_async(log)(start + 2, world["a"])
    await stream.read_until("event: decision")

    assert [event_id for event_id, _ in stream.events("decision")] == [start + 2]
    await stream.close()


async def test_a_tokens_stream_counts_its_workspace_only_and_ends_when_its_person_leaves(
    chat_answers, fast
):
    """A token sees one workspace: its count too; and it stops when its person leaves it."""
    fast(0.05)
    world = await team_world(chat_answers)
    users = world["users"]
    other = await sync_to_async(Workspace.objects.get)(slug="other")
    await sync_to_async(Membership.objects.create)(
        workspace=other, user=users["rita"], role=Role.REVIEWER
    )
    await sync_to_async(decisions.request_review)(as_user(users["out"]), world["theirs"], ["rita"])
    _, secret = await sync_to_async(ApiToken.issue)(users["rita"], world["team"])
    bearer = (b"authorization", f"Bearer {secret}".encode())
    stream = await open_stream(stream_path(), bearer)

    await stream.read_until("event: waiting")
    assert [data for _, data in stream.events("waiting")] == [{"count": 0}]

    await sync_to_async(
        Membership.objects.filter(user=users["rita"], workspace=world["team"]).delete
    )()
    await stream.read_until("event: closed")
    await stream.read_until("never comes")
    assert stream.ended


async def test_events_name_people_not_their_tokens_and_start_at_my_workspaces_newest(
    chat_answers,
):
    world = await team_world(chat_answers)
    users, a = world["users"], world["a"]
    _, secret = await sync_to_async(ApiToken.issue)(users["ed"], world["team"])
    vic = await cookie_for(users["vic"])
    stream = await open_stream(stream_path(a), (b"cookie", vic))
    await stream.read_until("event: waiting")
    # A busy other workspace moves nothing a member of team can read.
    await sync_to_async(decisions.add_comment)(as_user(users["out"]), world["theirs"], "elsewhere")
    first = await open_stream(stream_path(a), (b"cookie", vic))
    await first.read_until("event: waiting")
    assert first.events("waiting")[0][0] < await newest_id()

    client = Client(headers={"Authorization": f"Bearer {secret}"})
    response = await sync_to_async(client.post)(
        f"/api/assessments/{a.pk}/comments/", {"body": "Why SSE?"}, content_type="application/json"
    )
    assert response.status_code == 201
    await stream.read_until("event: decision")
    ((_, event),) = stream.events("decision")
    assert event["actor"] == "ed" and "adv_" not in stream.text
    await stream.close()
    await first.close()


@pytest.mark.parametrize("how", ["sign-out", "password change"])
async def test_a_session_ended_ends_its_open_stream(chat_answers, fast, how):
    """Signing out, or changing the password after a theft, ends a stream already open."""
    fast(0.05)
    world = await team_world(chat_answers)
    vic = world["users"]["vic"]
    cookie = await cookie_for(vic)
    stream = await open_stream(stream_path(world["a"]), (b"cookie", cookie))
    await stream.read_until("event: waiting")

    if how == "sign-out":
        key = cookie.decode().split("=", 1)[1]
        await sync_to_async(session_store(key).delete)()
    else:
        vic.set_password("a-new-secret-42")
        await sync_to_async(vic.save)()
    await stream.read_until("event: closed")
    await stream.read_until("never comes")

    assert stream.ended
    again = await open_stream(stream_path(world["a"]), (b"cookie", cookie))
    assert again.status == 401


async def test_another_sites_malformed_cookie_costs_nobody_their_stream(chat_answers):
    world = await team_world(chat_answers)
    cookie = await cookie_for(world["users"]["vic"])
    stream = await open_stream(
        stream_path(world["a"]), (b"cookie", b'foo=bar baz; x={"a":1}; ' + cookie)
    )
    assert stream.status == 200
    await stream.close()


async def test_a_resume_from_long_ago_replays_a_bounded_tail(chat_answers):
    world = await team_world(chat_answers)
    users, a = world["users"], world["a"]
    for n in range(live.REPLAY + 5):
        await sync_to_async(decisions.add_comment)(as_user(users["ed"]), a, f"comment {n}")
    stream = await open_stream(stream_path(a, last=0), (b"cookie", await cookie_for(users["vic"])))
    await stream.read_until("event: waiting")

    sent = stream.events("decision")
    assert len(sent) == live.REPLAY
    assert sent[-1][0] == await newest_id()
    await stream.close()
