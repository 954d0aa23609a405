"""A probe measured through a real buffering proxy, and the receipt that proves it.

When the proxy in front serves this site under ADVISOR_BUFFERING_PROBE_PREFIX
with buffering on (deploy/), it marks each request it passes with
`X-Advisor-Via: buffering-proxy`. The SSE probe believes the mark only from
a peer in TRUSTED_PROXIES (anyone else could send it), and then ends its
burst with a signed receipt; the page posts the receipt with its
measurement, and only a valid one lets the check be stored as "measured
through a real buffering proxy". Without it, a client could pass off any
figures as the proxy's.
"""

from __future__ import annotations

from django.core import signing

from advisor.clients import from_trusted_proxy
from advisor.origins import Scope, header

BUFFERING_PROXY = "buffering-proxy"
HEADER = b"x-advisor-via"
# Long enough for a slow run and its save; a receipt proves a probe, not a person.
RECEIPT_MAX_AGE = 600  # seconds
_SALT = "network_check.via"


def seen_via(scope: Scope) -> str | None:
    """ "buffering-proxy" when a trusted proxy says the request came through it, else None."""
    if header(scope, HEADER) != BUFFERING_PROXY or not from_trusted_proxy(scope):
        return None
    return BUFFERING_PROXY


def receipt(via: str) -> str:
    return signing.TimestampSigner(salt=_SALT).sign(via)


def receipt_problem(via: str, given: str) -> str | None:
    """Why ``given`` does not prove a probe through ``via`` just now, or None if it does."""
    try:
        signed = signing.TimestampSigner(salt=_SALT).unsign(given, max_age=RECEIPT_MAX_AGE)
    except signing.SignatureExpired:
        minutes = RECEIPT_MAX_AGE // 60
        return f"has expired (a receipt is good for {minutes} minutes); run the check again"
    except signing.BadSignature:
        return "is not a receipt this server gave; run the check through the proxy again"
    if signed != via:
        return f"was given for {signed!r}, not {via!r}"
    return None
