"""What the base template shows on every page."""

from __future__ import annotations

from django.http import HttpRequest

from questionnaire.catalogue import get_catalogue


def catalogue_version(request: HttpRequest) -> dict[str, str]:
    """The current catalogue's version, for the footer (a page may show its own)."""
    return {"catalogue_version": get_catalogue().version}
