"""Sign-in for the routes served ahead of Django: the event streams and the WebSockets.

Django's middleware never sees them (advisor/asgi.py), so
``workspaces.middleware`` cannot ask for a sign-in there. This does, the two
ways a page takes: an API token (by the middleware's own look-up), else the
session cookie. Only while the setting it is given says sign-in is
required: a public demo or anonymous mode costs its streams nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from types import SimpleNamespace

from channels.db import database_sync_to_async
from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.contrib.auth import aget_user, get_user
from django.http.cookie import parse_cookie

from advisor.origins import Scope, header, plain_response

from .access import Principal
from .middleware import TOKEN_REFUSED, bearer_of, token_principal_for

SIGN_IN_FIRST = b"Sign in first, or send an API token: this stream answers signed-in people.\n"
STREAM_TOKEN_REFUSED = f"Not opened: {TOKEN_REFUSED}.\n".encode()
# As the pages' and the API's 401 (access.api_refusal): the scheme a program may answer with.
CHALLENGE = (b"www-authenticate", b'Bearer realm="advisor"')


async def signed_in_user(scope: Scope):
    """The signed-in, active user the scope's session cookie names, or None.

    The session is read on the executor that thread-sensitive code shares
    outside a request (asgiref's), not on a thread of the stream's own.
    """
    key = session_key_of(scope)
    if not key:
        return None
    # aget_user checks the session's auth hash against the user's password,
    # as a request would: a session from before a password change is out.
    user = await aget_user(SimpleNamespace(session=session_store(key)))
    return user if user.is_authenticated else None


async def stream_principal(scope: Scope) -> Principal | None:
    """The bearer token's principal, else the session's signed-in person; None for neither.

    By the same functions as a page: the middleware's token look-up
    (membership, expiry, revocation, last used) and the session's user with
    its auth hash checked. A token sent and refused is None, whatever the
    cookies say, as the middleware answers it.
    """
    secret = bearer_of(header(scope, b"authorization"))
    if secret is not None:
        return await database_sync_to_async(token_principal_for)(secret) if secret else None
    user = await signed_in_user(scope)
    return None if user is None else Principal(user=user)


def session_key_of(scope: Scope) -> str:
    """The session cookie's value, read as Django reads cookies ("" for none).

    Leniently, as Django's own parser does: another site's malformed cookie
    on the same domain must not cost a signed-in person their stream.
    """
    cookies = header(scope, b"cookie")
    return parse_cookie(cookies).get(settings.SESSION_COOKIE_NAME, "") if cookies else ""


def session_store(key: str):
    return import_module(settings.SESSION_ENGINE).SessionStore(key)


def session_user_id(key: str):
    """The id of the user the session ``key`` still signs in, or None (sync).

    None once they signed out (the session is gone) or changed their
    password (its auth hash no longer matches): what an open stream checks.
    """
    user = get_user(SimpleNamespace(session=session_store(key)))
    return user.pk if user.is_authenticated else None


def sign_in_required(application, when: Callable[[], bool]):
    """An ASGI route that answers only signed-in people (or their tokens) while ``when()`` is true.

    An event stream gets 401; a WebSocket handshake is refused (HTTP 403, as
    for a foreign origin): a browser sees no status either way, and the
    page that opens it is itself behind sign-in. A token is taken as on the
    pages: a program that may post to the demo may read its streams too.
    """

    async def guarded(scope: Scope, receive, send) -> None:
        if when() and await stream_principal(scope) is None:
            if scope["type"] == "websocket":
                await WebsocketDenier()(scope, receive, send)
            else:
                token_sent = header(scope, b"authorization") is not None
                body = STREAM_TOKEN_REFUSED if token_sent else SIGN_IN_FIRST
                await plain_response(send, 401, body, [CHALLENGE])
            return
        await application(scope, receive, send)

    return guarded


def demo_is_private() -> bool:
    return not settings.ADVISOR_PUBLIC_DEMO


def anonymous_mode_off() -> bool:
    return not settings.ADVISOR_ANONYMOUS
