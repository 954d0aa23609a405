"""``manage.py apitoken create|revoke``: personal access tokens, logged as made by "operator".

``create`` prints the token and nothing else, so that a script can take it
(``TOKEN=$(manage.py apitoken create ...)``); it is shown this once, as only
its hash is stored.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from advisor.http import text_problem, whole_number
from workspaces import bearer, services
from workspaces.models import NAME_MAX_LENGTH, ApiToken, Membership, Workspace

# Ten years: long enough for any use, short enough to stay a date.
MAX_EXPIRES_DAYS = 3650


class Command(BaseCommand):
    help = "Create or revoke a personal API token (the audit log names the operator)."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        create = actions.add_parser("create", help="Issue a token; prints only the token.")
        create.add_argument("username")
        create.add_argument("--workspace", required=True, help="the workspace's slug")
        create.add_argument("--name", default="", help="what the token is for")
        create.add_argument(
            "--expires-days", help=f"days until it expires, 1 to {MAX_EXPIRES_DAYS}; none: never"
        )
        revoke = actions.add_parser("revoke", help="Revoke the live token with this prefix.")
        revoke.add_argument(
            "prefix", help=f"its first {bearer.PREFIX_LENGTH} characters (adv_...), or the token"
        )

    def handle(self, *args, **options) -> None:
        if options["action"] == "create":
            self.create(options)
        else:
            self.revoke(options["prefix"])

    def create(self, options: dict) -> None:
        days = None
        if options["expires_days"] is not None:
            days = whole_number(options["expires_days"])
            if days is None or not 1 <= days <= MAX_EXPIRES_DAYS:
                raise CommandError(
                    f"--expires-days must be a whole number from 1 to {MAX_EXPIRES_DAYS}, "
                    f"not {options['expires_days']!r:.40}"
                )
        user = get_user_model().objects.filter(username=options["username"]).first()
        if user is None:
            raise CommandError(f"no user {options['username']!r}")
        if not user.is_active:
            raise CommandError(f"user {user.get_username()!r} is inactive")
        workspace = Workspace.objects.filter(slug=options["workspace"]).first()
        if workspace is None:
            raise CommandError(f"no workspace {options['workspace']!r}")
        if not Membership.objects.filter(workspace=workspace, user=user).exists():
            raise CommandError(
                f"{user.get_username()!r} is not a member of {workspace.slug!r}: "
                f"manage.py workspace add-member {workspace.slug} {user.get_username()} --role ..."
            )
        if problem := text_problem(options["name"], NAME_MAX_LENGTH):
            raise CommandError(f"--name {problem}")
        _, secret = services.issue_token(
            user, workspace, name=options["name"], expires_days=days, actor="operator"
        )
        # Only the token: a script reads it from stdout.
        self.stdout.write(secret)

    def revoke(self, given: str) -> None:
        if len(given) < bearer.PREFIX_LENGTH:
            raise CommandError(
                f"give the token's first {bearer.PREFIX_LENGTH} characters (adv_ and 8 more), "
                "as the token list shows them, or the whole token"
            )
        with transaction.atomic():
            found = list(
                ApiToken.objects.live()
                .select_related("user", "workspace")
                .filter(prefix=given[: bearer.PREFIX_LENGTH])
            )
            if not found:
                raise CommandError(f"no live token starts with {given[: bearer.PREFIX_LENGTH]!r}")
            if len(found) > 1:
                raise CommandError(
                    f"{len(found)} live tokens start with {given[: bearer.PREFIX_LENGTH]!r}; "
                    "give the whole token"
                )
            token = found[0]
            services.revoke_token(token, actor="operator")
        self.stdout.write(
            f"revoked {token.prefix} ({token.name or 'unnamed'}) of "
            f"{token.user.get_username()} in {token.workspace.slug}"
        )
