"""``{% workload_presets %}``: the catalogue's eight presets as links to the workload page.

A tag, so that the demo page shows them with one line and no change to its view.
"""

from __future__ import annotations

from django import template

from questionnaire.catalogue import get_catalogue
from questionnaire.workload import describe, workload_of

register = template.Library()


def presets() -> list[dict]:
    """The current catalogue's presets, each with the workload it maps to."""
    catalogue = get_catalogue()
    found = []
    for preset in catalogue.presets:
        workload = workload_of(preset.answers, catalogue.version, preset=preset.slug)
        found.append(
            {
                "slug": preset.slug,
                "title": preset.title,
                "workload": workload,
                "sentence": describe(workload),
            }
        )
    return found


@register.inclusion_tag("live_demo/_workload_presets.html")
def workload_presets() -> dict:
    return {"presets": presets()}
