"""The one percentile of the project (the browser's twin is in static/js/app.js)."""

from __future__ import annotations

import math
from collections.abc import Sequence


def percentile(values: Sequence[float], share: float) -> float:
    """The nearest-rank percentile (``share`` from 0 to 1) of a non-empty sequence.

    The smallest value with at least ``share`` of the values at or below it:
    always one of the values measured, never an interpolation.
    """
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    rank = max(math.ceil(share * len(ordered)), 1)
    return ordered[rank - 1]
