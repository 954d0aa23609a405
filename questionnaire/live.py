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
- Wake-ups cross processes through the channel layer: ``decision_changed``
  (sent on commit) publishes the event's id to the group ``decisions.<workspace
  id>``; each stream listens on its own channel in the groups of its
  person's workspaces. It also re-reads the log every heartbeat, so a lost
  wake-up (a restart of Redis, a change made by a command) costs at most one
  heartbeat.
- It is a Django async view, so the middleware (sessions, sign-in, API
  tokens) and the one access policy apply. Django 5 cancels a streaming
  response when its client disconnects (ASGIHandler), which ends the
  generator here and releases its place. Access is checked again at every
  wake-up: a member removed, a token revoked or a user deactivated mid-stream
  gets an ``event: closed`` and the stream ends; the reconnect is refused.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

from asgiref.sync import async_to_sync, sync_to_async
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Max
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.views.decorators.http import require_safe

from advisor.clients import OpenConnections, Slot
from advisor.http import answers_json, error_response, whole_number
from live_demo.events import format_comment, format_event
from workspaces import access
from workspaces.access import ALLOWED, NOT_FOUND, UNAUTHENTICATED, Action, Principal
from workspaces.models import ApiToken, AuditAction, AuditEvent

from . import decisions
from .models import Assessment, DecisionStatus

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
BATCH = 200
CONTENT_TYPE = "text/event-stream; charset=utf-8"
NOT_FOUND_BODY = {"assessment": "not found"}

# Open streams per user in this process (a tab holds one): a script cannot
# hold thousands of them, each re-reading the log every heartbeat.
streams = OpenConnections("decision streams")


def group_name(workspace_id: int) -> str:
    return f"decisions.{workspace_id}"


def publish(sender, assessment: Assessment, event: AuditEvent, **kwargs) -> None:
    """Wake the streams of the event's workspace (``decision_changed``'s receiver).

    A wake-up is only a hint, carrying the event's id: the streams read the
    log themselves. One that is lost costs a heartbeat, never an event.
    """
    layer = get_channel_layer()
    if layer is None or event.workspace_id is None:
        return
    try:
        async_to_sync(layer.group_send)(
            group_name(event.workspace_id), {"type": "decision.changed", "id": event.pk}
        )
    except Exception:
        logger.exception("decision stream: could not publish the wake-up for event %s", event.pk)


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


def requested_last_id(request: HttpRequest) -> int | None:
    """Last-Event-ID (a reconnect), else ?last_event_id= (a page's first connect)."""
    raw = request.headers.get("Last-Event-ID")
    if raw is None:
        raw = request.GET.get("last_event_id")
    return whole_number((raw or "").strip(), 18)


async def principal_for(request: HttpRequest) -> Principal:
    """The token's principal (set by the middleware), else the signed-in session's.

    ``access.principal_of`` would read ``request.user`` lazily, which the
    event loop may not; the session's user is loaded with ``auser()``.
    """
    principal = getattr(request, "_principal", None)
    if principal is not None:
        return principal
    user = await request.auser()
    principal = Principal(user=user if user.is_authenticated else None)
    request._principal = principal
    return principal


def check(watch: Watch) -> int:
    """ALLOWED, or why the stream must stop now: read afresh, at every wake-up."""
    principal = watch.principal
    principal._roles.clear()
    if (
        principal.token is not None
        and not ApiToken.objects.live().filter(pk=principal.token.pk).exists()
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


def newest_id() -> int:
    return AuditEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


def summary(event: AuditEvent) -> str:
    """One plain sentence for the page's live region (shown as text, never HTML)."""
    detail = event.detail or {}
    revision = detail.get("revision")
    if event.action == AuditAction.REVIEW_REQUESTED:
        return f"{event.actor} asked {', '.join(detail.get('reviewers', []))} to review"
    if event.action == AuditAction.REVIEW_APPROVED:
        return f"{event.actor} approved revision {revision}"
    if event.action == AuditAction.REVIEW_CHANGES_REQUESTED:
        return f"{event.actor} requested changes to revision {revision}"
    if event.action == AuditAction.DECISION_COMMENTED:
        return f"{event.actor} commented"
    if event.action == AuditAction.DECISION_SUPERSEDED:
        return f"{event.actor} marked it superseded by {detail.get('by_title', 'another')}"
    to = detail.get("to", "")
    label = DecisionStatus(to).label if to in DecisionStatus.values else to
    return f"The decision is now {label.lower()} ({detail.get('reason', '')})"


def decision_event(event: AuditEvent, status: str) -> bytes:
    data = {
        "id": event.pk,
        "action": event.action,
        "status": (event.detail or {}).get("to") or status,
        "actor": event.actor,
        "at": event.at.isoformat(),
        "summary": summary(event),
    }
    return format_event(json.dumps(data, ensure_ascii=False), event="decision", id=event.pk)


def poll(watch: Watch, *, recount: bool = False) -> tuple[bytes, int]:
    """What the log holds past the cursors for this stream, and whether it may go on.

    ``decision`` events for the watched assessment; then ``waiting`` when the
    count of decisions waiting for this person's review has changed (or on the
    first poll); then the cursor itself (an ``id:`` alone, which moves the
    browser's Last-Event-ID without an event) so a resume starts past it.

    The watched assessment's events are read past the last one sent, not past
    the log's cursor: they are written under a lock on its row, so they commit
    in id order, while another assessment's event may commit before an
    earlier id (PostgreSQL), which a shared cursor would step over. The count
    is recounted at every heartbeat (``recount``) for the same reason.
    """
    before = watch.workspaces
    status = check(watch)
    if status != ALLOWED:
        return format_event(json.dumps({"reason": "access"}), event="closed"), status
    chunks = []
    written = start = watch.cursor
    if watch.assessment_id is not None:
        chunks.extend(assessment_events(watch))
        written = watch.seen
    newest = (
        AuditEvent.objects.filter(
            pk__gt=watch.cursor, action__in=DECISION_ACTIONS, workspace_id__in=watch.workspaces
        ).aggregate(newest=Max("pk"))["newest"]
        or watch.cursor
    )
    watch.cursor = max(newest, watch.seen)
    # A decision changed in one of the person's workspaces, or they joined or
    # left one: the count may have changed.
    if recount or watch.cursor != start or watch.workspaces != before or watch.waiting is None:
        count = len(decisions.waiting_ids(watch.principal.user))
        if count != watch.waiting:
            watch.waiting = count
            payload = json.dumps({"count": count})
            chunks.append(format_event(payload, event="waiting", id=watch.cursor))
            written = watch.cursor
    if written != watch.cursor:
        chunks.append(f"id: {watch.cursor}\n\n".encode())
    return b"".join(chunks), ALLOWED


def assessment_events(watch: Watch) -> list[bytes]:
    """The watched assessment's decision events past the last one sent, in batches."""
    chunks = []
    status = None
    while True:
        batch = list(
            AuditEvent.objects.filter(
                pk__gt=watch.seen,
                action__in=DECISION_ACTIONS,
                object_type="assessment",
                object_id=str(watch.assessment_id),
            ).order_by("pk")[:BATCH]
        )
        if batch and status is None:
            status = (
                Assessment.objects.filter(pk=watch.assessment_id)
                .values_list("status", flat=True)
                .first()
            )
        for event in batch:
            chunks.append(decision_event(event, status or ""))
            watch.seen = event.pk
        if len(batch) < BATCH:
            return chunks


def open_watch(principal: Principal, assessment_id: uuid.UUID | None, last: int | None):
    """A Watch resuming after ``last`` (or from now), or the status that refuses it."""
    newest = newest_id()
    cursor = newest if last is None else min(last, newest)
    watch = Watch(principal, assessment_id, frozenset(), cursor, cursor)
    status = check(watch)
    return (watch if status == ALLOWED else None), status


class EventStream(StreamingHttpResponse):
    """The stream's response; closing it (the client went, or never read it) frees its place."""

    def __init__(self, chunks: AsyncIterator[bytes], slot: Slot) -> None:
        super().__init__(chunks, content_type=CONTENT_TYPE)
        self.slot = slot
        self["Cache-Control"] = "no-cache"
        # nginx and friends would otherwise hold the stream in their buffer.
        self["X-Accel-Buffering"] = "no"

    def close(self) -> None:
        self.slot.release()
        super().close()


def refusal(status: int) -> HttpResponse:
    if status == NOT_FOUND:
        return access.api_refusal(NOT_FOUND, not_found=NOT_FOUND_BODY)
    return access.api_refusal(status)


@answers_json
@require_safe
async def decision_stream(request: HttpRequest) -> HttpResponse:
    """The page's event stream: its assessment's decision events, and the waiting count."""
    principal = await principal_for(request)
    if principal.user is None:
        # Anonymous mode on (off, the middleware has answered 401 already);
        # a share link's page opens no stream.
        return access.api_refusal(UNAUTHENTICATED)
    raw = request.GET.get("assessment")
    assessment_id = None
    if raw is not None:
        try:
            assessment_id = uuid.UUID(raw)
        except ValueError:
            return error_response(404, NOT_FOUND_BODY)
    options = settings.DECISION_STREAM
    watch, status = await sync_to_async(open_watch)(
        principal, assessment_id, requested_last_id(request)
    )
    if watch is None:
        return refusal(status)
    if request.method == "HEAD":
        return HttpResponse(content_type=CONTENT_TYPE)
    slot = streams.acquire(f"user:{principal.user.pk}", options["MAX_PER_USER"])
    if slot is None:
        return error_response(
            429,
            {"stream": f"at most {options['MAX_PER_USER']} open decision streams per person"},
            Retry_After="5",
        )
    return EventStream(events(watch, slot), slot)


async def events(watch: Watch, slot: Slot) -> AsyncIterator[bytes]:
    """retry:, what was missed, then whatever each wake-up or heartbeat finds."""
    options = settings.DECISION_STREAM
    layer = get_channel_layer()
    channel = await layer.new_channel() if layer is not None else None
    joined: set[str] = set()
    try:
        first, status = await database_sync_to_async(poll)(watch)
        yield f"retry: {options['RETRY_MS']}\n\n".encode() + first
        while status == ALLOWED:
            joined = await join(layer, channel, watch.workspaces, joined)
            woken = await wake_up(layer, channel, options["HEARTBEAT"])
            if woken is None:
                yield format_comment("heartbeat")
            elif woken <= watch.cursor and woken <= watch.seen:
                continue
            chunk, status = await database_sync_to_async(poll)(watch, recount=woken is None)
            if chunk:
                yield chunk
    finally:
        slot.release()
        for group in joined:
            await layer.group_discard(group, channel)


async def join(
    layer, channel: str | None, workspaces: frozenset[int], joined: set[str]
) -> set[str]:
    """Listen to the groups of the person's workspaces as they are now.

    Joined again at each turn, so that a layer's group expiry (a day, by
    default) never silently drops a long-lived stream.
    """
    if layer is None:
        return set()
    wanted = {group_name(workspace_id) for workspace_id in workspaces}
    for group in joined - wanted:
        await layer.group_discard(group, channel)
    for group in wanted:
        await layer.group_add(group, channel)
    return wanted


async def wake_up(layer, channel: str | None, heartbeat: float) -> int | None:
    """The id of the next wake-up, or None when a heartbeat's time passes without one."""
    if layer is None:
        await asyncio.sleep(heartbeat)
        return None
    try:
        message = await asyncio.wait_for(layer.receive(channel), heartbeat)
    except TimeoutError:
        return None
    number = message.get("id")
    return number if isinstance(number, int) else 0
