from __future__ import annotations

from django.urls import path

from . import api, portfolio, sign_off, views

app_name = "workspaces"

urlpatterns = [
    path("workspaces/switch/", views.switch, name="switch"),
    path("workspaces/<slug:slug>/", views.detail, name="detail"),
    path("workspaces/<slug:slug>/members/", views.members, name="members"),
    path("workspaces/<slug:slug>/members/add/", views.member_add, name="member-add"),
    path(
        "workspaces/<slug:slug>/members/<int:member_id>/role/",
        views.member_role,
        name="member-role",
    ),
    path(
        "workspaces/<slug:slug>/members/<int:member_id>/remove/",
        views.member_remove,
        name="member-remove",
    ),
    path("workspaces/<slug:slug>/tokens/", views.tokens, name="tokens"),
    path("workspaces/<slug:slug>/tokens/new/", views.token_create, name="token-create"),
    path(
        "workspaces/<slug:slug>/tokens/<int:token_id>/revoke/",
        views.token_revoke,
        name="token-revoke",
    ),
    path("workspaces/<slug:slug>/audit/", views.audit, name="audit"),
    path("workspaces/<slug:slug>/settings/", sign_off.rules, name="settings"),
    path("workspaces/<slug:slug>/portfolio/", portfolio.page, name="portfolio"),
    path("workspaces/<slug:slug>/portfolio.svg", portfolio.chart_svg, name="portfolio-chart"),
    path("api/portfolio/", portfolio.api_portfolio, name="api-portfolio"),
    path("api/audit/", api.audit_log, name="api-audit"),
]
