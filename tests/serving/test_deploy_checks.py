"""`manage.py check --deploy` sees serving.middleware's classes as the Django classes they are.

Django's checks look for its own dotted paths in MIDDLEWARE; serving/checks.py
runs them on a view where our subclasses are written as Django's. With
production settings nothing is reported; each missing setting is reported
as Django reports it; a middleware that is really missing is still reported.
"""

from __future__ import annotations

import re
import secrets
from io import StringIO

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command

from serving.checks import django_view

PRODUCTION = {
    "DEBUG": False,
    "SECRET_KEY": secrets.token_urlsafe(64),
    "ALLOWED_HOSTS": ["example.com"],
    "SECURE_HSTS_SECONDS": 31536000,
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": True,
    "SECURE_HSTS_PRELOAD": True,
    "SECURE_SSL_REDIRECT": True,
    "SESSION_COOKIE_SECURE": True,
    "CSRF_COOKIE_SECURE": True,
}
DJANGO_CLASSES = [
    # Not a subclass of Django's: left as written.
    "operations.requests.RouteNameMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "workspaces.middleware.AccessMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]


@pytest.fixture
def production(settings):
    for name, value in PRODUCTION.items():
        setattr(settings, name, value)
    return settings


def deploy_check() -> tuple[list[str], str]:
    """The ids `check --deploy` reports (silenced ones are not), and its whole output."""
    out, err = StringIO(), StringIO()
    call_command("check", "--deploy", stdout=out, stderr=err)
    output = out.getvalue() + err.getvalue()
    return re.findall(r"^\?: \(([\w.]+)\)", output, re.MULTILINE), output


def test_settings_list_our_subclasses():
    # What the rest of this file is about: if settings go back to Django's
    # classes, these checks are plain Django (and still pass, below).
    assert "serving.middleware.SecurityMiddleware" in django_settings.MIDDLEWARE


def test_view_writes_our_classes_as_djangos():
    assert django_view(django_settings.MIDDLEWARE) == DJANGO_CLASSES


def test_view_leaves_other_paths_as_written():
    paths = ["django_htmx.middleware.HtmxMiddleware", "no.such.Middleware"]
    assert django_view(paths) == paths


def test_production_settings_report_nothing(production):
    reported, output = deploy_check()

    assert reported == [], output
    assert not {"security.W001", "security.W002", "security.W003"} & set(reported)


def test_production_settings_with_djangos_classes_report_nothing_either(production):
    production.MIDDLEWARE = DJANGO_CLASSES

    assert deploy_check()[0] == []


@pytest.mark.parametrize("hsts", [0, None])
def test_hsts_unset_is_reported(production, hsts):
    # Before serving/checks.py this was never reported: Django skips the HSTS
    # check when it does not find its own SecurityMiddleware.
    production.SECURE_HSTS_SECONDS = hsts

    assert deploy_check()[0] == ["security.W004"]


@pytest.mark.parametrize(
    ("setting", "value", "expected"),
    [
        ("SECURE_SSL_REDIRECT", False, "security.W008"),
        ("SECURE_HSTS_INCLUDE_SUBDOMAINS", False, "security.W005"),
        ("SECURE_HSTS_PRELOAD", False, "security.W021"),
        ("SECURE_CONTENT_TYPE_NOSNIFF", False, "security.W006"),
        ("X_FRAME_OPTIONS", "SAMEORIGIN", "security.W019"),
        ("CSRF_COOKIE_SECURE", False, "security.W016"),
        ("SECURE_REFERRER_POLICY", None, "security.W022"),
    ],
)
def test_each_middleware_setting_is_checked(production, setting, value, expected):
    setattr(production, setting, value)

    assert deploy_check()[0] == [expected]


def test_insecure_session_cookie_is_reported_once(production):
    production.SESSION_COOKIE_SECURE = False

    reported = deploy_check()[0]

    assert len(reported) == 1
    assert reported[0] in {"security.W010", "security.W012"}


@pytest.mark.parametrize(
    ("removed", "expected"),
    [
        ("SecurityMiddleware", "serving.W001"),
        ("XFrameOptionsMiddleware", "serving.W002"),
        ("CsrfViewMiddleware", "serving.W003"),
    ],
)
@pytest.mark.parametrize("classes", ["ours", "django's"])
def test_missing_middleware_is_reported_despite_the_silenced_ids(
    production, removed, expected, classes
):
    middleware = DJANGO_CLASSES if classes == "django's" else django_settings.MIDDLEWARE
    production.MIDDLEWARE = [path for path in middleware if not path.endswith("." + removed)]

    reported = deploy_check()[0]

    assert expected in reported
    assert len(reported) == 1
