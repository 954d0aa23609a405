"""A probe measured through a real buffering proxy, and the receipt that proves it.

When the proxy in front serves this site under ADVISOR_BUFFERING_PROBE_PREFIX
with buffering on (deploy/), it marks each request it passes with
`X-Advisor-Via: buffering-proxy`. The SSE probe believes the mark only from
a peer in TRUSTED_PROXIES (anyone else could send it), and then ends its
burst with a signed receipt; the page posts the receipt with its
measurement, and only a valid one lets the check be stored as "measured
through a real buffering proxy".

The receipt names the burst it ends (how many events, how far apart) and a
nonce, and is taken once: a run's figures must describe that burst, and one
receipt cannot label a stream of made-up runs. What it cannot prove is the
arrival times: the browser measures and reports them (docs/network-check.md).
Used nonces are kept in Django's cache, shared between processes when
REDIS_URL is set.
"""

from __future__ import annotations

import secrets

from django.core import signing
from django.core.cache import cache

from advisor.clients import from_trusted_proxy
from advisor.origins import Scope, header

BUFFERING_PROXY = "buffering-proxy"
HEADER = b"x-advisor-via"
# Long enough for a slow run and its save; a receipt proves a probe, not a person.
RECEIPT_MAX_AGE = 600  # seconds
_SALT = "network_check.via"
_USED = "network_check:receipt-used:"


def seen_via(scope: Scope) -> str | None:
    """ "buffering-proxy" when a trusted proxy says the request came through it, else None."""
    if header(scope, HEADER) != BUFFERING_PROXY or not from_trusted_proxy(scope):
        return None
    return BUFFERING_PROXY


def receipt(via: str, count: int, interval_ms: int) -> str:
    """A signed receipt for one burst of ``count`` events ``interval_ms`` apart through ``via``."""
    burst = {"via": via, "count": count, "interval_ms": interval_ms}
    return signing.TimestampSigner(salt=_SALT).sign_object(
        {**burst, "nonce": secrets.token_urlsafe(12)}
    )


def receipt_problems(via: str, given: str, sse: dict) -> dict[str, str]:
    """Why ``given`` does not prove the SSE run ``sse`` through ``via``, by field; {} if it does.

    A receipt that proves the run is spent: a second use is refused.
    """
    try:
        signed = signing.TimestampSigner(salt=_SALT).unsign_object(given, max_age=RECEIPT_MAX_AGE)
    except signing.SignatureExpired:
        minutes = RECEIPT_MAX_AGE // 60
        return {
            "via_receipt": f"has expired (a receipt is good for {minutes} minutes); "
            "run the check again"
        }
    except (signing.BadSignature, ValueError):
        return {
            "via_receipt": "is not a receipt this server gave; "
            "run the check through the proxy again"
        }
    if not isinstance(signed, dict) or signed.get("via") != via:
        given_for = signed.get("via") if isinstance(signed, dict) else None
        return {"via_receipt": f"was given for {given_for!r}, not {via!r}"}
    problems = {}
    for field, key in (("events_expected", "count"), ("interval_ms", "interval_ms")):
        if sse.get(field) != signed.get(key):
            problems[f"sse.{field}"] = (
                f"must be {signed.get(key)}, as in the probe that gave the receipt"
            )
    if problems:
        return problems
    if not cache.add(_USED + str(signed.get("nonce")), True, RECEIPT_MAX_AGE + 60):
        return {
            "via_receipt": "has been used already: each run through the proxy stores one check; "
            "run the check again"
        }
    return {}
