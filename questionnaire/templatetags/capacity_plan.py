"""``capacity_view``: a stored capacity plan as the result page and the PDF show it.

A filter rather than view context, so that the plan's sections are one
include in each template, whatever builds the rest of the page.
"""

from __future__ import annotations

from collections.abc import Mapping

from django import template

from questionnaire.capacity_display import CapacityView
from questionnaire.capacity_display import capacity_view as build

register = template.Library()


@register.filter
def capacity_view(result: Mapping | None) -> CapacityView | None:
    return build((result or {}).get("capacity"))
