from __future__ import annotations

from django.urls import path

from . import adr_views, api, cases_views, decision_api, decision_views, views, waiting

app_name = "questionnaire"

urlpatterns = [
    path("", views.home, name="home"),
    path("assessments/new/", views.assessment_new, name="new"),
    path("assessments/leaning/", views.leaning, name="leaning"),
    path("cases/", cases_views.case_list, name="cases"),
    path("assessments/<uuid:pk>/", views.assessment_detail, name="assessment"),
    path("assessments/<uuid:pk>/edit/", views.assessment_edit, name="edit"),
    path("assessments/<uuid:pk>/decision/", views.decision_panel, name="decision"),
    path(
        "assessments/<uuid:pk>/review-requests/",
        decision_views.review_request,
        name="review-request",
    ),
    path("assessments/<uuid:pk>/reviews/", decision_views.review, name="review"),
    path("assessments/<uuid:pk>/comments/", decision_views.comment, name="comment"),
    path("assessments/<uuid:pk>/supersede/", decision_views.supersede, name="supersede"),
    path("decisions/waiting/", waiting.waiting_page, name="decisions-waiting"),
    path("assessments/<uuid:pk>/report.pdf", views.assessment_report, name="report"),
    path("assessments/<uuid:pk>/adr.md", adr_views.assessment_adr, name="adr"),
    path("assessments/<uuid:pk>/share-links/", views.share_link_create, name="share-link-create"),
    path(
        "assessments/<uuid:pk>/share-links/<int:link_id>/revoke/",
        views.share_link_revoke,
        name="share-link-revoke",
    ),
    path("assessments/<uuid:pk>/move/", views.assessment_move, name="move"),
    # A share link: the secret is the path, so that it is the whole link.
    path("shared/<str:secret>/", views.shared_assessment, name="shared"),
    path("shared/<str:secret>/report.pdf", views.shared_report, name="shared-report"),
    path("shared/<str:secret>/adr.md", adr_views.shared_adr, name="shared-adr"),
    path("api/questions/", api.questions, name="api-questions"),
    path("api/assessments/", api.assessments, name="api-assessments"),
    path("api/assessments/<uuid:pk>/", api.assessment_detail, name="api-assessment"),
    path(
        "api/assessments/<uuid:pk>/revisions/",
        api.assessment_revisions,
        name="api-revisions",
    ),
    path("api/assessments/<uuid:pk>/share-links/", api.share_links, name="api-share-links"),
    path(
        "api/assessments/<uuid:pk>/review-requests/",
        decision_api.review_requests,
        name="api-review-requests",
    ),
    path("api/assessments/<uuid:pk>/reviews/", decision_api.reviews, name="api-reviews"),
    path("api/assessments/<uuid:pk>/comments/", decision_api.comments, name="api-comments"),
    path("api/assessments/<uuid:pk>/adr/", adr_views.api_adr, name="api-adr"),
    # The id is read as text by the view: a number of any length answers 404.
    path(
        "api/assessments/<uuid:pk>/share-links/<str:link_id>/",
        api.share_link_detail,
        name="api-share-link",
    ),
]
