"""The fields of a posted JSON document, checked: every problem keyed by its dotted name.

Shared by the APIs that judge a measurement the browser posts (the network
check, a workload run): each helper adds what it finds to ``errors`` and
returns the cleaned value, or None, so one pass reports every bad field and
a caller stores nothing while ``errors`` holds any.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence


def required_object(
    value: object, name: str, fields: tuple[str, ...], errors: dict[str, str]
) -> Mapping | None:
    """``value`` if it is an object; each field it lacks or has beyond ``fields``, named."""
    if not isinstance(value, Mapping):
        errors[name] = f"must be an object with {listed(fields)}"
        return None
    unknown_keys(value, fields, f"{name}.", errors)
    for key in fields:
        if key not in value:
            errors[f"{name}.{key}"] = "required"
    return value


def unknown_keys(
    value: Mapping, fields: tuple[str, ...], prefix: str, errors: dict[str, str]
) -> None:
    for key in value.keys() - set(fields):
        errors[f"{prefix}{key}"] = f"unknown field; expected {listed(fields)}"


def bounded_integer(
    part: Mapping, name: str, key: str, bounds: tuple[int, int], errors: dict[str, str]
) -> int | None:
    if key not in part:
        return None
    value = json_integer(part[key], *bounds)
    if value is None:
        errors[f"{name}.{key}"] = f"must be a whole number from {bounds[0]} to {bounds[1]}"
    return value


def json_integer(value: object, low: int, high: int) -> int | None:
    """``value`` if it is a JSON whole number from ``low`` to ``high``, else None."""
    # bool is an int to Python but true/false is no count in JSON.
    if type(value) is not int or not low <= value <= high:
        return None
    return value


def listed(fields: Sequence[str]) -> str:
    """ "a, b and c", for a message."""
    return fields[0] if len(fields) == 1 else f"{', '.join(fields[:-1])} and {fields[-1]}"
