"""Bearer secrets (API tokens, share links): made here, stored only as a hash.

A secret carries 256 bits from ``secrets.token_urlsafe``. A fast hash is
enough for such a value (there is nothing to guess, unlike a password), and
lets a request find its row with one indexed lookup.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

# Enough of a token to tell it apart in a list and to revoke it by; the rest
# stays secret. 4 + 8 characters: "adv_" and 48 bits of the random part.
PREFIX_LENGTH = 12


def new_secret(kind: str) -> str:
    """A fresh secret such as ``adv_...`` (API token) or ``shr_...`` (share link)."""
    return f"{kind}_{secrets.token_urlsafe(32)}"


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def same(secret: str, stored_digest: str) -> bool:
    return hmac.compare_digest(digest(secret), stored_digest)
