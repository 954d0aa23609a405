"""Assessments created at the same time from many threads, as under ASGI (one thread a request)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connections

from questionnaire.models import Assessment, Revision

WRITERS = 8


def create_and_close(title: str, answers: dict[str, str]) -> str:
    try:
        assessment, _ = Assessment.create_scored(title, answers)
        return str(assessment.pk)
    finally:
        connections.close_all()


@pytest.mark.django_db(transaction=True)
def test_create_scored_from_many_threads_saves_each_once(chat_answers):
    with ThreadPoolExecutor(max_workers=WRITERS) as pool:
        futures = [
            pool.submit(create_and_close, f"chat {n}", chat_answers) for n in range(WRITERS * 3)
        ]
        ids = [future.result(timeout=60) for future in futures]

    assert sorted(str(pk) for pk in Assessment.objects.values_list("pk", flat=True)) == sorted(ids)
    assert list(Revision.objects.values_list("number", flat=True).distinct()) == [1]


@pytest.mark.django_db
def test_create_scored_answers_with_its_revision_without_a_query(
    chat_answers, django_assert_num_queries
):
    with django_assert_num_queries(4):  # SAVEPOINT, two INSERTs, RELEASE: no read
        assessment, revision = Assessment.create_scored("Team chat", chat_answers)

    with django_assert_num_queries(0):
        assert revision.assessment is assessment
    assert (revision.pk, revision.number) == (Revision.objects.get().pk, 1)
