"""Django's own middleware, with its hooks run on the event loop when they cannot block.

Under ASGI, Django runs every ``process_request``, ``process_view`` and
``process_response`` of a ``MiddlewareMixin`` middleware through
``sync_to_async``: a round trip to the request's worker thread each, about
ten per request with the stack in settings, which cost one to two
milliseconds of CPU per request, more than the rest of a simple request (see
docs/benchmarks.md).

Measured alone (2026-11-30, daphne, SQLite, DJANGO_DEBUG=0, two cores shared
with the loopback load client; the same settings with only MIDDLEWARE
switched between Django's classes and these, servers alternated, 3 rounds of
3 runs of 1.5 s each, medians with min-max):

- ``GET /api/questions/``, 1 user: Django's 208/s (181-225) at 3.9 ms server
  CPU per request, these 380/s (338-469) at 1.7 ms; 10 users: 248/s at 3.2
  ms against 410/s at 1.6 ms.
- the home page ``/``, 1 user: 146/s (105-162) at 5.6 ms against 211/s
  (177-237) at 3.4 ms; 10 users: 164/s at 5.1 ms against 214/s at 3.3 ms.

About 2 ms of CPU saved per request, the cost of a simple GET halved. Since
settings name these classes, not Django's, Django's deployment checks are
run on them by serving/checks.py.

These hooks are plain computations on the request and
the response, except where they read or write the session in the database:
those cases still go to the thread, so behaviour is unchanged. Under WSGI
(and Django's sync test client) the classes run exactly as Django's own.
"""

from __future__ import annotations

from asgiref.sync import sync_to_async
from csp.middleware import CSPMiddleware as BaseCSPMiddleware
from django.conf import settings
from django.contrib.auth.middleware import (
    AuthenticationMiddleware as BaseAuthenticationMiddleware,
)
from django.contrib.messages.middleware import MessageMiddleware as BaseMessageMiddleware
from django.contrib.sessions.middleware import SessionMiddleware as BaseSessionMiddleware
from django.http import HttpRequest, HttpResponseBase
from django.middleware.clickjacking import (
    XFrameOptionsMiddleware as BaseXFrameOptionsMiddleware,
)
from django.middleware.common import CommonMiddleware as BaseCommonMiddleware
from django.middleware.csrf import CsrfViewMiddleware as BaseCsrfViewMiddleware
from django.middleware.security import SecurityMiddleware as BaseSecurityMiddleware


class InlineHooks:
    """Run the sync hooks of a ``MiddlewareMixin`` in the event loop under ASGI."""

    def request_blocks(self, request: HttpRequest) -> bool:
        """Whether ``process_request`` or ``process_view`` may touch the database."""
        return False

    def response_blocks(self, request: HttpRequest, response: HttpResponseBase) -> bool:
        """Whether ``process_response`` may touch the database."""
        return False

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        response = None
        if hasattr(self, "process_request"):
            if self.request_blocks(request):
                response = await sync_to_async(self.process_request)(request)
            else:
                response = self.process_request(request)
        response = response or await self.get_response(request)
        if hasattr(self, "process_response"):
            if self.response_blocks(request, response):
                response = await sync_to_async(self.process_response)(request, response)
            else:
                response = self.process_response(request, response)
        return response


class SecurityMiddleware(InlineHooks, BaseSecurityMiddleware):
    pass


class SessionMiddleware(InlineHooks, BaseSessionMiddleware):
    # Making the SessionStore reads nothing; only a save goes to the database
    # (a session the view read was loaded in the view's own thread).
    def response_blocks(self, request: HttpRequest, response: HttpResponseBase) -> bool:
        session = getattr(request, "session", None)
        return session is not None and (session.modified or settings.SESSION_SAVE_EVERY_REQUEST)


class CommonMiddleware(InlineHooks, BaseCommonMiddleware):
    pass


class CsrfViewMiddleware(InlineHooks, BaseCsrfViewMiddleware):
    """The token lives in a cookie, unless CSRF_USE_SESSIONS puts it in the session."""

    def __init__(self, get_response) -> None:
        super().__init__(get_response)
        if self.async_mode and not settings.CSRF_USE_SESSIONS:
            # Django wraps a sync process_view in sync_to_async; an async
            # one it awaits as it is.
            self.process_view = self._process_view_inline

    async def _process_view_inline(self, request, callback, callback_args, callback_kwargs):
        return BaseCsrfViewMiddleware.process_view(
            self, request, callback, callback_args, callback_kwargs
        )

    def request_blocks(self, request: HttpRequest) -> bool:
        return settings.CSRF_USE_SESSIONS

    def response_blocks(self, request: HttpRequest, response: HttpResponseBase) -> bool:
        return settings.CSRF_USE_SESSIONS


class AuthenticationMiddleware(InlineHooks, BaseAuthenticationMiddleware):
    # request.user is lazy: the database is read when a view asks for it.
    pass


class MessageMiddleware(InlineHooks, BaseMessageMiddleware):
    # Messages that were read or added are stored, which may load the session.
    def response_blocks(self, request: HttpRequest, response: HttpResponseBase) -> bool:
        storage = getattr(request, "_messages", None)
        return storage is not None and (storage.used or storage.added_new)


class XFrameOptionsMiddleware(InlineHooks, BaseXFrameOptionsMiddleware):
    pass


class CSPMiddleware(InlineHooks, BaseCSPMiddleware):
    # It only builds a header from settings (and a nonce, unused here).
    pass
