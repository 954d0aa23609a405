"""What the debug page and error e-mails may show: no password, not even inside a URL.

Django's ``SafeExceptionReporterFilter`` masks a setting, header or variable
by its name (API, TOKEN, KEY, SECRET, PASS, SIGNATURE, HTTP_COOKIE), never by
its value. Connection URLs carry their password inside the value:
``REDIS_URL`` is read into three settings (``REDIS_URL``, the channel layer's
``hosts`` and ``LIVE_DEMO["REDIS_URL"]``), none of them with a masked name, so
the debug page printed the Redis password three times. This filter also
masks the credentials of every URL in any string it shows, at any depth.
"""

from __future__ import annotations

import re
from typing import Any

from django.views.debug import SafeExceptionReporterFilter

# scheme://userinfo@ — userinfo runs to the last "@" before the path, so a
# password with a raw "@" in it is masked whole.
# Shorter than Django's 20 stars, which would swamp a URL.
MASK = "********"
URL_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^/?#\s]*)@")


def mask_url_credentials(text: str) -> str:
    """``redis://user:pass@host`` → ``redis://user:********@host``, in every URL of ``text``.

    A userinfo without a colon is masked whole: it is often a token
    (``https://<token>@host``).
    """

    def masked(match: re.Match[str]) -> str:
        user, colon, _ = match["userinfo"].partition(":")
        kept = f"{user}:" if colon else ""
        return f"{match['scheme']}{kept}{MASK}@"

    return URL_USERINFO.sub(masked, text)


def mask_credentials_in(value: Any) -> Any:
    """``value`` with the URL credentials of every string in it masked (dicts, lists, tuples)."""
    if isinstance(value, str):
        return mask_url_credentials(value)
    if isinstance(value, dict):
        return {key: mask_credentials_in(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(mask_credentials_in(item) for item in value)
    return value


class ExceptionReporterFilter(SafeExceptionReporterFilter):
    """Django's filter, masking credentials inside URLs too (DEFAULT_EXCEPTION_REPORTER_FILTER)."""

    def cleanse_setting(self, key, value):
        # Django recurses into dicts, lists and tuples through this method, so
        # masking strings here covers every level of every setting, and
        # request.META, which get_safe_request_meta cleanses the same way.
        if isinstance(value, str):
            value = mask_url_credentials(value)
        return super().cleanse_setting(key, value)

    def get_traceback_frame_variables(self, request, tb_frame):
        # A frame's local variables are shown too: a URL with a password in
        # one (a Redis client being set up) would print it.
        return [
            (name, mask_credentials_in(value))
            for name, value in super().get_traceback_frame_variables(request, tb_frame)
        ]
