"""Fixtures of the sign-in tests: a fresh cache, and a real OpenID provider.

The provider is panva/oidc-provider under Node.js (oidc_provider/server.js),
one per test that asks for it: its one client's redirect URI names the live
server's port, which is known only once that server runs, and an identity
provider matches redirect URIs exactly. Its own port is chosen first, so the
app's settings can name the issuer before the live server is forked.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from identity.config import CALLBACK_PATH, csp_with_issuer, parse_group_roles
from identity.config import socialaccount_providers as providers_for
from tests.conftest import start_daphne, stop_daphne

PROVIDER_DIR = Path(__file__).parent / "oidc_provider"
CLIENT_ID = "advisor-tests"
CLIENT_SECRET = "test-only-client-secret-0123456789abcdef"
PROVIDER_NAME = "Example Corp sign-in"
GROUP_ROLES = "payments-team=payments:editor,architects=payments:reviewer"
USERS = {"alice": "alice-password", "bob": "bob-password"}


@pytest.fixture(autouse=True)
def fresh_cache(settings, request) -> None:
    """A cache of this test's own: allauth counts failed sign-ins in it.

    A new LocMemCache location, not cache.clear(): with REDIS_URL set that
    would empty a Redis others use.
    """
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": f"identity-{request.node.nodeid}",
        }
    }


@pytest.fixture(autouse=True)
def fast_password_hashing(settings) -> None:
    # The throttling tests check dozens of passwords: Django's default
    # hasher takes about a second each on a busy machine.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def issuer() -> str:
    return f"http://127.0.0.1:{free_port()}"


@pytest.fixture
def live_server_url(transactional_db, settings, issuer) -> Iterator[str]:
    """The live server, signing in at ``issuer``, with anonymous mode off."""
    settings.SOCIALACCOUNT_PROVIDERS = providers_for(
        {
            "OIDC_ISSUER": issuer,
            "OIDC_CLIENT_ID": CLIENT_ID,
            "OIDC_CLIENT_SECRET": CLIENT_SECRET,
            "OIDC_PROVIDER_NAME": PROVIDER_NAME,
            "OIDC_SCOPES": "openid profile email groups",
        }
    )
    settings.OIDC_GROUP_ROLES = parse_group_roles(GROUP_ROLES)
    settings.CONTENT_SECURITY_POLICY = csp_with_issuer(settings.CONTENT_SECURITY_POLICY, issuer)
    settings.ADVISOR_ANONYMOUS = False
    server, url = start_daphne()
    yield url
    stop_daphne(server)


@pytest.fixture
def identity_provider(live_server_url, issuer, tmp_path) -> Iterator[Callable[..., str]]:
    """Start the OpenID provider at ``issuer`` (``id_token_mode`` forges its ID tokens)."""
    processes: list[subprocess.Popen] = []

    def start(id_token_mode: str = "") -> str:
        if not (PROVIDER_DIR / "node_modules").is_dir():
            pytest.fail("the test OpenID provider is not installed: run scripts/ensure-test-deps")
        log = tmp_path / f"oidc-provider-{len(processes)}.log"
        # The child has its own copy of the file's descriptor.
        with log.open("w") as errors:
            process = subprocess.Popen(
                ["node", "server.js"],
                cwd=PROVIDER_DIR,
                env={
                    **os.environ,
                    "PORT": issuer.rsplit(":", 1)[1],
                    "CLIENT_ID": CLIENT_ID,
                    "CLIENT_SECRET": CLIENT_SECRET,
                    "REDIRECT_URI": live_server_url + CALLBACK_PATH,
                    "ID_TOKEN_MODE": id_token_mode,
                },
                stdout=subprocess.PIPE,
                stderr=errors,
                text=True,
            )
        processes.append(process)
        # It says its address once it listens; "" is its exit.
        if not process.stdout.readline().startswith("test OpenID provider at"):
            pytest.fail(f"the test OpenID provider did not start:\n{log.read_text()}")
        with urllib.request.urlopen(f"{issuer}/.well-known/openid-configuration", timeout=5) as r:
            assert json.load(r)["issuer"] == issuer
        return issuer

    yield start
    for process in processes:
        process.terminate()
        process.wait(timeout=10)
        process.stdout.close()
