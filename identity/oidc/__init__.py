"""OpenID Connect sign-in that verifies every ID token (see views.py)."""
