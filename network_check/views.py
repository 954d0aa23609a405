"""The "Check my network" page, and the evidence partial its script loads after a run."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_safe

from questionnaire.catalogue import get_catalogue
from workspaces import access
from workspaces.access import Action

from .evidence import evidence_of
from .models import NetworkCheck
from .suggestions import CHECK

# The evidence partial's ?mode=: the standalone page only shows the
# suggestions; the wizard's network step also offers to tick them.
MODES = ("page", "wizard")
# Its headings sit under the panel's own (h2 on the page, h3 in the wizard).
HEADING_LEVELS = {"page": 3, "wizard": 4}


# HEAD too: monitors and link checkers ask with it.
@require_safe
def page(request: HttpRequest) -> HttpResponse:
    """The standalone "Check my network" page; the check runs in the browser."""
    catalogue = get_catalogue()
    return render(
        request,
        "network_check/page.html",
        # The questions the check can answer, as the catalogue says, in its order.
        {
            "catalogue": catalogue,
            "questions": catalogue.measured_by(CHECK),
            # Set when the proxy in front also serves the site through a
            # buffering location: the page then offers to measure through it.
            "buffering_prefix": settings.ADVISOR_BUFFERING_PROBE_PREFIX,
        },
    )


# HEAD too, as for every page a link checker may ask about.
@require_safe
def evidence(request: HttpRequest, pk) -> HttpResponse:
    """One stored check's findings and suggestions: the markup the result page and PDF show.

    The check's script swaps it into its panel (htmx) once the measurement is
    stored, so that the findings are rendered by the one template, never
    built a second time in the browser.
    """
    mode = request.GET.get("mode", "page")
    if mode not in MODES:
        return HttpResponseBadRequest(
            f"Unknown mode {mode!r:.40}: use mode=page (the default) or mode=wizard.\n",
            content_type="text/plain; charset=utf-8",
        )
    check = get_object_or_404(NetworkCheck, pk=pk)
    access.require(request, Action.VIEW, check)
    return render(
        request,
        "network_check/_evidence.html#evidence",
        {
            "evidence": evidence_of(check, get_catalogue()),
            "mode": mode,
            "level": HEADING_LEVELS[mode],
        },
    )
