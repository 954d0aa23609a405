"""The permission matrix: every principal against every entry point, in one table.

Read a row as "what this entry point answers each principal", a column as
"what this principal may do". The world every cell runs in (built once, and
as built in every cell: ``built_world``):

- workspace **team**: owner, editor, reviewer and viewer are its members;
  assessment A (its revision linked to network check C) is team's;
- workspace **other**: outsider owns it and is in no other workspace;
- holder: signed in, member of no workspace, holding a share link to A
  (live, revoked or expired);
- tok:<role> is an API token of team's member with that role; tok:other is
  outsider's token for other;
- anonymous: no account, no token;
- U is an assessment stored before workspaces (unassigned).
- the decision rows start A where they need it (prepare()): in review as
  asked by editor, with owner, editor and reviewer named (the editor's 403
  is the rule against approving one's own request); accepted, with B,
  another of team's assessments, to supersede it.
- D is team's, in review, with owner, editor and reviewer named as reviewers
  (review requested by nobody of them, so that each may approve).
- L is a workload run of A's workload, running, started by editor's browser
  from A's workload page (the live demo's: live_demo/workload/); the
  principal uses the run id the start answered. A guessed run is an id the
  server never gave out.

Anonymous mode is off (the enterprise setting; ADVISOR_ANONYMOUS=0) and the
live demo public (ADVISOR_PUBLIC_DEMO=1, the default). The second table is
anonymous mode on, for what a newcomer without an account does; the third
the live demo private (ADVISOR_PUBLIC_DEMO=0). Cells:

- a status: the response has it; for an event stream, the status its ASGI
  application answers (ahead of Django, advisor/asgi.py);
- for a WebSocket (WS), from this site's page: 403, its handshake refused;
  101, accepted and answering a ping; 4xxx, accepted, then closed with that
  code (4004: no such run);
- sign-in: a redirect to the sign-in page, and back after it;
- admin: the admin's own sign-in page (nobody here is staff; tests/workspaces/
  test_admin.py shows what staff see);
- -: does not apply (a share link opens only its pages).

An API token reads pages and opens the streams and WebSockets that ask for
sign-in, but every page form refuses it (403): a program gets a CSRF token
as easily as a browser, and page forms are a person's. (The demo's JSON
posts take it: they are not forms.)

Where a cell refuses (4xx, sign-in, admin), the test also asserts that
nothing changed in the database. Where a non-member gets 200 (a list of
their own workspace), nothing of team's may be in the answer.
"""

from __future__ import annotations

import copy
import json
import secrets
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from unittest.mock import patch

import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import transaction
from django.http import HttpResponse
from django.test import Client
from django.utils import timezone

from live_demo.feed import reset_feed
from live_demo.models import WorkloadRun
from live_demo.views import _send_limits as send_limits
from live_demo.workload.runs import Run, runs
from live_demo.workload.views import _up_limits as up_limits
from network_check.models import NetworkCheck
from questionnaire.catalogue import get_catalogue
from questionnaire.models import (
    Assessment,
    Comment,
    DecisionStatus,
    Review,
    Reviewer,
    Revision,
    ShareLink,
)
from questionnaire.workload import workload_of
from tests.network_check.measurements import measurement
from tests.operations import asgi
from tests.questionnaire.test_views import finish_data
from workspaces.models import ApiToken, AuditEvent, Membership, Role, Workspace

HOST = "testserver"

MATRIX = """
entry point                                owner   editor  reviewer viewer  outsider anonymous tok:owner tok:editor tok:reviewer tok:viewer tok:other holder  revoked expired
GET  result page /assessments/A/           200     200     200      200     404      sign-in   200       200        200          200        404       -       -       -
GET  edit form /assessments/A/edit/        200     200     403      403     404      sign-in   200       200        403          403        404       -       -       -
POST edit form (finish: new revision)      302     302     403      403     404      sign-in   403       403        403          403        403       -       -       -
GET  PDF /assessments/A/report.pdf         200     200     200      200     404      sign-in   200       200        200          200        404       -       -       -
GET  ADR /assessments/A/adr.md             200     200     200      200     404      sign-in   200       200        200          200        404       -       -       -
GET  evidence partial (htmx) of C          200     200     200      200     404      sign-in   200       200        200          200        404       -       -       -
POST share link on the page                200     200     403      403     404      sign-in   403       403        403          403        403       -       -       -
POST revoke share link on the page         302     302     403      403     404      sign-in   403       403        403          403        403       -       -       -
POST claim U into team                     302     403     403      403     404      sign-in   403       403        403          403        403       -       -       -
GET  decision partial /assessments/A/decision/ 200  200     200      200     404      sign-in   200       200        200          200        404       -       -       -
POST request review of A (draft)           302     302     403      403     404      sign-in   403       403        403          403        403       -       -       -
POST review of A (in review, asked by editor) 302  403     302      403     404      sign-in   403       403        403          403        403       -       -       -
POST comment on A                          302     302     302      403     404      sign-in   403       403        403          403        403       -       -       -
POST supersede A (accepted) by B           302     302     403      403     404      sign-in   403       403        403          403        403       -       -       -
GET  shared page /shared/<secret>/         200     200     200      200     200      sign-in   200       200        200          200        200       200     404     404
GET  shared PDF                            200     200     200      200     200      sign-in   200       200        200          200        200       200     404     404
GET  shared ADR                            200     200     200      200     200      sign-in   200       200        200          200        200       200     404     404
GET  workspace /workspaces/team/           200     200     200      200     404      sign-in   200       200        200          200        404       404     -       -
GET  members page                          200     200     200      200     404      sign-in   200       200        200          200        404       404     -       -
POST add a member                          302     403     403      403     404      sign-in   403       403        403          403        403       404     -       -
GET  tokens page                           200     200     200      200     404      sign-in   200       200        200          200        404       404     -       -
POST create a token                        200     200     200      200     404      sign-in   403       403        403          403        403       404     -       -
GET  audit page                            200     403     403      403     404      sign-in   200       403        403          403        404       404     -       -
GET  sign-off rules /workspaces/team/settings/ 200 403     403      403     404      sign-in   200       403        403          403        404       404     -       -
POST sign-off rules                        302     403     403      403     404      sign-in   403       403        403          403        403       404     -       -
POST switch to team                        302     302     302      302     404      sign-in   403       403        403          403        403       404     -       -
GET  admin: assessments                    admin   admin   admin    admin   admin    admin     admin     admin      admin        admin      admin     admin   -       -
GET  api list /api/assessments/            200     200     200      200     200      401       200       200        200          200        200       403     -       -
POST api create /api/assessments/          201     201     403      403     201      401       201       201        403          403        201       403     -       -
GET  api assessment A                      200     200     200      200     404      401       200       200        200          200        404       404     -       -
POST api revision of A                     201     201     403      403     404      401       201       201        403          403        404       404     -       -
GET  api share links of A                  200     200     403      403     404      401       200       200        403          403        404       404     -       -
POST api share link on A                   201     201     403      403     404      401       201       201        403          403        404       404     -       -
DELETE api share link of A                 204     204     403      403     404      401       204       204        403          403        404       404     -       -
GET  api ADR of A                          200     200     200      200     404      401       200       200        200          200        404       404     -       -
POST api network check                     201     201     403      403     201      401       201       201        403          403        201       403     -       -
GET  api network check C                   200     200     200      200     404      401       200       200        200          200        404       404     -       -
GET  api audit log                         200     403     403      403     200      401       200       403        403          403        200       403     -       -
POST api review request on A               200     200     403      403     404      401       200       200        403          403        404       404     -       -
POST api review of D                       200     200     200      403     404      401       200       200        200          403        404       404     -       -
GET  api comments of A                     200     200     200      200     404      401       200       200        200          200        404       404     -       -
POST api comment on A                      201     201     201      403     404      401       201       201        201          403        404       404     -       -
GET  portfolio /workspaces/team/portfolio/ 200     200     200      200     404      sign-in   200       200        200          200        404       404     -       -
GET  portfolio chart (SVG)                 200     200     200      200     404      sign-in   200       200        200          200        404       404     -       -
GET  api portfolio /api/portfolio/         200     200     200      200     200      401       200       200        200          200        200       403     -       -
GET  api portfolio of team (CSV)           200     200     200      200     404      401       200       200        200          200        404       404     -       -
GET  decision stream of A                  200     200     200      200     404      401       200       200        200          200        404       404     -       -
GET  decision stream (header count only)   200     200     200      200     200      401       200       200        200          200        200       200     -       -
GET  decisions waiting /decisions/waiting/ 200     200     200      200     200      sign-in   200       200        200          200        200       200     -       -
GET  health /healthz                       200     200     200      200     200      200       200       200        200          200        200       200     -       -
GET  readiness /readyz                     200     200     200      200     200      200       200       200        200          200        200       200     -       -
GET  metrics /metrics from loopback        200     200     200      200     200      200       200       200        200          200        200       200     -       -
GET  metrics /metrics from elsewhere       403     403     403      403     403      403       403       403        403          403        403       403     -       -
WS   network check probe /network-check/ws/ 101    101     101      101     101      403       101       101        101          101        101       101     -       -
GET  network check probe stream            200     200     200      200     200      401       200       200        200          200        200       200     -       -
GET  case library /cases/                  200     200     200      200     200      sign-in   200       200        200          200        200       200     -       -
GET  workload page of A /demo/workload/    200     200     200      200     404      sign-in   200       200        200          200        404       404     -       -
POST start a workload run /demo/workload/runs/ 201     201     201      201     201      201       201       201        201          201        201       201     -       -
POST api workload run on A                 201     201     403      403     404      401       201       201        403          403        404       404     -       -
GET  api workload run R of A               200     200     200      200     404      401       200       200        200          200        404       404     -       -
GET  demo page /demo/                      200     200     200      200     200      200       200       200        200          200        200       200     -       -
WS   demo socket /ws/demo/                 101     101     101      101     101      101       101       101        101          101        101       101     -       -
GET  demo stream /demo/events/             200     200     200      200     200      200       200       200        200          200        200       200     -       -
POST demo chat /demo/send/                 201     201     201      201     201      201       201       201        201          201        201       201     -       -
POST demo drop of no connection            404     404     404      404     404      404       404       404        404          404        404       404     -       -
GET  demo stats /demo/stats/               200     200     200      200     200      200       200       200        200          200        200       200     -       -
WS   workload socket of L /ws/workload/    101     101     101      101     101      101       101       101        101          101        101       101     -       -
GET  workload stream of L                  200     200     200      200     200      200       200       200        200          200        200       200     -       -
POST workload up to L /demo/workload/up/   200     200     200      200     200      200       200       200        200          200        200       200     -       -
WS   workload socket of a guessed run      4004    4004    4004     4004    4004     4004      4004      4004       4004         4004       4004      4004    -       -
GET  workload stream of a guessed run      404     404     404      404     404      404       404       404        404          404        404       404     -       -
POST workload up to a guessed run          404     404     404      404     404      404       404       404        404          404        404       404     -       -
"""

ANONYMOUS_MODE_MATRIX = """
entry point                                maker   stranger holder  revoked expired member
GET  result page of N                      200     200      200     200     200     200
POST edit form of N (finish)               302     403      403     403     403     403
GET  PDF of N                              200     200      200     200     200     200
GET  ADR of N                              200     200      200     200     200     200
GET  api ADR of N                          200     200      200     200     200     200
POST move N into team (not signed in)      403     403      403     403     403     -
POST api revision of N                     201     403      403     403     403     403
POST api create /api/assessments/          201     201      201     201     201     201
GET  result page /assessments/A/           404     404      404     404     404     200
GET  shared page /shared/<secret>/         200     200      200     404     404     200
GET  api list /api/assessments/            401     401      401     401     401     200
GET  decision stream of A                  401     401      401     401     401     200
GET  workload page of N                    200     200      200     200     200     200
POST api workload run on N                 201     403      403     403     403     403
"""

# The live demo's entry points with ADVISOR_PUBLIC_DEMO=0: for signed-in people
# only, whatever their workspaces, and whatever anonymous mode says.
PRIVATE_DEMO_MATRIX = """
entry point                                owner   editor  reviewer viewer  outsider anonymous tok:owner tok:editor tok:reviewer tok:viewer tok:other holder
GET  demo page /demo/                      200     200     200      200     200      sign-in   200       200        200          200        200       200
WS   demo socket /ws/demo/                 101     101     101      101     101      403       101       101        101          101        101       101
GET  demo stream /demo/events/             200     200     200      200     200      401       200       200        200          200        200       200
POST demo chat /demo/send/                 201     201     201      201     201      401       201       201        201          201        201       201
POST demo drop of no connection            404     404     404      404     404      401       404       404        404          404        404       404
GET  demo stats /demo/stats/               200     200     200      200     200      401       200       200        200          200        200       200
POST start a workload run /demo/workload/runs/ 201     201     201      201     201      401       201       201        201          201        201       201
WS   workload socket of L /ws/workload/    101     101     101      101     101      403       101       101        101          101        101       101
GET  workload stream of L                  200     200     200      200     200      401       200       200        200          200        200       200
POST workload up to L /demo/workload/up/   200     200     200      200     200      401       200       200        200          200        200       200
"""


def parse(table: str) -> tuple[list[str], dict[str, list[str]]]:
    lines = table.strip().splitlines()
    # The entry point is every word up to the first cell; cells are single words.
    columns = lines[0].split()[2:]
    rows = {}
    for line in lines[1:]:
        words = line.split()
        rows[" ".join(words[: -len(columns)])] = words[-len(columns) :]
    return columns, rows


@dataclass
class World:
    team: Workspace
    other: Workspace
    users: dict
    tokens: dict[str, str]
    secrets: dict[str, str]
    a: Assessment
    u: Assessment
    n: Assessment
    c: NetworkCheck
    link: ShareLink
    maker_key: str
    # Another of team's assessments (the decision rows make it).
    b: Assessment | None = None
    d: Assessment | None = None
    # A workload run stored for A's revision.
    r: WorkloadRun | None = None
    # A workload run of A's workload, running (the rows that use it start it).
    live: Run | None = None


def build_world(chat_answers) -> World:
    users = {}
    make = get_user_model().objects.create_user
    team = Workspace.objects.create(slug="team", name="Team")
    other = Workspace.objects.create(slug="other", name="Other")
    for role in Role.values:
        users[role] = make(role)
        Membership.objects.create(workspace=team, user=users[role], role=role)
    users["outsider"] = make("outsider")
    Membership.objects.create(workspace=other, user=users["outsider"], role=Role.OWNER)
    users["holder"] = users["revoked"] = users["expired"] = make("holder")
    users["newbie"] = make("newbie")
    tokens = {f"tok:{role}": ApiToken.issue(users[role], team)[1] for role in Role.values}
    tokens["tok:other"] = ApiToken.issue(users["outsider"], other)[1]
    c = NetworkCheck.objects.create(measurement=measurement(), workspace=team)
    a, _ = Assessment.create_scored(
        "Team chat", chat_answers, network_check=c, workspace=team, created_by=users["editor"]
    )
    u, _ = Assessment.create_scored("Stored before", chat_answers, unassigned=True)
    n, _ = Assessment.create_scored("Made anonymously", chat_answers)
    link, live = ShareLink.issue(a)
    revoked_link, revoked = ShareLink.issue(a)
    ShareLink.objects.filter(pk=revoked_link.pk).update(revoked_at=timezone.now())
    expired_link, expired = ShareLink.issue(a, expires_in_days=7)
    ShareLink.objects.filter(pk=expired_link.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    secrets = {"holder": live, "revoked": revoked, "expired": expired}
    d, _ = Assessment.create_scored(
        "Under review", chat_answers, workspace=team, created_by=users["editor"]
    )
    Assessment.objects.filter(pk=d.pk).update(status=DecisionStatus.IN_REVIEW)
    for role in (Role.OWNER, Role.EDITOR, Role.REVIEWER):
        Reviewer.objects.create(assessment=d, user=users[role])
    run = workload_run(a)
    r = WorkloadRun.objects.create(
        revision=a.latest,
        workload=run["workload"],
        measurement={"websocket": run["websocket"], "sse": run["sse"]},
    )
    return World(team, other, users, tokens, secrets, a, u, n, c, link, maker_key="", d=d, r=r)


@pytest.fixture(scope="module")
def built_world(django_db_setup, django_db_blocker) -> Iterator[World]:
    """The world, built once for all the module's cells: Django's setUpTestData, per module.

    Building it (four assessments scored, users, tokens, links) costs more
    than most cells' requests. It stays in a transaction that is never
    committed; each cell's own (pytest-django's, entered after this one) is
    a savepoint in it, rolled back when the cell ends, so every cell finds
    the world as built whatever the cells before it posted or deleted.
    """
    with django_db_blocker.unblock(), transaction.atomic():
        yield build_world(dict(get_catalogue().preset("chat").answers))
        transaction.set_rollback(True)


@pytest.fixture
def world(built_world: World, db) -> World:
    """The world for one cell: a copy, so what a cell sets on it (a run, B, N) is its own."""
    return copy.deepcopy(built_world)


def request(client: Client, world: World, entry: str, who: str, chat_answers, headers):
    a, c, u, n = world.a, world.c, world.u, world.n
    secret = world.secrets.get(who, world.secrets["holder"])
    api = {"content_type": "application/json", "headers": headers}
    answers = {"title": "Via the API", "answers": chat_answers}
    finish = finish_data(chat_answers, title="Revised")
    h = {"headers": headers}
    run = world.live.id if world.live else ""
    guessed = secrets.token_urlsafe(16)
    calls = {
        "GET result page /assessments/A/": lambda: client.get(f"/assessments/{a.pk}/", **h),
        "GET edit form /assessments/A/edit/": lambda: client.get(
            f"/assessments/{a.pk}/edit/", **h
        ),
        "POST edit form (finish: new revision)": lambda: client.post(
            f"/assessments/{a.pk}/edit/", finish, **h
        ),
        "GET PDF /assessments/A/report.pdf": lambda: client.get(
            f"/assessments/{a.pk}/report.pdf", **h
        ),
        "GET ADR /assessments/A/adr.md": lambda: client.get(f"/assessments/{a.pk}/adr.md", **h),
        "GET evidence partial (htmx) of C": lambda: client.get(
            f"/network-check/{c.pk}/evidence/", headers={**headers, "HX-Request": "true"}
        ),
        "POST share link on the page": lambda: client.post(
            f"/assessments/{a.pk}/share-links/", {"expires": "30"}, **h
        ),
        "POST revoke share link on the page": lambda: client.post(
            f"/assessments/{a.pk}/share-links/{world.link.pk}/revoke/", **h
        ),
        "POST claim U into team": lambda: client.post(
            f"/assessments/{u.pk}/move/", {"workspace": "team"}, **h
        ),
        "GET decision partial /assessments/A/decision/": lambda: client.get(
            f"/assessments/{a.pk}/decision/", **h
        ),
        "POST request review of A (draft)": lambda: client.post(
            f"/assessments/{a.pk}/review-requests/", {"reviewers": ["reviewer"]}, **h
        ),
        "POST review of A (in review, asked by editor)": lambda: client.post(
            f"/assessments/{a.pk}/reviews/", {"verdict": "approve", "comment": "Fine"}, **h
        ),
        "POST comment on A": lambda: client.post(
            f"/assessments/{a.pk}/comments/", {"body": "Looks right"}, **h
        ),
        "POST supersede A (accepted) by B": lambda: client.post(
            f"/assessments/{a.pk}/supersede/", {"superseded_by": str(world.b.pk)}, **h
        ),
        "GET shared page /shared/<secret>/": lambda: client.get(f"/shared/{secret}/", **h),
        "GET shared PDF": lambda: client.get(f"/shared/{secret}/report.pdf", **h),
        "GET shared ADR": lambda: client.get(f"/shared/{secret}/adr.md", **h),
        "GET workspace /workspaces/team/": lambda: client.get("/workspaces/team/", **h),
        "GET members page": lambda: client.get("/workspaces/team/members/", **h),
        "POST add a member": lambda: client.post(
            "/workspaces/team/members/add/", {"username": "newbie", "role": "viewer"}, **h
        ),
        "GET tokens page": lambda: client.get("/workspaces/team/tokens/", **h),
        "POST create a token": lambda: client.post(
            "/workspaces/team/tokens/new/", {"name": "ci", "expires": "30"}, **h
        ),
        "GET audit page": lambda: client.get("/workspaces/team/audit/", **h),
        "GET sign-off rules /workspaces/team/settings/": lambda: client.get(
            "/workspaces/team/settings/", **h
        ),
        "POST sign-off rules": lambda: client.post(
            "/workspaces/team/settings/", {"required_approvals": "2"}, **h
        ),
        "POST switch to team": lambda: client.post(
            "/workspaces/switch/", {"workspace": "team"}, **h
        ),
        "GET admin: assessments": lambda: client.get("/admin/questionnaire/assessment/", **h),
        "GET api list /api/assessments/": lambda: client.get("/api/assessments/", **h),
        "POST api create /api/assessments/": lambda: client.post(
            "/api/assessments/", json.dumps(answers), **api
        ),
        "GET api assessment A": lambda: client.get(f"/api/assessments/{a.pk}/", **h),
        "POST api revision of A": lambda: client.post(
            f"/api/assessments/{a.pk}/revisions/", json.dumps(answers), **api
        ),
        "GET api share links of A": lambda: client.get(
            f"/api/assessments/{a.pk}/share-links/", **h
        ),
        "POST api share link on A": lambda: client.post(
            f"/api/assessments/{a.pk}/share-links/", json.dumps({"expires_in_days": 7}), **api
        ),
        "DELETE api share link of A": lambda: client.delete(
            f"/api/assessments/{a.pk}/share-links/{world.link.pk}/", **h
        ),
        "GET api ADR of A": lambda: client.get(f"/api/assessments/{a.pk}/adr/", **h),
        "POST api network check": lambda: client.post(
            "/api/network-checks/", json.dumps(measurement()), **api
        ),
        "GET api network check C": lambda: client.get(f"/api/network-checks/{c.pk}/", **h),
        "GET api audit log": lambda: client.get("/api/audit/", **h),
        "POST api review request on A": lambda: client.post(
            f"/api/assessments/{a.pk}/review-requests/",
            json.dumps({"reviewers": ["reviewer"]}),
            **api,
        ),
        "POST api review of D": lambda: client.post(
            f"/api/assessments/{world.d.pk}/reviews/",
            json.dumps({"verdict": "approve", "comment": "Fine."}),
            **api,
        ),
        "GET api comments of A": lambda: client.get(f"/api/assessments/{a.pk}/comments/", **h),
        "POST api comment on A": lambda: client.post(
            f"/api/assessments/{a.pk}/comments/", json.dumps({"body": "Why SSE?"}), **api
        ),
        "GET portfolio /workspaces/team/portfolio/": lambda: client.get(
            "/workspaces/team/portfolio/", **h
        ),
        "GET portfolio chart (SVG)": lambda: client.get("/workspaces/team/portfolio.svg", **h),
        "GET api portfolio /api/portfolio/": lambda: client.get("/api/portfolio/", **h),
        "GET api portfolio of team (CSV)": lambda: client.get(
            "/api/portfolio/?workspace=team&format=csv", **h
        ),
        "GET decision stream of A": lambda: asgi_get(
            client, f"/decisions/stream/?assessment={a.pk}", headers
        ),
        "GET decision stream (header count only)": lambda: asgi_get(
            client, "/decisions/stream/", headers
        ),
        "GET decisions waiting /decisions/waiting/": lambda: client.get(
            "/decisions/waiting/", **h
        ),
        # Public to all (operations/): a load balancer and Prometheus sign in to
        # nothing. /metrics goes by address (ADVISOR_METRICS_ALLOW, loopback by
        # default) or its own token, never by a person or a workspace's token.
        "GET health /healthz": lambda: asgi_get(client, "/healthz", headers),
        "GET readiness /readyz": lambda: asgi_get(client, "/readyz", headers),
        "GET metrics /metrics from loopback": lambda: asgi_get(client, "/metrics", headers),
        "GET metrics /metrics from elsewhere": lambda: asgi_get(
            client, "/metrics", headers, peer="203.0.113.9"
        ),
        "WS network check probe /network-check/ws/": lambda: asgi_websocket(
            client, "/network-check/ws/", headers
        ),
        "GET network check probe stream": lambda: asgi_get(
            client, "/network-check/events/", headers
        ),
        "GET case library /cases/": lambda: client.get("/cases/", **h),
        "GET workload page of A /demo/workload/": lambda: client.get(
            f"/demo/workload/?assessment={a.pk}&revision=1", **h
        ),
        "POST start a workload run /demo/workload/runs/": lambda: start_workload(client, headers),
        "POST api workload run on A": lambda: client.post(
            "/api/workload-runs/", json.dumps(workload_run(a)), **api
        ),
        "GET api workload run R of A": lambda: client.get(
            f"/api/workload-runs/{world.r.pk}/", **h
        ),
        "GET demo page /demo/": lambda: client.get("/demo/", **h),
        "WS demo socket /ws/demo/": lambda: asgi_websocket(client, "/ws/demo/", headers),
        "GET demo stream /demo/events/": lambda: asgi_get(client, "/demo/events/", headers),
        "POST demo chat /demo/send/": lambda: demo_post(
            client, "/demo/send/", {"type": "chat", "text": "Hello"}, headers
        ),
        "POST demo drop of no connection": lambda: demo_post(
            client, "/demo/drop/", {"connection": "nobody"}, headers
        ),
        "GET demo stats /demo/stats/": lambda: client.get("/demo/stats/", **h),
        "WS workload socket of L /ws/workload/": lambda: asgi_websocket(
            client, f"/ws/workload/?run={run}", headers
        ),
        "GET workload stream of L": lambda: asgi_get(
            client, f"/demo/workload/events/?run={run}", headers
        ),
        "POST workload up to L /demo/workload/up/": lambda: demo_post(
            client, "/demo/workload/up/", up_message(run), headers
        ),
        "WS workload socket of a guessed run": lambda: asgi_websocket(
            client, f"/ws/workload/?run={guessed}", headers
        ),
        "GET workload stream of a guessed run": lambda: asgi_get(
            client, f"/demo/workload/events/?run={guessed}", headers
        ),
        "POST workload up to a guessed run": lambda: demo_post(
            client, "/demo/workload/up/", up_message(guessed), headers
        ),
        "GET workload page of N": lambda: client.get(f"/demo/workload/?assessment={n.pk}"),
        "POST api workload run on N": lambda: client.post(
            "/api/workload-runs/", json.dumps(workload_run(n)), **api
        ),
        # Anonymous mode on.
        "GET result page of N": lambda: client.get(f"/assessments/{n.pk}/"),
        "POST edit form of N (finish)": lambda: client.post(f"/assessments/{n.pk}/edit/", finish),
        "GET PDF of N": lambda: client.get(f"/assessments/{n.pk}/report.pdf"),
        "GET ADR of N": lambda: client.get(f"/assessments/{n.pk}/adr.md"),
        "GET api ADR of N": lambda: client.get(f"/api/assessments/{n.pk}/adr/"),
        "POST move N into team (not signed in)": lambda: client.post(
            f"/assessments/{n.pk}/move/", {"workspace": "team"}
        ),
        "POST api revision of N": lambda: client.post(
            f"/api/assessments/{n.pk}/revisions/", json.dumps(answers), **api
        ),
    }
    return calls[entry]()


def prepare(world: World, entry: str, chat_answers) -> None:
    """The decision state a row needs, made directly (no audit entry), before the snapshot."""
    a = world.a
    if entry.startswith("POST review of A"):
        # The editor asked; owner, editor and reviewer are named.
        for role in (Role.OWNER, Role.EDITOR, Role.REVIEWER):
            Reviewer.objects.create(assessment=a, user=world.users[role])
        Assessment.objects.filter(pk=a.pk).update(
            status=DecisionStatus.IN_REVIEW, review_requested_by=world.users[Role.EDITOR]
        )
    elif " of L" in entry or " to L" in entry:
        # As the page of A's workload starts it: one run per browser at a time.
        cache.clear()
        revision = a.latest
        workload = workload_of(revision.answers, revision.catalogue_version, revision.traffic)
        world.live = async_to_sync(runs.start)("session:editor's browser", workload)
    elif entry.startswith("POST supersede"):
        world.b, _ = Assessment.create_scored("Newer chat", chat_answers, workspace=world.team)
        Assessment.objects.filter(pk=world.b.pk).update(status=DecisionStatus.ACCEPTED)
        Assessment.objects.filter(pk=a.pk).update(status=DecisionStatus.ACCEPTED)


def asgi_get(
    client: Client, path: str, headers: dict[str, str], peer: str = "127.0.0.1"
) -> HttpResponse:
    """A GET of a route served ahead of Django (advisor/asgi.py), which Client cannot reach.

    Through the whole ASGI application, with the client's cookies and these
    headers: the answer's status, headers and first chunk (an open stream's
    first events), after which the client goes. (The stream's own events are
    tested in tests/questionnaire/test_decision_stream.py.)
    """
    target, _, query = path.partition("?")
    answer = through_asgi(
        lambda: asgi.request(
            target, host=HOST, client=peer, query=query, headers=with_cookies(client, headers)
        )
    )
    response = HttpResponse(answer.body, status=answer.status)
    for name, value in answer.headers.items():
        response[name] = value
    return response


@dataclass
class SocketAnswer:
    """What a WebSocket got, as a cell reads it: a status or a close code (no HTTP response)."""

    status_code: int
    content: bytes = b""
    streaming: bool = False


def asgi_websocket(client: Client, path: str, headers: dict[str, str]) -> SocketAnswer:
    """A WebSocket from this site's page, with the client's cookies and these headers."""
    headers = with_cookies(client, headers)
    return SocketAnswer(through_asgi(lambda: asgi.websocket(path, host=HOST, headers=headers)))


def with_cookies(client: Client, headers: dict[str, str]) -> dict[str, str]:
    cookies = "; ".join(f"{name}={morsel.value}" for name, morsel in client.cookies.items())
    return {"Cookie": cookies, **headers}


def through_asgi(call: Callable[[], Awaitable]):
    """``call()`` awaited on an event loop of its own, as a server would run it.

    Its database work runs on this thread (thread-sensitive, under
    async_to_sync), inside the test's transaction: as Django's test Client
    does for a request, its connection is not closed after each read. The
    demo's feed, started on that loop by a demo stream or socket, is
    stopped with it.
    """

    async def run():
        try:
            return await call()
        finally:
            await reset_feed()

    with patch("channels.db.close_old_connections"):
        return async_to_sync(run)()


def demo_post(client: Client, path: str, body: dict, headers: dict[str, str]) -> HttpResponse:
    """A post of the demo's own JSON; its per-client rates start afresh (every cell is 127.0.0.1)."""
    send_limits.clear()
    up_limits.clear()
    return client.post(path, json.dumps(body), content_type="application/json", headers=headers)


def workload_run(assessment: Assessment) -> dict:
    """A workload run's measurements for the assessment's first revision."""
    side = {
        "events_expected": 40,
        "events_received": 40,
        "lost": 0,
        "down_ms": {"p50": 5, "p95": 9, "p99": 12},
        "up_sent": 0,
        "up_answered": 0,
        "up_ms": None,
        "bytes_per_event": 520,
        "up_bytes_per_message": None,
        "recovery_ms": 35,
    }
    return {
        "assessment": str(assessment.pk),
        "revision": 1,
        "workload": workload_of({}, "2"),
        "websocket": side,
        "sse": side,
    }


def up_message(run_id: str) -> dict:
    """An up message of a run's SSE side, as the workload page posts it."""
    return {"run": run_id, "seq": 1, "t": 1700000000000.5, "data": "u" * 64}


def start_workload(client: Client, headers: dict[str, str]) -> HttpResponse:
    """Starting a run needs no assessment; one at a time per client, so none runs before."""
    cache.clear()
    body = json.dumps(workload_of({}, "2"))
    return client.post(
        "/demo/workload/runs/", body, content_type="application/json", headers=headers
    )


def snapshot() -> tuple:
    """What a refused request must leave as it was."""
    return (
        list(Assessment.objects.values_list("pk", "status", "superseded_by_id").order_by("pk")),
        Reviewer.objects.count(),
        Review.objects.count(),
        Comment.objects.count(),
        list(Workspace.objects.values_list("required_approvals", "allow_self_approval")),
        list(Assessment.objects.values_list("pk", "workspace_id", "title").order_by("pk")),
        Revision.objects.count(),
        list(ShareLink.objects.values_list("pk", "revoked_at").order_by("pk")),
        list(ApiToken.objects.values_list("pk", "revoked_at").order_by("pk")),
        list(Membership.objects.values_list("workspace_id", "user_id", "role").order_by("pk")),
        NetworkCheck.objects.count(),
        WorkloadRun.objects.count(),
        AuditEvent.objects.count(),
    )


def refused(entry: str, expected: str) -> bool:
    """Whether the cell refuses, so nothing may change (a success or a redirect of a form may)."""
    return not expected.startswith("2") and not (expected == "302" and entry.startswith("POST"))


def assert_cell(response, expected: str) -> None:
    if expected == "sign-in":
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/?next=")
    elif expected == "admin":
        assert response.status_code == 302
        assert response["Location"].startswith("/admin/login/")
    else:
        assert response.status_code == int(expected), response.content[:300]


def cells(table: str):
    columns, rows = parse(table)
    for entry, expected in rows.items():
        for who, cell in zip(columns, expected, strict=True):
            if cell != "-":
                yield pytest.param(entry, who, cell, id=f"{entry} | {who}")


@pytest.mark.django_db
@pytest.mark.parametrize(("entry", "who", "expected"), list(cells(MATRIX)))
def test_permission_matrix(settings, world, chat_answers, entry, who, expected):
    settings.ADVISOR_ANONYMOUS = False
    check_cell(world, chat_answers, entry, who, expected)


@pytest.mark.django_db
@pytest.mark.parametrize(("entry", "who", "expected"), list(cells(PRIVATE_DEMO_MATRIX)))
def test_private_demo_matrix(settings, world, chat_answers, entry, who, expected):
    settings.ADVISOR_ANONYMOUS = False
    settings.ADVISOR_PUBLIC_DEMO = False
    check_cell(world, chat_answers, entry, who, expected)


def check_cell(world: World, chat_answers, entry: str, who: str, expected: str) -> None:
    """One cell of the first or the third table, in the settings its test made."""
    prepare(world, entry, chat_answers)
    client = Client()
    headers = {}
    if who.startswith("tok:"):
        headers = {"Authorization": f"Bearer {world.tokens[who]}"}
    elif who != "anonymous":
        client.force_login(world.users[who])
    before = snapshot() if refused(entry, expected) else None

    response = request(client, world, entry, who, chat_answers, headers)

    assert_cell(response, expected)
    if before is not None:
        assert snapshot() == before
    if (
        who in {"outsider", "tok:other", "holder"}
        and expected == "200"
        and "shared" not in entry
        and not response.streaming
    ):
        # Their own workspace's list or log: nothing of team's in it.
        assert str(world.a.pk) not in response.content.decode(errors="replace")
        assert "Team chat" not in response.content.decode(errors="replace")


@pytest.mark.django_db
@pytest.mark.parametrize(("entry", "who", "expected"), list(cells(ANONYMOUS_MODE_MATRIX)))
def test_anonymous_mode_matrix(settings, world, chat_answers, entry, who, expected):
    settings.ADVISOR_ANONYMOUS = True
    client = Client()
    if who == "maker":
        # The browser session that made N: it opened a page, then made N.
        client.get("/")
        client.post(
            "/api/assessments/",
            json.dumps({"title": "Made anonymously", "answers": chat_answers}),
            content_type="application/json",
        )
        world.n = Assessment.objects.get(title="Made anonymously", anonymous_owner__gt="")
    elif who == "member":
        client.force_login(world.users["editor"])
    before = snapshot() if refused(entry, expected) else None

    response = request(client, world, entry, who, chat_answers, {})

    assert_cell(response, expected)
    if before is not None:
        assert snapshot() == before
