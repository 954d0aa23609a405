"""Headers for the static files the app serves itself (SERVE_STATIC).

Django's ASGIStaticFilesHandler answers them before the middleware, so
SecurityMiddleware's ``X-Content-Type-Options: nosniff`` never reaches them.
Without it a browser may sniff a file's type from its content: a script or
stylesheet could then be taken from a file that is not one. The
Content-Security-Policy is left to the pages: it governs documents, and a
script or stylesheet ignores the header on its own response.
"""

from __future__ import annotations

from urllib.parse import urlparse

from django.conf import settings

NOSNIFF = (b"x-content-type-options", b"nosniff")


class StaticFileHeaders:
    """An ASGI wrapper adding ``nosniff`` to the responses under STATIC_URL."""

    def __init__(self, application) -> None:
        self.application = application
        # The path part, as ASGIStaticFilesHandler decides which requests are its own.
        self.prefix = urlparse(settings.STATIC_URL).path

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.prefix):
            # Not a static file: Django's middleware sets the header itself,
            # and its streams keep their own send.
            return await self.application(scope, receive, send)

        async def send_with_headers(message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (name, value)
                    for name, value in message.get("headers", ())
                    if name.lower() != NOSNIFF[0]
                ]
                message = {**message, "headers": [*headers, NOSNIFF]}
            await send(message)

        return await self.application(scope, receive, send_with_headers)
