"""The scaled-out topology the README describes: two server processes, one Redis, one database.

A load balancer may send each request of a user to either process: whatever
one process stores, the other must serve. (The live demo's feed across two
processes is tested in test_redis.py.)
"""

from __future__ import annotations

import httpx
import pytest

from tests.network_check.measurements import measurement
from tests.seed import PRESETS


@pytest.fixture
def two_processes(transactional_db, redis_options, daphne_servers) -> tuple[str, str]:
    """Two daphne processes forked with the same Redis prefix and the same test database."""
    return daphne_servers(), daphne_servers()


def test_topology_assessment_saved_on_one_process_read_on_other(two_processes, catalogue):
    a, b = two_processes
    answers = dict(catalogue.preset(PRESETS[0]).answers)
    created = httpx.post(
        f"{a}/api/assessments/", json={"title": "Order tracking", "answers": answers}
    )
    assert created.status_code == 201
    document = created.json()

    read = httpx.get(f"{b}/api/assessments/{document['id']}/")
    assert read.status_code == 200
    assert read.json()["recommendation"] == document["recommendation"]
    assert read.json()["answers"] == document["answers"]
    page = httpx.get(f"{b}/assessments/{document['id']}/")
    assert page.status_code == 200
    assert "Order tracking" in page.text


def test_topology_network_check_stored_on_one_process_linked_on_other(two_processes, catalogue):
    a, b = two_processes
    check = httpx.post(f"{a}/api/network-checks/", json=measurement())
    assert check.status_code == 201
    answers = dict(catalogue.preset(PRESETS[0]).answers)
    created = httpx.post(
        f"{b}/api/assessments/", json={"answers": answers, "network_check": check.json()["id"]}
    )
    assert created.status_code == 201
    assert created.json()["network_check"]["id"] == check.json()["id"]
