"""The settings as a server reads them from its environment, each in a fresh interpreter.

The suite itself runs with development settings (tests/settings.py), so
these import advisor.settings in a subprocess with only the variables given.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys

import pytest
from django.conf import settings as django_settings

ROOT = django_settings.BASE_DIR
PRODUCTION = {"DJANGO_SECRET_KEY": "a-production-key", "DJANGO_ALLOWED_HOSTS": "advisor.example"}
REDIS_PASSWORD = "s3cr3t-Redis-pa55"


def environment(**variables: str) -> dict[str, str]:
    """This process's environment without any DJANGO_ or REDIS_ variable, plus ``variables``."""
    kept = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("DJANGO_", "REDIS_", "DATABASE_"))
    }
    return {**kept, **variables}


def run_settings(code: str, **variables: str) -> subprocess.CompletedProcess:
    script = "import django, json\ndjango.setup()\nfrom django.conf import settings\n" + code
    return subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=environment(DJANGO_SETTINGS_MODULE="advisor.settings", **variables),
        capture_output=True,
        text=True,
        timeout=60,
    )


def read_settings(*names: str, **variables: str) -> dict:
    shown = ", ".join(f"{name!r}: settings.{name}" for name in names)
    done = run_settings(f"print(json.dumps({{{shown}}}))", **variables)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_without_any_variable_start_up_fails_for_want_of_a_secret_key():
    done = run_settings("print('started')")

    assert done.returncode != 0
    assert "ImproperlyConfigured: DJANGO_SECRET_KEY must be set" in done.stderr


def test_debug_is_off_unless_asked_for():
    assert read_settings("DEBUG", "SECRET_KEY", **PRODUCTION) == {
        "DEBUG": False,
        "SECRET_KEY": "a-production-key",
    }


def test_debug_on_with_the_development_key_when_asked_for():
    found = read_settings("DEBUG", "SECRET_KEY", DJANGO_DEBUG="1")

    assert found["DEBUG"] is True and found["SECRET_KEY"].startswith("django-insecure-")


@pytest.mark.parametrize("debug", ["0", ""])
def test_debug_off_or_empty_still_needs_a_secret_key(debug):
    done = run_settings("print('started')", DJANGO_DEBUG=debug)

    assert "DJANGO_SECRET_KEY must be set" in done.stderr


def test_https_settings_off_by_default():
    found = read_settings(
        "SECURE_PROXY_SSL_HEADER", "SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS", **PRODUCTION
    )

    assert found == {
        "SECURE_PROXY_SSL_HEADER": None,
        "SECURE_SSL_REDIRECT": False,
        "SECURE_HSTS_SECONDS": 0,
    }


def test_https_settings_from_the_environment():
    found = read_settings(
        "SECURE_PROXY_SSL_HEADER",
        "SECURE_SSL_REDIRECT",
        "SECURE_HSTS_SECONDS",
        DJANGO_SECURE_PROXY_SSL_HEADER="1",
        DJANGO_SECURE_SSL_REDIRECT="1",
        DJANGO_SECURE_HSTS_SECONDS="31536000",
        **PRODUCTION,
    )

    assert found == {
        "SECURE_PROXY_SSL_HEADER": ["HTTP_X_FORWARDED_PROTO", "https"],
        "SECURE_SSL_REDIRECT": True,
        "SECURE_HSTS_SECONDS": 31536000,
    }


@pytest.mark.parametrize("seconds", ["-1", "1y", "1" * 5000])
def test_hsts_seconds_must_be_a_whole_number(seconds):
    done = run_settings("print('started')", DJANGO_SECURE_HSTS_SECONDS=seconds, **PRODUCTION)

    assert "DJANGO_SECURE_HSTS_SECONDS must be a whole number of seconds" in done.stderr


def test_safe_settings_hold_no_redis_password():
    # The whole dict the debug page and error reports print, as text.
    done = run_settings(
        "from django.views.debug import get_default_exception_reporter_filter\n"
        "print(repr(get_default_exception_reporter_filter().get_safe_settings()))",
        REDIS_URL=f"redis://advisor:{REDIS_PASSWORD}@redis.internal:6379/0",
        **PRODUCTION,
    )

    assert done.returncode == 0, done.stderr
    assert REDIS_PASSWORD not in done.stdout
    # Still there to debug with: which Redis, as whom.
    assert "redis://advisor:********@redis.internal:6379/0" in done.stdout


def cache_locations(**variables: str) -> dict:
    caches = read_settings("CACHES", **PRODUCTION, **variables)["CACHES"]
    return {alias: caches[alias].get("LOCATION") for alias in ("default", "renders")}


def test_renders_share_redis_url_without_a_redis_of_their_own():
    assert cache_locations(REDIS_URL="redis://shared:6379/0") == {
        "default": "redis://shared:6379/0",
        "renders": "redis://shared:6379/0",
    }


def test_renders_redis_url_keeps_renderings_apart_from_sign_in_counts():
    # Only this Redis should evict under a memory limit (docs/caching.md).
    assert cache_locations(
        REDIS_URL="redis://shared:6379/0", RENDERS_REDIS_URL="redis://renders:6379/0"
    ) == {"default": "redis://shared:6379/0", "renders": "redis://renders:6379/0"}


def test_renders_stay_in_memory_without_redis():
    assert cache_locations() == {"default": None, "renders": "renders"}


def test_renders_redis_password_is_masked():
    done = run_settings(
        "from django.views.debug import get_default_exception_reporter_filter\n"
        "print(repr(get_default_exception_reporter_filter().get_safe_settings()))",
        RENDERS_REDIS_URL=f"redis://advisor:{REDIS_PASSWORD}@renders.internal:6379/0",
        **PRODUCTION,
    )

    assert done.returncode == 0, done.stderr
    assert REDIS_PASSWORD not in done.stdout


# Per-client limits (advisor/clients.py) ---------------------------------------------------------

CLIENT_LIMITS = (
    "TRUSTED_PROXIES",
    "ADVISOR_WRITES_PER_SECOND",
    "ADVISOR_WRITE_BURST",
    "LIVE_DEMO",
)


def test_client_limits_defaults():
    values = read_settings(*CLIENT_LIMITS, **PRODUCTION)

    assert values["TRUSTED_PROXIES"] == []
    assert (values["ADVISOR_WRITES_PER_SECOND"], values["ADVISOR_WRITE_BURST"]) == (5, 20)
    assert values["LIVE_DEMO"]["MAX_CONNECTIONS_PER_CLIENT"] == 50
    assert values["LIVE_DEMO"]["PROBE_MAX_STREAMS_PER_CLIENT"] == 20


def test_client_limits_from_the_environment():
    values = read_settings(
        *CLIENT_LIMITS,
        **PRODUCTION,
        DJANGO_TRUSTED_PROXIES=" 10.0.0.2, 192.168.0.0/16 ,2001:db8::/32,",
        ADVISOR_WRITES_PER_SECOND="0.5",
        ADVISOR_WRITE_BURST="3",
        DEMO_MAX_CONNECTIONS_PER_CLIENT="7",
        NETWORK_CHECK_MAX_STREAMS_PER_CLIENT="0",
    )

    assert values["TRUSTED_PROXIES"] == ["10.0.0.2", "192.168.0.0/16", "2001:db8::/32"]
    assert (values["ADVISOR_WRITES_PER_SECOND"], values["ADVISOR_WRITE_BURST"]) == (0.5, 3)
    assert values["LIVE_DEMO"]["MAX_CONNECTIONS_PER_CLIENT"] == 7
    assert values["LIVE_DEMO"]["PROBE_MAX_STREAMS_PER_CLIENT"] == 0


@pytest.mark.parametrize(
    "variables",
    [
        {"DJANGO_TRUSTED_PROXIES": "10.0.0.2,proxy.example"},
        {"DJANGO_TRUSTED_PROXIES": "10.0.0.0/33"},
        {"ADVISOR_WRITES_PER_SECOND": "fast"},
        {"ADVISOR_WRITES_PER_SECOND": "-1"},
        {"ADVISOR_WRITES_PER_SECOND": "nan"},
        {"ADVISOR_WRITE_BURST": "inf"},
        {"DEMO_MAX_CONNECTIONS_PER_CLIENT": "5.5"},
        {"NETWORK_CHECK_MAX_STREAMS_PER_CLIENT": "-3"},
    ],
    ids=lambda variables: "-".join(f"{k}={v}" for k, v in variables.items()),
)
def test_client_limits_refuse_bad_values_by_name(variables):
    done = run_settings("print(settings.TRUSTED_PROXIES)", **PRODUCTION, **variables)

    assert done.returncode != 0
    assert "ImproperlyConfigured" in done.stderr
    assert next(iter(variables)) in done.stderr


@pytest.mark.parametrize(
    "variables",
    [
        {"DEMO_SSE_HEARTBEAT": "0"},
        {"DEMO_SSE_HEARTBEAT": "-1"},
        {"DEMO_FEED_RATE": "inf"},
        {"DEMO_FEED_RATE": "four"},
        {"DEMO_HISTORY": "-5"},
        {"DEMO_HISTORY": "0"},
        {"DEMO_MAX_BACKLOG_EVENTS": "1e3"},
        {"DEMO_MAX_BACKLOG_BYTES": "0"},
    ],
    ids=lambda variables: "-".join(f"{k}={v}" for k, v in variables.items()),
)
def test_live_demo_settings_refuse_bad_values_by_name(variables):
    # A heartbeat of 0 spun a CPU per stream; a negative history failed every
    # feed start (503); "four" raised a bare ValueError.
    done = run_settings("print(settings.LIVE_DEMO)", **PRODUCTION, **variables)

    assert done.returncode != 0
    assert "ImproperlyConfigured" in done.stderr
    assert next(iter(variables)) in done.stderr


def test_live_demo_settings_take_good_values():
    done = run_settings(
        "print(settings.LIVE_DEMO['HEARTBEAT'], settings.LIVE_DEMO['FEED_RATE'])",
        **PRODUCTION,
        DEMO_SSE_HEARTBEAT="1.5",
        DEMO_FEED_RATE="0",
    )

    assert done.stdout.split() == ["1.5", "0.0"]


def test_benchmark_servers_lift_the_per_client_limits():
    """bench/servers.py's our_app: 1,000+ load clients, all from 127.0.0.1."""
    source = (ROOT / "bench" / "servers.py").read_text()
    tree = ast.parse(source)
    [limits] = [
        ast.literal_eval(node.value)
        for node in tree.body
        if isinstance(node, ast.Assign)
        and any(getattr(target, "id", "") == "BENCH_CLIENT_LIMITS" for target in node.targets)
    ]
    assert "**BENCH_CLIENT_LIMITS" in source

    values = read_settings(*CLIENT_LIMITS, **PRODUCTION, **limits)

    assert values["LIVE_DEMO"]["MAX_CONNECTIONS_PER_CLIENT"] >= 100_000
    assert values["LIVE_DEMO"]["PROBE_MAX_STREAMS_PER_CLIENT"] >= 100_000
    assert values["ADVISOR_WRITES_PER_SECOND"] >= 100_000
    assert values["ADVISOR_WRITE_BURST"] >= 100_000


EMAIL_NAMES = ("EMAIL_BACKEND", "DEFAULT_FROM_EMAIL", "ADVISOR_BASE_URL")


def test_emails_go_to_the_console_by_default():
    assert read_settings(*EMAIL_NAMES, **PRODUCTION) == {
        "EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend",
        "DEFAULT_FROM_EMAIL": "advisor@localhost",
        "ADVISOR_BASE_URL": "http://127.0.0.1:8000",
    }


def test_email_settings_from_the_environment():
    assert read_settings(
        *EMAIL_NAMES,
        "EMAIL_HOST",
        "EMAIL_PORT",
        "EMAIL_USE_TLS",
        **PRODUCTION,
        EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
        ADVISOR_EMAIL_FROM="Advisor <advisor@example.com>",
        ADVISOR_BASE_URL="https://advisor.example.com/",
        EMAIL_HOST="smtp.example.com",
        EMAIL_PORT="587",
        EMAIL_USE_TLS="1",
    ) == {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "DEFAULT_FROM_EMAIL": "Advisor <advisor@example.com>",
        "ADVISOR_BASE_URL": "https://advisor.example.com",
        "EMAIL_HOST": "smtp.example.com",
        "EMAIL_PORT": 587,
        "EMAIL_USE_TLS": True,
    }


def pool_options(**variables: str) -> dict:
    done = run_settings(
        "print(json.dumps(settings.DATABASES['default']['OPTIONS']['pool']))",
        **PRODUCTION,
        DATABASE_URL="postgres://postgres@127.0.0.1:5432/advisor_ops",
        **variables,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_database_pool_holds_ten_connections_by_default():
    assert pool_options() == {"timeout": 3.0, "min_size": 4, "max_size": 10}


def test_database_pool_max_size_from_the_environment():
    assert pool_options(DATABASE_POOL_MAX_SIZE="25")["max_size"] == 25
    # Fewer than psycopg's usual 4 kept open: the pool keeps no more than it may hold.
    assert pool_options(DATABASE_POOL_MAX_SIZE="2") == {
        "timeout": 3.0,
        "min_size": 2,
        "max_size": 2,
    }


def test_database_pool_max_size_refuses_zero():
    done = run_settings(
        "print('started')", **PRODUCTION, DATABASE_URL="postgres://x/y", DATABASE_POOL_MAX_SIZE="0"
    )
    assert "DATABASE_POOL_MAX_SIZE must be a whole number >= 1" in done.stderr
