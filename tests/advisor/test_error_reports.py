from __future__ import annotations

import sys

import pytest
from django.test import RequestFactory
from django.views.debug import get_default_exception_reporter_filter, technical_500_response

from advisor.error_reports import (
    ExceptionReporterFilter,
    mask_credentials_in,
    mask_url_credentials,
)

PASSWORD = "s3cr3t-Redis-pa55"
REDIS_URL = f"redis://advisor:{PASSWORD}@redis.internal:6379/0"


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        (REDIS_URL, "redis://advisor:********@redis.internal:6379/0"),
        ("redis://:pw@127.0.0.1:6379", "redis://:********@127.0.0.1:6379"),
        ("rediss://u:p@h/0?ssl=1", "rediss://u:********@h/0?ssl=1"),
        ("https://ghp_token@github.com/x", "https://********@github.com/x"),
        ("postgres://u:p@ss@db/advisor", "postgres://u:********@db/advisor"),
        ("a redis://u:p@h1, b redis://v:q@h2", "a redis://u:********@h1, b redis://v:********@h2"),
        ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
        ("https://host/path@not-userinfo", "https://host/path@not-userinfo"),
        ("mailto:someone@example.com", "mailto:someone@example.com"),
        ("", ""),
    ],
)
def test_mask_url_credentials(text, masked):
    assert mask_url_credentials(text) == masked


def test_mask_credentials_in_nested_values():
    value = {"hosts": [REDIS_URL, ("x", {"url": REDIS_URL})], "count": 3}

    assert PASSWORD not in repr(mask_credentials_in(value))
    assert mask_credentials_in(value)["count"] == 3


def test_filter_is_the_default_one():
    assert isinstance(get_default_exception_reporter_filter(), ExceptionReporterFilter)


@pytest.fixture
def redis_settings(settings):
    """The three settings that REDIS_URL fills, as advisor/settings.py fills them."""
    settings.REDIS_URL = REDIS_URL
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL]},
        }
    }
    settings.LIVE_DEMO = {**settings.LIVE_DEMO, "REDIS_URL": REDIS_URL}
    return settings


def test_safe_settings_hold_no_password_anywhere(redis_settings):
    safe = ExceptionReporterFilter().get_safe_settings()

    assert PASSWORD not in repr(safe)
    assert safe["CHANNEL_LAYERS"]["default"]["CONFIG"]["hosts"] == [
        "redis://advisor:********@redis.internal:6379/0"
    ]


def test_django_filter_alone_shows_the_password(redis_settings):
    # Why the filter exists: Django's masks by name, and these names look harmless.
    from django.views.debug import SafeExceptionReporterFilter

    assert PASSWORD in repr(SafeExceptionReporterFilter().get_safe_settings())


def test_debug_page_shows_no_password(redis_settings):
    request = RequestFactory().get("/", HTTP_REFERER=f"https://u:{PASSWORD}@example.com/")
    redis_url = REDIS_URL  # a local variable of the failing frame, shown on the page

    try:
        raise RuntimeError(f"cannot reach {redis_url.split('@')[1]}")
    except RuntimeError:
        page = technical_500_response(request, *sys.exc_info()).content.decode()

    assert PASSWORD not in page
    assert "redis.internal" in page
