from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.contrib import admin
from django.db.models import F

from network_check.models import NetworkCheck

from .measurements import measurement

pytestmark = pytest.mark.django_db


@pytest.fixture
def check() -> NetworkCheck:
    return NetworkCheck.objects.create(measurement=measurement(), user_agent="Test/1.0")


def test_find_by_id(check):
    assert NetworkCheck.find(str(check.pk)) == check


@pytest.mark.parametrize("value", [str(uuid.uuid4()), "not-a-uuid", ""])
def test_find_unknown_or_malformed_is_none(check, value):
    assert NetworkCheck.find(value) is None


def test_str_names_the_check(check):
    assert str(check) == f"Network check {str(check.pk)[:8]}"


def test_newest_first(check):
    newer = NetworkCheck.objects.create(measurement=measurement(), user_agent="")
    # A minute apart, so that the order cannot hang on a clock's resolution.
    earlier = F("created_at") - timedelta(minutes=1)
    NetworkCheck.objects.filter(pk=check.pk).update(created_at=earlier)

    assert list(NetworkCheck.objects.all()) == [newer, check]


def test_registered_in_admin_read_only():
    model_admin = admin.site._registry[NetworkCheck]

    assert (model_admin.has_add_permission(None), model_admin.has_change_permission(None)) == (
        False,
        False,
    )
