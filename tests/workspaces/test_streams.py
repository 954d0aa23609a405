"""Sign-in on the streams and WebSockets served ahead of Django (workspaces/streams.py)."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from asgiref.testing import ApplicationCommunicator
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client

from advisor.asgi import application
from tests.operations.asgi import request, websocket
from workspaces.models import ApiToken, Membership, Role, Workspace
from workspaces.streams import SIGN_IN_FIRST, STREAM_TOKEN_REFUSED

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

HOST = (b"host", b"127.0.0.1")
ORIGIN = (b"origin", b"http://127.0.0.1")


@sync_to_async
def session_cookie(active: bool = True) -> bytes:
    user = get_user_model().objects.create_user("alice", password="x-Long-enough-1")
    client = Client()
    client.force_login(user)
    if not active:
        user.is_active = False
        user.save()
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    return f"{settings.SESSION_COOKIE_NAME}={cookie}".encode()


async def http_status(path: str, cookie: bytes | None = None) -> tuple[int, bytes]:
    """The status and first body chunk of a GET through the whole ASGI application."""
    headers = [HOST] + ([(b"cookie", cookie)] if cookie else [])
    scope = {
        "type": "http",
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
    }
    communicator = ApplicationCommunicator(application, scope)
    await communicator.send_input({"type": "http.request", "body": b""})
    start = await communicator.receive_output(5)
    first = await communicator.receive_output(5)
    # An open stream ends when its client goes; a refusal has ended already.
    await communicator.send_input({"type": "http.disconnect"})
    await communicator.wait(5)
    return start["status"], first.get("body", b"")


async def handshake(path: str, cookie: bytes | None = None) -> bool:
    headers = [HOST, ORIGIN] + ([(b"cookie", cookie)] if cookie else [])
    client = WebsocketCommunicator(application, path, headers=headers)
    connected, _ = await client.connect()
    await client.disconnect()
    return connected


async def test_probe_stream_anonymous_mode_on_open_to_all(settings):
    settings.ADVISOR_ANONYMOUS = True
    status, _ = await http_status("/network-check/events/")
    assert status == 200


async def test_probe_stream_anonymous_mode_off_401_without_sign_in(settings):
    settings.ADVISOR_ANONYMOUS = False
    status, body = await http_status("/network-check/events/")
    assert status == 401
    assert b"Sign in" in body


async def test_probe_stream_anonymous_mode_off_open_when_signed_in(settings):
    settings.ADVISOR_ANONYMOUS = False
    status, _ = await http_status("/network-check/events/", await session_cookie())
    assert status == 200


async def test_probe_stream_anonymous_mode_off_inactive_user_401(settings):
    settings.ADVISOR_ANONYMOUS = False
    status, _ = await http_status("/network-check/events/", await session_cookie(active=False))
    assert status == 401


async def test_probe_stream_anonymous_mode_off_forged_cookie_401(settings):
    settings.ADVISOR_ANONYMOUS = False
    forged = f"{settings.SESSION_COOKIE_NAME}=not-a-session; other=1".encode()
    status, _ = await http_status("/network-check/events/", forged)
    assert status == 401


async def test_probe_stream_anonymous_mode_off_malformed_cookie_header_401(settings):
    settings.ADVISOR_ANONYMOUS = False
    status, _ = await http_status("/network-check/events/", b'"\\\x00;;==')
    assert status == 401


async def test_probe_websocket_anonymous_mode_off_refused_without_sign_in(settings):
    settings.ADVISOR_ANONYMOUS = False
    assert not await handshake("/network-check/ws/")


async def test_probe_websocket_anonymous_mode_off_accepted_when_signed_in(settings):
    settings.ADVISOR_ANONYMOUS = False
    assert await handshake("/network-check/ws/", await session_cookie())


async def test_demo_stream_public_demo_open_with_anonymous_mode_off(settings):
    settings.ADVISOR_ANONYMOUS = False
    settings.ADVISOR_PUBLIC_DEMO = True
    status, _ = await http_status("/demo/events/")
    assert status == 200


async def test_demo_stream_private_demo_401_without_sign_in(settings):
    settings.ADVISOR_PUBLIC_DEMO = False
    status, _ = await http_status("/demo/events/")
    assert status == 401


async def test_demo_websocket_private_demo_refused_without_sign_in(settings):
    settings.ADVISOR_PUBLIC_DEMO = False
    assert not await handshake("/ws/demo/")


async def test_demo_websocket_private_demo_accepted_when_signed_in(settings):
    settings.ADVISOR_PUBLIC_DEMO = False
    assert await handshake("/ws/demo/", await session_cookie())


@sync_to_async
def token(revoked: bool = False) -> str:
    """An API token of a member of a workspace (revoked, if asked)."""
    user = get_user_model().objects.create_user("bob")
    workspace = Workspace.objects.create(slug="team", name="Team")
    Membership.objects.create(workspace=workspace, user=user, role=Role.VIEWER)
    row, secret = ApiToken.issue(user, workspace)
    if revoked:
        row.revoke()
    return secret


async def test_demo_stream_and_socket_private_demo_open_to_a_token(settings):
    settings.ADVISOR_PUBLIC_DEMO = False
    bearer = {"Authorization": f"Bearer {await token()}"}
    assert (await request("/demo/events/", headers=bearer)).status == 200
    assert await websocket("/ws/demo/", headers=bearer) == 101


async def test_demo_stream_and_socket_private_demo_refuse_a_revoked_token_with_a_session(
    settings,
):
    """As on a page: a token that is sent and refused is refused, whatever the cookies say."""
    settings.ADVISOR_PUBLIC_DEMO = False
    sent = {
        "Authorization": f"Bearer {await token(revoked=True)}",
        "Cookie": (await session_cookie()).decode(),
    }
    answer = await request("/demo/events/", headers=sent)
    assert (answer.status, answer.body) == (401, STREAM_TOKEN_REFUSED)
    assert await websocket("/ws/demo/", headers=sent) == 403


@pytest.mark.parametrize(
    ("sent", "body"),
    [({}, SIGN_IN_FIRST), ({"Authorization": "Bearer "}, STREAM_TOKEN_REFUSED)],
    ids=["nothing sent", "an empty token"],
)
async def test_stream_refusal_says_a_token_may_answer_it(settings, sent, body):
    """A 401 names the scheme that answers it (RFC 9110), as the pages' and the API's do;
    a token that was sent is told refused, not asked for."""
    settings.ADVISOR_PUBLIC_DEMO = False
    answer = await request("/demo/events/", headers=sent)
    assert (answer.status, answer.body) == (401, body)
    assert answer.headers["www-authenticate"] == 'Bearer realm="advisor"'
