"""What the header's live count of decisions waiting for my review needs."""

from __future__ import annotations

from django.http import HttpRequest

from workspaces import access

from . import decisions, live


def decisions_waiting(request: HttpRequest) -> dict:
    """The count, and the log's newest id (where the page's stream starts), for a signed-in person.

    Nothing for anyone else, nor for a token (a program reading a page opens
    no stream). The stream starts from the id read here, so that a change
    made between this page's rendering and its stream's opening is not lost.
    """
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    principal = access.principal_of(request)
    if principal.token is not None:
        return {}
    waiting = decisions.waiting_count(principal)
    return {
        "decisions_waiting": waiting,
        "decisions_cursor": live.newest_id(principal),
        "decision_stream_url": live.STREAM_PATH,
        # A viewer everywhere can never be asked to review: no count to show
        # (the link stays, hidden, as the anchor of the page's live stream).
        "decisions_may_review": bool(waiting)
        or any(m.role in access.REVIEWER_ROLES for m in access.my_memberships(principal)),
    }
