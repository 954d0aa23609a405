"""The live decision stream, ``GET /decisions/stream/``: Server-Sent Events for a signed-in page.

Our own advice for one-way, per-user notifications to browsers is SSE
(docs/self-assessment.md scores the advisor's own answers), so the result
page's decision panel and the header's count of decisions waiting for review
are kept current over one event stream per page.

- The audit log is the source of truth: every decision change writes an
  ``AuditEvent`` (increasing ids), and SSE event ids are those ids. A
  reconnect (``Last-Event-ID``) or a first connect from a page
  (``?last_event_id=``, the newest id when the page was rendered) gets
  exactly what it missed, read from the log.
- Wake-ups cross processes through the channel layer, and only to the
  streams a change concerns: ``decision_changed`` (sent on commit) publishes
  the event's id to its assessment's group (the streams watching it) and,
  unless it is a comment, to the groups of the assessment's named reviewers
  (whose waiting count it may change); a membership's change wakes its
  person's group. Each stream listens on its own channel in its person's
  group and, when it watches one, its assessment's. It also re-reads the log
  and recounts every heartbeat, so a lost wake-up (a restart of Redis, a
  change made by a command, a change of the workspace's sign-off rules)
  costs at most one heartbeat.
- It is a plain ASGI application routed ahead of Django (``routing.py``,
  ``advisor/asgi.py``), not a Django view: Django's per-request context keeps
  a thread for the whole life of a request once any thread-sensitive sync
  code ran in it (the session's look-up, the async ORM), which for a stream
  is one idle thread per open page. Here every read runs on the thread
  asgiref shares for such work outside a request, and closes its database
  connection after (``database_sync_to_async``).
- Who it answers is decided as for the pages, by the same functions: the
  middleware's bearer-token look-up, else the session cookie's signed-in
  user (``workspaces.streams.signed_in_user``), then ``access.decide``.
  ``AllowedHostsMiddleware`` has checked the host already. Cross-origin reads
  need no check of their own: another site's EventSource carries no session
  cookie (SameSite=Lax), and with no CORS headers here it could not read the
  answer anyway.
- The client's disconnect cancels the stream (``serve_until_disconnect``, as
  the demo's stream does), which leaves the groups and releases its place.
  Access is checked again at every wake-up: a member removed, a token revoked
  or a user deactivated mid-stream gets an ``event: closed`` and the stream
  ends; the reconnect is refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import parse_qs

from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Max
from django.http import HttpResponse, HttpResponseNotAllowed

from advisor.clients import OpenConnections
from advisor.http import error_response, whole_number
from advisor.origins import Scope, header
from live_demo.events import format_comment, format_event
from live_demo.sse import HEADERS, serve_until_disconnect
from workspaces import access
from workspaces.access import ALLOWED, NOT_FOUND, UNAUTHENTICATED, Action, Principal
from workspaces.middleware import TOKEN_REFUSED
from workspaces.models import ApiToken, AuditAction, AuditEvent, Membership
from workspaces.streams import session_key_of, session_user_id, stream_principal

from . import decisions
from .models import Assessment, DecisionStatus, Reviewer

logger = logging.getLogger(__name__)

# The audit actions a decision change writes (questionnaire.decisions).
DECISION_ACTIONS = frozenset(
    {
        AuditAction.REVIEW_REQUESTED,
        AuditAction.REVIEW_APPROVED,
        AuditAction.REVIEW_CHANGES_REQUESTED,
        AuditAction.DECISION_COMMENTED,
        AuditAction.DECISION_STATUS_CHANGED,
        AuditAction.DECISION_SUPERSEDED,
    }
)
# Events read from the log at a time; a long resume reads several batches.
# At most this many missed events of the watched assessment are replayed on
# a resume: each only makes the page fetch the panel again, which shows the
# whole state, so older ones would cost time and memory for nothing.
REPLAY = 50
NOT_FOUND_BODY = {"assessment": "not found"}
# Routed in advisor/asgi.py (questionnaire/routing.py), not in the URLconf.
STREAM_PATH = "/decisions/stream/"

# Open streams per user in this process (a tab holds one): a script cannot
# hold thousands of them, each re-reading the log every heartbeat.
streams = OpenConnections("decision streams")


def assessment_group(assessment_id: uuid.UUID) -> str:
    """The streams watching one assessment."""
    return f"decisions.a.{assessment_id.hex}"


def user_group(user_id: int) -> str:
    """The streams of one person: their waiting count, and their access."""
    return f"decisions.u.{user_id}"


def publish(sender, assessment: Assessment, event: AuditEvent, **kwargs) -> None:
    """Wake the streams the event concerns (``decision_changed``'s receiver).

    Those watching its assessment read its events; the named reviewers'
    recount what waits for them (every one of them: a status change or a
    new revision changes it for all, a request names some anew, and a review
    is its reviewer's). A comment changes no count. A wake-up is only a hint,
    carrying the event's id: the streams read the log themselves. One that is
    lost costs a heartbeat, never an event.
    """
    if event.workspace_id is None:
        return
    groups = {assessment_group(assessment.pk): False}
    try:
        if event.action != AuditAction.DECISION_COMMENTED:
            reviewers = Reviewer.objects.filter(assessment=assessment).values_list(
                "user_id", flat=True
            )
            groups.update({user_group(user_id): True for user_id in reviewers})
        wake(groups, event.pk)
    except Exception:
        logger.exception("decision stream: could not publish the wake-up for event %s", event.pk)


def membership_changed(sender, instance: Membership, **kwargs) -> None:
    """A person joined, left or changed role in a workspace: their streams check at once.

    Connected to Membership's post_save and post_delete (apps.py); without it
    the heartbeat's access check would end a removed member's stream within
    one heartbeat.
    """
    user_id = instance.user_id

    def send() -> None:
        try:
            wake({user_group(user_id): True}, None)
        except Exception:
            logger.exception("decision stream: could not wake the streams of user %s", user_id)

    transaction.on_commit(send)


def wake(groups: dict[str, bool], event_id: int | None) -> None:
    """Send each group a wake-up; ``True`` asks its streams to recount what waits for them.

    ``event_id`` None: no event to skip as already read (a membership change).
    """
    layer = get_channel_layer()
    if layer is None:
        return

    async def send_all() -> None:
        for group, recount in groups.items():
            message = {"type": "decision.changed", "id": event_id, "waiting": recount}
            await layer.group_send(group, message)

    async_to_sync(send_all)()


@dataclass
class Watch:
    """One open stream: who, what it watches, and how far it has read the log."""

    principal: Principal
    assessment_id: uuid.UUID | None
    workspaces: frozenset[int]
    # The newest decision event of the person's workspaces read, and the
    # newest of the watched assessment's sent.
    cursor: int
    seen: int
    waiting: int | None = None
    # The session a signed-in page's stream came with ("" for a token): a
    # sign-out or a password change ends the stream as it ends the session.
    session_key: str = ""
    # The cursor when the count was last taken: a person's wake-up for an
    # event at or before it brings nothing new.
    counted: int = 0


def check(watch: Watch, *, session: bool = False) -> int:
    """ALLOWED, or why the stream must stop now: read afresh, at every wake-up.

    ``session`` (at each heartbeat) also reads the page's session again: a
    sign-out or a password change ends the stream within a heartbeat, as a
    revoked token's does, without a session read at every wake-up.
    """
    principal = watch.principal
    principal.forget_roles()
    if session and watch.session_key and session_user_id(watch.session_key) != principal.user.pk:
        return UNAUTHENTICATED
    if principal.token is not None and (
        not ApiToken.objects.live().filter(pk=principal.token.pk).exists()
        # A token whose person left its workspace opens nothing, as on every
        # other endpoint (workspaces.middleware).
        or principal.role_in(principal.token.workspace_id) is None
    ):
        return UNAUTHENTICATED
    if not get_user_model().objects.filter(pk=principal.user.pk, is_active=True).exists():
        return UNAUTHENTICATED
    watch.workspaces = frozenset(
        access.memberships(principal).values_list("workspace_id", flat=True)
    )
    if watch.assessment_id is None:
        return ALLOWED
    assessment = Assessment.objects.filter(pk=watch.assessment_id).first()
    if assessment is None:
        return NOT_FOUND
    return access.decide(principal, Action.VIEW, assessment)


def newest_id(principal: Principal) -> int:
    """The newest decision event of the principal's workspaces: where a stream starts.

    Of theirs only: the log's own newest id would tell anyone how busy the
    other workspaces (and the sign-in page) are.
    """
    workspaces = [membership.workspace_id for membership in access.my_memberships(principal)]
    return (
        AuditEvent.objects.filter(
            action__in=DECISION_ACTIONS, workspace_id__in=workspaces
        ).aggregate(newest=Max("pk"))["newest"]
        or 0
    )


def actor(event: AuditEvent) -> str:
    """Who did it, as members see it: a token's prefix is for its workspace's owners only."""
    return event.actor.split(" (token ", 1)[0]


def summary(event: AuditEvent) -> str:
    """One plain sentence for the page's live region (shown as text, never HTML)."""
    detail = event.detail or {}
    revision = detail.get("revision")
    if event.action == AuditAction.REVIEW_REQUESTED:
        return f"{actor(event)} asked {', '.join(detail.get('reviewers', []))} to review"
    if event.action == AuditAction.REVIEW_APPROVED:
        return f"{actor(event)} approved revision {revision}"
    if event.action == AuditAction.REVIEW_CHANGES_REQUESTED:
        return f"{actor(event)} requested changes to revision {revision}"
    if event.action == AuditAction.DECISION_COMMENTED:
        return f"{actor(event)} commented"
    if event.action == AuditAction.DECISION_SUPERSEDED:
        return f"{actor(event)} marked it superseded by {detail.get('by_title', 'another')}"
    to = detail.get("to", "")
    label = DecisionStatus(to).label if to in DecisionStatus.values else to
    return f"The decision is now {label.lower()} ({detail.get('reason', '')})"


def decision_event(event: AuditEvent, status: str) -> bytes:
    data = {
        "id": event.pk,
        "action": event.action,
        "status": (event.detail or {}).get("to") or status,
        "actor": actor(event),
        "at": event.at.isoformat(),
        "summary": summary(event),
    }
    return format_event(json.dumps(data, ensure_ascii=False), event="decision", id=event.pk)


def poll(watch: Watch, *, recount: bool = False) -> tuple[bytes, int]:
    """What the log holds past the cursors for this stream, and whether it may go on.

    ``decision`` events for the watched assessment; then ``waiting`` when the
    count of decisions waiting for this person's review has changed (or on the
    first poll, and only when ``recount`` asks); then the cursor itself (an
    ``id:`` alone, which moves the browser's Last-Event-ID without an event)
    so a resume starts past it. A wake-up for the watched assessment alone
    (a comment) reads its events and nothing else.

    The watched assessment's events are read past the last one sent, not past
    the log's cursor: they are written under a lock on its row, so they commit
    in id order, while another assessment's event may commit before an
    earlier id (PostgreSQL), which a shared cursor would step over. The count
    is recounted at every heartbeat (``recount``) for the same reason.
    """
    before = watch.workspaces
    status = check(watch, session=recount)
    if status != ALLOWED:
        return format_event(json.dumps({"reason": "access"}), event="closed"), status
    chunks = []
    written = watch.cursor
    if watch.assessment_id is not None:
        chunks.extend(assessment_events(watch))
        written = watch.seen
    # The person joined or left a workspace: the count may have changed.
    recount = recount or watch.workspaces != before or watch.waiting is None
    if recount:
        watch.cursor = (
            AuditEvent.objects.filter(
                pk__gt=watch.cursor, action__in=DECISION_ACTIONS, workspace_id__in=watch.workspaces
            ).aggregate(newest=Max("pk"))["newest"]
            or watch.cursor
        )
    watch.cursor = max(watch.cursor, watch.seen)
    if recount:
        watch.counted = watch.cursor
        count = len(decisions.waiting_for(watch.principal))
        if count != watch.waiting:
            watch.waiting = count
            payload = json.dumps({"count": count})
            chunks.append(format_event(payload, event="waiting", id=watch.cursor))
            written = watch.cursor
    if written != watch.cursor:
        chunks.append(f"id: {watch.cursor}\n\n".encode())
    return b"".join(chunks), ALLOWED


def assessment_events(watch: Watch) -> list[bytes]:
    """The watched assessment's decision events past the last one sent: the newest REPLAY.

    Bounded, so that a resume from long ago (or from 0) costs one small
    read, not the assessment's whole history.
    """
    newest = list(
        AuditEvent.objects.filter(
            pk__gt=watch.seen,
            action__in=DECISION_ACTIONS,
            object_type="assessment",
            object_id=str(watch.assessment_id),
        ).order_by("-pk")[:REPLAY]
    )
    if not newest:
        return []
    status = (
        Assessment.objects.filter(pk=watch.assessment_id).values_list("status", flat=True).first()
    )
    watch.seen = newest[0].pk
    return [decision_event(event, status or "") for event in reversed(newest)]


def open_watch(principal: Principal, assessment_id: uuid.UUID | None, last: int | None):
    """A Watch resuming after ``last`` (or from now), or the status that refuses it."""
    newest = newest_id(principal)
    cursor = newest if last is None else min(last, newest)
    watch = Watch(principal, assessment_id, frozenset(), cursor, cursor)
    status = check(watch)
    return (watch if status == ALLOWED else None), status


def refusal(status: int) -> HttpResponse:
    if status == NOT_FOUND:
        return access.api_refusal(NOT_FOUND, not_found=NOT_FOUND_BODY)
    return access.api_refusal(status)


async def decision_stream(scope: Scope, receive, send) -> None:
    """The page's event stream: its assessment's decision events, and the waiting count."""
    if scope["method"] not in {"GET", "HEAD"}:
        await answer(scope, send, HttpResponseNotAllowed(["GET", "HEAD"]))
        return
    principal = await principal_from(scope)
    if isinstance(principal, HttpResponse):
        await answer(scope, send, principal)
        return
    raw = query_value(scope, "assessment")
    assessment_id = None
    if raw is not None:
        try:
            assessment_id = uuid.UUID(raw)
        except ValueError:
            await answer(scope, send, error_response(404, NOT_FOUND_BODY))
            return
    if scope["method"] == "HEAD":
        await opened(scope, send, receive, principal, assessment_id)
        return
    # The place is taken before any read: a person over the cap costs no query.
    limit = settings.DECISION_STREAM["MAX_PER_USER"]
    slot = streams.acquire(f"user:{principal.user.pk}", limit)
    if slot is None:
        message = f"at most {limit} open decision streams per person"
        await answer(scope, send, error_response(429, {"stream": message}, Retry_After="5"))
        return
    with slot:
        await opened(scope, send, receive, principal, assessment_id)


async def opened(scope: Scope, send, receive, principal: Principal, assessment_id) -> None:
    """Open the watch and serve it (HEAD: the headers alone), or answer its refusal."""
    watch, status = await database_sync_to_async(open_watch)(
        principal, assessment_id, requested_last_id(scope)
    )
    if watch is None:
        await answer(scope, send, refusal(status))
        return
    if principal.token is None:
        watch.session_key = session_key_of(scope)
    if scope["method"] == "HEAD":
        await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
        await send({"type": "http.response.body", "body": b""})
        return
    await serve_until_disconnect(asyncio.create_task(serve(send, watch)), receive)


async def principal_from(scope: Scope) -> Principal | HttpResponse:
    """The bearer token's principal, else the session's signed-in person; else the 401.

    The same two ways in as Django's pages, by the same functions: the
    middleware's token look-up (membership, expiry, revocation, last used)
    and the session's user with its auth hash checked. Anonymous mode does
    not matter: a stream is a signed-in person's (a share link's page opens
    none).
    """
    principal = await stream_principal(scope)
    if principal is not None:
        return principal
    token_sent = header(scope, b"authorization") is not None
    return access.api_refusal(UNAUTHENTICATED, TOKEN_REFUSED if token_sent else "")


def query_value(scope: Scope, name: str) -> str | None:
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
    values = query.get(name)
    return values[-1] if values else None


def requested_last_id(scope: Scope) -> int | None:
    """Last-Event-ID (a reconnect), else ?last_event_id= (a page's first connect)."""
    raw = header(scope, b"last-event-id")
    if raw is None:
        raw = query_value(scope, "last_event_id")
    return whole_number((raw or "").strip(), 18)


async def answer(scope: Scope, send, response: HttpResponse) -> None:
    """A refusal, made by the site's own functions, sent as Django would send it."""
    response["X-Content-Type-Options"] = "nosniff"
    headers = [
        (name.encode("latin-1"), value.encode("latin-1")) for name, value in response.items()
    ]
    await send({"type": "http.response.start", "status": response.status_code, "headers": headers})
    body = b"" if scope["method"] == "HEAD" else response.content
    await send({"type": "http.response.body", "body": body})


async def serve(send, watch: Watch) -> None:
    """The response: headers, then every chunk as it comes, until access ends."""
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    async with contextlib.aclosing(events(watch)) as chunks:
        async for chunk in chunks:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
    await send({"type": "http.response.body", "body": b""})


async def events(watch: Watch) -> AsyncIterator[bytes]:
    """retry:, what was missed, then whatever each wake-up or heartbeat finds."""
    options = settings.DECISION_STREAM
    layer = get_channel_layer()
    channel = await layer.new_channel() if layer is not None else None
    groups = stream_groups(watch)
    try:
        first, status = await database_sync_to_async(poll)(watch)
        yield f"retry: {options['RETRY_MS']}\n\n".encode() + first
        while status == ALLOWED:
            await join(layer, channel, groups)
            woken = await wake_up(layer, channel, options["HEARTBEAT"])
            if woken is None:
                yield format_comment("heartbeat")
                recount = True
            else:
                number, recount = woken
                if number is not None and number <= (watch.counted if recount else watch.seen):
                    continue
            chunk, status = await database_sync_to_async(poll)(watch, recount=recount)
            if chunk:
                yield chunk
    finally:
        if layer is not None:
            for group in groups:
                await layer.group_discard(group, channel)


def stream_groups(watch: Watch) -> list[str]:
    """Its person's group, and its assessment's when it watches one."""
    groups = [user_group(watch.principal.user.pk)]
    if watch.assessment_id is not None:
        groups.append(assessment_group(watch.assessment_id))
    return groups


async def join(layer, channel: str | None, groups: list[str]) -> None:
    """Listen to the stream's groups.

    Joined again at each turn, so that a layer's group expiry (a day, by
    default) never silently drops a long-lived stream.
    """
    if layer is None:
        return
    for group in groups:
        await layer.group_add(group, channel)


async def wake_up(layer, channel: str | None, heartbeat: float) -> tuple[int | None, bool] | None:
    """The next wake-up's event id and whether it asks for a recount; None when a
    heartbeat's time passes without one."""
    if layer is None:
        await asyncio.sleep(heartbeat)
        return None
    try:
        message = await asyncio.wait_for(layer.receive(channel), heartbeat)
    except TimeoutError:
        return None
    number = message.get("id")
    return (number if isinstance(number, int) else None), message.get("waiting") is not False
