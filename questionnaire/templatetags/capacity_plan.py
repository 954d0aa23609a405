"""``capacity_view``: a stored capacity plan as the result page and the PDF show it.

A filter rather than view context, so that the plan's sections are one
include in each template, whatever builds the rest of the page.
"""

from __future__ import annotations

from collections.abc import Mapping

from django import template

from questionnaire.capacity_display import CapacityView, figure, size
from questionnaire.capacity_display import capacity_view as build

register = template.Library()


@register.filter
def capacity_view(result: Mapping | None) -> CapacityView | None:
    result = result or {}
    return build(result.get("capacity"), result.get("recommendation"))


@register.filter
def binary_size(number_of_bytes: float | None) -> str:
    """Bytes in KiB, MiB, GiB: the units of the plan's own rows."""
    return size(number_of_bytes or 0)


@register.filter
def plan_figure(number: float | None) -> str:
    """A count or rate without an exponent, with thousands separators."""
    return figure(number or 0)


@register.filter
def microseconds(seconds: float | None) -> str:
    return figure((seconds or 0) * 1e6) if seconds is not None else "not measured"


@register.filter
def milliseconds(seconds: float | None) -> str:
    return figure((seconds or 0) * 1e3) if seconds is not None else "not measured"


@register.filter
def gigabits(bits: float | None) -> str:
    return figure((bits or 0) / 1e9)
