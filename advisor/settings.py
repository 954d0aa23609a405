"""Settings for the advisor project, driven by environment variables.

Without DJANGO_DEBUG=1 these are production settings: no debug page, and a
DJANGO_SECRET_KEY (and DJANGO_ALLOWED_HOSTS) must be given. `make run` and
the test suite (tests/settings.py) set DJANGO_DEBUG=1; the other defaults
suit development on one laptop (SQLite, in-memory channel layer). See
README.md for every variable.
"""

from __future__ import annotations

import ipaddress
import os
import re
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from identity.config import csp_with_issuer, parse_group_roles, socialaccount_providers
from operations.logs import logging_config

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be 0 or 1, not {value!r}")


def env_seconds(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    if value == "":
        return default
    if not (value.isascii() and value.isdigit() and len(value) <= 10):
        raise ImproperlyConfigured(f"{name} must be a whole number of seconds, not {value!r}")
    return int(value)


def env_count(name: str, default: int, *, minimum: int = 0) -> int:
    """A whole number >= ``minimum`` (a cap, where 0 usually means none) from the environment."""
    value = os.environ.get(name, "")
    if value == "":
        return default
    if not (value.isascii() and value.isdigit() and len(value) <= 10) or int(value) < minimum:
        raise ImproperlyConfigured(f"{name} must be a whole number >= {minimum}, not {value!r}")
    return int(value)


def env_rate(name: str, default: float, *, positive: bool = False) -> float:
    """A finite number >= 0 (> 0 if ``positive``: a period) from the environment."""
    value = os.environ.get(name, "")
    if value == "":
        return default
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if not (0 <= number < 1e9) or (positive and number == 0):
        wanted = "> 0" if positive else ">= 0"
        raise ImproperlyConfigured(f"{name} must be a number {wanted}, not {value!r}")
    return number


def env_networks(name: str, default: str = "") -> list[str]:
    """Comma-separated IP addresses or CIDR networks from the environment, each checked."""
    entries = [entry.strip() for entry in os.environ.get(name, default).split(",")]
    for entry in filter(None, entries):
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            raise ImproperlyConfigured(
                f"{name}: {entry!r} is not an IP address or network"
            ) from None
    return [entry for entry in entries if entry]


# Off unless asked for: a server started without the variable must not show
# tracebacks and settings to anyone who makes it fail, nor sign sessions with
# the development key below, which is in the source.
DEBUG = env_bool("DJANGO_DEBUG", False)

_DEV_SECRET_KEY = "django-insecure-development-key-do-not-use-in-production"
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", _DEV_SECRET_KEY if DEBUG else "")
if not SECRET_KEY:
    raise ImproperlyConfigured(
        "DJANGO_SECRET_KEY must be set: DJANGO_DEBUG is off (production) unless it is 1. "
        "Set DJANGO_SECRET_KEY for production, or DJANGO_DEBUG=1 for development "
        "(`make run` does)."
    )

ALLOWED_HOSTS = [
    host.strip()
    for host in os.environ.get(
        "DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]" if DEBUG else ""
    ).split(",")
    if host.strip()
]

INSTALLED_APPS = [
    # daphne first, so that runserver serves the ASGI application.
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    # Not a feature: the deployment checks that see serving.middleware's
    # classes as Django's (serving/checks.py).
    "serving",
    "channels",
    # For its system checks, which catch django-csp 3's CSP_* settings.
    "csp",
    "django_htmx",
    "template_partials",
    "workspaces",
    # Signing in: allauth's accounts and social accounts, and our OpenID
    # Connect provider (identity/oidc), which verifies every ID token.
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    "identity",
    "identity.oidc",
    "questionnaire",
    "live_demo",
    "network_check",
    # Health, readiness, metrics and log lines (docs/deploy.md).
    "operations",
]

# Django's own middleware, subclassed to run on the event loop where it cannot
# block (serving/middleware.py says why).
MIDDLEWARE = [
    # First, so that every resolved view is named in the metrics, even one
    # that a later middleware answers for (operations/requests.py).
    "operations.requests.RouteNameMiddleware",
    "serving.middleware.SecurityMiddleware",
    "serving.middleware.CSPMiddleware",
    "serving.middleware.SessionMiddleware",
    "serving.middleware.CommonMiddleware",
    "serving.middleware.CsrfViewMiddleware",
    "serving.middleware.AuthenticationMiddleware",
    # API tokens, and sign-in where anonymous mode is off (workspaces/middleware.py).
    "workspaces.middleware.AccessMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "serving.middleware.MessageMiddleware",
    "serving.middleware.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]
# Django's checks for these three look for its own dotted paths, so they are
# false for the subclasses above. serving/checks.py runs Django's checks on
# the classes as Django's, and says a truly missing one as serving.W001-W003.
SILENCED_SYSTEM_CHECKS = ["security.W001", "security.W002", "security.W003"]

# The Content-Security-Policy of every response that goes through Django (the
# static files, served past the middleware, get none: advisor/static_headers.py).
# Only our own files run: no inline script or style (both are in static/, the
# templates have no style="" attribute, htmx's indicator style is turned off
# in _base.html), no eval (no hx-on; htmx's event filters are not used). A
# page can be framed by nobody, and forms post only to us. 'self' in
# connect-src covers ws:// and wss:// to the same host as well (CSP Level 3,
# current browsers; the browser tests open the demo's and the network check's
# WebSockets under it). No data: images: the favicon and charts are files or
# inline SVG. See docs/deploy.md.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}

ROOT_URLCONF = "advisor.urls"
# Endpoints that answer JSON answer a failed CSRF check in JSON too.
CSRF_FAILURE_VIEW = "advisor.views.csrf_failure"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "advisor.context_processors.catalogue_version",
                "identity.context_processors.sign_in",
                "workspaces.context_processors.workspaces",
                "questionnaire.context_processors.decisions_waiting",
            ],
        },
    },
]

ASGI_APPLICATION = "advisor.asgi.application"
WSGI_APPLICATION = None

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=0,
    )
}

if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    _options = DATABASES["default"].setdefault("OPTIONS", {})
    # A database that does not answer must cost a request a few seconds and
    # a 503 (advisor/views.py), never a hang: libpq's connect timeout, and
    # how long a request waits for a connection of the pool.
    _options.setdefault("connect_timeout", env_seconds("DATABASE_CONNECT_TIMEOUT", 3))
    # Under ASGI Django's persistent connections do not apply; psycopg's pool
    # saves a new connection (several ms) on every request. Each request in
    # flight runs its sync code on a thread of its own (serving/handlers.py
    # keeps these threads; a connection goes back to the pool at each
    # request's end), so as many requests can want a connection at
    # once as are in flight: psycopg's default of 4 turns a burst into
    # "busy" answers. 10 per process keeps 2 processes x 10 far below
    # PostgreSQL's default max_connections (100); /readyz has its own.
    _pool_max = env_count("DATABASE_POOL_MAX_SIZE", 10, minimum=1)
    _options["pool"] = (
        {
            "timeout": env_rate("DATABASE_POOL_TIMEOUT", 3.0, positive=True),
            # psycopg keeps 4 open at least, unless told to keep fewer in all.
            "min_size": min(4, _pool_max),
            "max_size": _pool_max,
        }
        if env_bool("DATABASE_POOL", True)
        else False
    )
    # A pooled connection is checked (an empty query) before a request gets it:
    # after the database restarts, the pool's old connections are replaced
    # rather than failing one request each.
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = env_bool("DATABASE_HEALTH_CHECKS", True)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        # WAL lets readers work during a write; IMMEDIATE takes the write lock
        # at BEGIN, so concurrent writers queue (busy timeout) instead of
        # failing with "database is locked" halfway through a transaction.
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    # A file, not memory, so that the live servers of the browser tests
    # (separate processes) see the test database.
    DATABASES["default"]["TEST"] = {"NAME": BASE_DIR / "test-db.sqlite3"}
    # Django's backend, keeping the file open between requests so that closing
    # a request's connection does not checkpoint the log (serving/sqlite_backend).
    DATABASES["default"]["ENGINE"] = "serving.sqlite_backend"

REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL]},
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# The live demo's feed. With REDIS_URL set, every server process shares one
# feed (one id sequence, one history) through Redis; without it, the feed
# lives in the one process. See live_demo/feed/ and the README.
LIVE_DEMO = {
    "REDIS_URL": REDIS_URL,
    # Keys and channels in Redis start with this (several apps, one Redis).
    "REDIS_PREFIX": os.environ.get("DEMO_REDIS_PREFIX", "advisor:demo"),
    # Simulated market ticks per second; 0 for none (only chat events).
    "FEED_RATE": env_rate("DEMO_FEED_RATE", 4.0),
    # Recent events kept for replay after a drop.
    "HISTORY": env_count("DEMO_HISTORY", 1000, minimum=1),
    # Seconds between SSE heartbeat comments; what EventSource waits before
    # reconnecting (the stream's retry: field), in milliseconds.
    # (A heartbeat of 0 would reschedule itself without end.)
    "HEARTBEAT": env_rate("DEMO_SSE_HEARTBEAT", 15.0, positive=True),
    "RETRY_MS": 2000,
    # A connection whose unsent backlog passes either bound is closed, so
    # one client that stops reading costs neither memory nor everyone's feed.
    "MAX_BACKLOG_EVENTS": env_count("DEMO_MAX_BACKLOG_EVENTS", 500, minimum=1),
    "MAX_BACKLOG_BYTES": env_count("DEMO_MAX_BACKLOG_BYTES", 1024 * 1024, minimum=1),
    # How long a new WebSocket waits for a first {"type": "resume"} before
    # going live, so that a resume replays in order with no gap.
    "RESUME_WINDOW": 0.5,
    "MAX_TEXT_BYTES": 64 * 1024,
    "MAX_BINARY_BYTES": 1024 * 1024,
    "MAX_MESSAGES_PER_SECOND": 20,
    # A WebSocket client sending more than FLOOD_FACTOR times that rate for
    # FLOOD_SECONDS on end is closed (4008): dropping the excess alone still
    # left the server decoding and queueing every frame.
    "FLOOD_FACTOR": 2.0,
    "FLOOD_SECONDS": 2.0,
    "MAX_CHAT_CHARS": 500,
    # Caught-up subscribers get each event written straight to their socket
    # (serving/direct_write.py); 0 sends every event through ASGI.
    "DIRECT_WRITES": env_bool("DEMO_DIRECT_WRITES", True),
    # Open demo connections (SSE streams and WebSockets together) one client
    # may hold in this process; 0 for no cap. A tab holds one of each, seven
    # more while its "streams" panel is open: 50 is five such tabs, and one
    # client can no longer hold thousands (advisor/clients.py).
    "MAX_CONNECTIONS_PER_CLIENT": env_count("DEMO_MAX_CONNECTIONS_PER_CLIENT", 50),
    # Open network-check SSE probe streams one client may hold in this
    # process (of MAX_PROBE_STREAMS for everyone); 0 for no cap. One check
    # opens 8 at once: 20 lets two run together from one address (a shared
    # office address), where a refused stream would be measured as the
    # network's limit.
    "PROBE_MAX_STREAMS_PER_CLIENT": env_count("NETWORK_CHECK_MAX_STREAMS_PER_CLIENT", 20),
}
# The live decision stream (questionnaire/live.py, docs/live-decisions.md).
DECISION_STREAM = {
    # Seconds between heartbeat comments; each also re-reads the audit log,
    # so a lost wake-up delays an update by at most this.
    "HEARTBEAT": env_rate("DECISION_STREAM_HEARTBEAT", 15.0, positive=True),
    # What EventSource waits before reconnecting (the stream's retry:).
    "RETRY_MS": 3000,
    # Open decision streams one person may hold in this process; 0 for no cap.
    "MAX_PER_USER": env_count("DECISION_STREAM_MAX_PER_USER", 20),
}

# daphne's runserver enforces this per WebSocket message (close code 1009);
# live_demo narrows it to MAX_TEXT_BYTES for text messages.
DAPHNE_WEBSOCKET_MAX_MESSAGE_SIZE = LIVE_DEMO["MAX_BINARY_BYTES"]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
# The app serves its own static files (no CDN, no extra web server needed);
# behind a reverse proxy that serves STATIC_ROOT, set DJANGO_SERVE_STATIC=0.
SERVE_STATIC = env_bool("DJANGO_SERVE_STATIC", True)
if not SERVE_STATIC:
    # The proxy serves what collectstatic wrote, under names that carry each
    # file's hash (app.3f2a9c1d0b4e.css): it can let browsers cache them for
    # a year, and a new release changes the names (deploy/nginx.conf).
    STORAGES = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {
            "BACKEND": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"
        },
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
if not DEBUG:
    SESSION_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", True)
    CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
    CSRF_TRUSTED_ORIGINS = [
        origin.strip()
        for origin in os.environ.get("DJANGO_CSRF_TRUSTED_ORIGINS", "").split(",")
        if origin.strip()
    ]

# Behind a TLS-terminating proxy Django sees plain HTTP; trusting the proxy's
# X-Forwarded-Proto makes share links, the API's Location headers and the
# secure-cookie and CSRF checks use https://. Off by default: without such a
# proxy, any client could send the header and pass for HTTPS.
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https")
    if env_bool("DJANGO_SECURE_PROXY_SSL_HEADER", False)
    else None
)
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", False)
# 0 sends no Strict-Transport-Security: set it once HTTPS works for good, as
# browsers then refuse plain HTTP to this host for that many seconds.
SECURE_HSTS_SECONDS = env_seconds("DJANGO_SECURE_HSTS_SECONDS", 0)

# Who a client is (advisor/clients.py): the direct peer, unless it is one of
# these proxies (IP addresses or CIDR networks), whose X-Forwarded-For then
# names the client. Empty by default: without a proxy in front, any client
# could send the header and pass for anyone.
TRUSTED_PROXIES = env_networks("DJANGO_TRUSTED_PROXIES")

# Writes one client may make (new assessments, revisions, network checks):
# a token bucket per client, per process. Filling in the questionnaire by
# hand never comes near it; a script creating assessments in a loop does.
# 0 per second: no limit.
ADVISOR_WRITES_PER_SECOND = env_rate("ADVISOR_WRITES_PER_SECOND", 5)
ADVISOR_WRITE_BURST = max(1.0, env_rate("ADVISOR_WRITE_BURST", 20))

# Who may use the advisor without an account (workspaces/access.py, docs/access.md).
# On: anyone fills in the questionnaire and runs the network check, and an
# anonymous assessment is read by its link; on by default for development
# only. Off: everything but signing in, the live demo (ADVISOR_PUBLIC_DEMO)
# and static files needs a signed-in user or an API token.
ADVISOR_ANONYMOUS = env_bool("ADVISOR_ANONYMOUS", DEBUG)
ADVISOR_PUBLIC_DEMO = env_bool("ADVISOR_PUBLIC_DEMO", True)
# Local accounts with passwords, for small installations and development;
# 0 leaves single sign-on (OIDC_*) as the only way in.
ADVISOR_LOCAL_LOGIN = env_bool("ADVISOR_LOCAL_LOGIN", True)

# Emails about decisions (questionnaire/notify.py): review requests to the
# reviewers, accepted or rejected to whoever asked. Printed on the console
# unless another backend is set (SMTP: django.core.mail.backends.smtp.EmailBackend
# with the EMAIL_HOST* variables). Links in them start with ADVISOR_BASE_URL,
# as there is no request to take the site's address from.
EMAIL_BACKEND = (
    os.environ.get("EMAIL_BACKEND", "").strip() or "django.core.mail.backends.console.EmailBackend"
)
DEFAULT_FROM_EMAIL = os.environ.get("ADVISOR_EMAIL_FROM", "").strip() or "advisor@localhost"
EMAIL_HOST = os.environ.get("EMAIL_HOST", "").strip() or "localhost"
EMAIL_PORT = env_count("EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
# Seconds to wait for the mail server: sending happens after the change
# commits, within the request that made it.
EMAIL_TIMEOUT = 10
ADVISOR_BASE_URL = (
    os.environ.get("ADVISOR_BASE_URL", "").strip().rstrip("/") or "http://127.0.0.1:8000"
)

# Signing in (identity/, docs/access.md): allauth's pages under /accounts/.
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "/"
ACCOUNT_LOGOUT_REDIRECT_URL = "/"
# Both check passwords only while ADVISOR_LOCAL_LOGIN is on (identity/backends.py).
AUTHENTICATION_BACKENDS = [
    "identity.backends.LocalPasswordBackend",
    "identity.backends.AccountBackend",
]
# No sign-up page: local accounts are made by operators; SSO users on
# their first sign-in (identity/adapters.py).
ACCOUNT_ADAPTER = "identity.adapters.AccountAdapter"
SOCIALACCOUNT_ADAPTER = "identity.adapters.SocialAccountAdapter"
ACCOUNT_FORMS = {"login": "identity.forms.PasswordLoginForm"}
ACCOUNT_LOGIN_METHODS = {"username"}
ACCOUNT_SIGNUP_FIELDS = ["username*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_UNIQUE_EMAIL = False
# Failed sign-ins, counted in the cache below: 10 a minute from one client
# (advisor.clients.client_key), and 5 in 5 minutes for one username.
ACCOUNT_RATE_LIMITS = {"login_failed": "10/m/ip,5/5m/key"}
SOCIALACCOUNT_AUTO_SIGNUP = True
SOCIALACCOUNT_EMAIL_REQUIRED = False
SOCIALACCOUNT_EMAIL_VERIFICATION = "none"
# Never attach an SSO sign-in to an existing account by its e-mail address:
# an identity provider that lets people set theirs would hand out accounts.
SOCIALACCOUNT_EMAIL_AUTHENTICATION = False
# A page with a button (a POST) before leaving for the identity provider,
# rather than a GET that any page could trigger.
SOCIALACCOUNT_LOGIN_ON_GET = False
# Seconds for each request to the identity provider (discovery, keys, token, userinfo).
SOCIALACCOUNT_REQUESTS_TIMEOUT = 5
SOCIALACCOUNT_STORE_TOKENS = False

# OpenID Connect single sign-on, configured only when OIDC_ISSUER is set.
SOCIALACCOUNT_PROVIDERS = socialaccount_providers(os.environ)
CONTENT_SECURITY_POLICY = csp_with_issuer(
    CONTENT_SECURITY_POLICY, os.environ.get("OIDC_ISSUER", "").strip()
)
# The claim that lists a person's groups, and what each group gives:
# "group=workspace-slug:role,..." (identity/config.py, docs/access.md).
OIDC_GROUPS_CLAIM = os.environ.get("OIDC_GROUPS_CLAIM", "").strip() or "groups"
OIDC_GROUP_ROLES = parse_group_roles(os.environ.get("OIDC_GROUP_ROLES", ""))

# allauth counts failed sign-ins in Django's cache. With REDIS_URL every
# server process shares one count through Redis; without it each process
# counts its own in memory (one process: `make run`, small installations).
# "renders" holds the renderings of immutable revisions (result page
# snapshots, PDF reports: docs/caching.md), under keys of its own. On the
# same Redis as "default" (REDIS_URL alone) a memory limit with eviction
# would evict sign-in counts and workload runs as readily as renderings:
# RENDERS_REDIS_URL gives the renderings a Redis of their own, the only one
# that should have a maxmemory with an eviction policy.
CACHE_REDIS_PREFIX = os.environ.get("CACHE_REDIS_PREFIX", "advisor:cache")
RENDERS_REDIS_URL = os.environ.get("RENDERS_REDIS_URL", "") or REDIS_URL
CACHES = {
    "default": (
        {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": CACHE_REDIS_PREFIX,
        }
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    ),
    "renders": (
        {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": RENDERS_REDIS_URL,
            "KEY_PREFIX": f"{CACHE_REDIS_PREFIX}:renders",
        }
        if RENDERS_REDIS_URL
        else {
            # Each process's own memory: at most this many entries (a PDF is
            # 40-150 KB, a page snapshot a few KB), so 500 take up to ~75 MB.
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "renders",
            "OPTIONS": {"MAX_ENTRIES": env_count("ADVISOR_RENDER_CACHE_ENTRIES", 500, minimum=1)},
        }
    ),
}
# How long a rendering stays cached (it never goes stale: its key changes instead).
ADVISOR_RENDER_CACHE_SECONDS = env_seconds("ADVISOR_RENDER_CACHE_SECONDS", 7 * 24 * 3600)
# PDF reports render in this many worker processes (default: cores - 1, at
# least 1), with at most ADVISOR_REPORT_QUEUE more waiting for one; beyond
# that a download is answered 503 with Retry-After.
ADVISOR_REPORT_WORKERS = env_count(
    "ADVISOR_REPORT_WORKERS", max(1, len(os.sched_getaffinity(0)) - 1), minimum=1
)
ADVISOR_REPORT_QUEUE = env_count("ADVISOR_REPORT_QUEUE", 16)
# Start the render workers in the background at a server's first request
# (on), or at the first render, which then waits a second or two (off).
ADVISOR_REPORT_WORKERS_EARLY = env_bool("ADVISOR_REPORT_WORKERS_EARLY", True)
# Render a report in the background when its assessment changes (a new
# assessment or revision, a review request, an approval, an acceptance), if a
# render worker is idle, so that its first download is served from the cache
# (questionnaire/prerender.py).
ADVISOR_REPORT_PRERENDER = env_bool("ADVISOR_REPORT_PRERENDER", True)

# The debug page and error reports mask passwords inside URLs too, such as
# the one REDIS_URL carries into three settings (advisor/error_reports.py).
DEFAULT_EXCEPTION_REPORTER_FILTER = "advisor.error_reports.ExceptionReporterFilter"

# Log lines (operations/logs.py): one JSON object per line (json, the
# default in production) or readable text (text, the default with
# DJANGO_DEBUG=1); each carries its request's id. ADVISOR_ACCESS_LOG: a line
# per request, on by default in production only (in development runserver
# prints its own).
ADVISOR_LOG_FORMAT = os.environ.get("ADVISOR_LOG_FORMAT", "").strip() or (
    "text" if DEBUG else "json"
)
if ADVISOR_LOG_FORMAT not in {"json", "text"}:
    raise ImproperlyConfigured(
        f"ADVISOR_LOG_FORMAT must be json or text, not {ADVISOR_LOG_FORMAT!r}"
    )
LOGGING = logging_config(
    ADVISOR_LOG_FORMAT,
    os.environ.get("DJANGO_LOG_LEVEL", "WARNING"),
    access_log=env_bool("ADVISOR_ACCESS_LOG", not DEBUG),
)

# GET /metrics (operations/metrics.py) answers a bearer token equal to
# ADVISOR_METRICS_TOKEN (none: no token is taken), or a client whose address
# (advisor/clients.py) is in ADVISOR_METRICS_ALLOW: IP addresses or CIDR
# networks, loopback only by default; empty for none.
ADVISOR_METRICS_TOKEN = os.environ.get("ADVISOR_METRICS_TOKEN", "").strip()
ADVISOR_METRICS_ALLOW = env_networks("ADVISOR_METRICS_ALLOW", "127.0.0.1,::1")

# Where the proxy in front serves this same site through a buffering
# location (deploy/), e.g. /via-buffering-proxy: the network check then
# offers to measure through it (docs/network-check.md). Empty: not offered.
ADVISOR_BUFFERING_PROBE_PREFIX = (
    os.environ.get("ADVISOR_BUFFERING_PROBE_PREFIX", "").strip().rstrip("/")
)
if ADVISOR_BUFFERING_PROBE_PREFIX and not re.fullmatch(
    r"(/[A-Za-z0-9._~-]+)+", ADVISOR_BUFFERING_PROBE_PREFIX
):
    raise ImproperlyConfigured(
        "ADVISOR_BUFFERING_PROBE_PREFIX must be a path such as /via-buffering-proxy, "
        f"not {ADVISOR_BUFFERING_PROBE_PREFIX!r}"
    )
