"""``manage.py workspace create|add-member|list``: workspaces and members, logged as "operator".

``add-member --email`` also sets the member's email address (the decision
emails go to it): local users have no other way to get one.
"""

from __future__ import annotations

import os

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Count

from workspaces import services
from workspaces.models import Role, Workspace

PASSWORD_VARIABLE = "ADVISOR_NEW_USER_PASSWORD"


def _messages(error: ValidationError) -> str:
    if hasattr(error, "message_dict"):
        return "; ".join(
            f"{field}: {' '.join(messages)}" for field, messages in error.message_dict.items()
        )
    return " ".join(error.messages)


def _email(given: str) -> str:
    """An address the user model can hold, or why not.

    Django's EmailValidator (which refuses an empty one: the field's own
    validators skip empty values), then the field's, for its length.
    """
    User = get_user_model()
    email = User.objects.normalize_email(given.strip())
    try:
        validate_email(email)
        User._meta.get_field(User.get_email_field_name()).run_validators(email)
    except ValidationError as error:
        raise CommandError(f"--email {given!r:.80}: {' '.join(error.messages)}") from None
    return email


class Command(BaseCommand):
    help = "Create workspaces, add members or change their role, list workspaces."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        create = actions.add_parser("create", help="Create a workspace.")
        create.add_argument("slug")
        create.add_argument("--name", required=True)
        add = actions.add_parser("add-member", help="Add a member, or change their role.")
        add.add_argument("slug")
        add.add_argument("username")
        add.add_argument("--role", required=True, help=", ".join(Role.values))
        add.add_argument(
            "--create-user",
            action="store_true",
            help=f"create the user if missing: its password from ${PASSWORD_VARIABLE} "
            "(checked by the password validators), or none usable (sign-in by SSO only)",
        )
        add.add_argument(
            "--email",
            help="set the user's email address (new or existing user): the decision emails "
            "go to it",
        )
        actions.add_parser("list", help="Each workspace: slug, name, members (tab-separated).")

    def handle(self, *args, **options) -> None:
        if options["action"] == "create":
            self.create(options["slug"], options["name"])
        elif options["action"] == "add-member":
            self.add_member(options)
        else:
            self.list()

    def create(self, slug: str, name: str) -> None:
        try:
            workspace = services.create_workspace(slug, name.strip(), actor="operator")
        except ValidationError as error:
            raise CommandError(f"workspace not created: {_messages(error)}") from error
        self.stdout.write(f"created workspace {workspace.slug} ({workspace.name})")

    def add_member(self, options: dict) -> None:
        if options["role"] not in Role.values:
            raise CommandError(
                f"--role must be one of {', '.join(Role.values)}, not {options['role']!r:.40}"
            )
        workspace = Workspace.objects.filter(slug=options["slug"]).first()
        if workspace is None:
            raise CommandError(f"no workspace {options['slug']!r}")
        email = _email(options["email"]) if options["email"] is not None else None
        # One transaction: a refused member leaves no new user behind.
        with transaction.atomic():
            user = get_user_model().objects.filter(username=options["username"]).first()
            if user is None and not options["create_user"]:
                raise CommandError(
                    f"no user {options['username']!r}; --create-user creates a local one"
                )
            if user is None:
                user = self._new_user(options["username"])
            if email is not None:
                setattr(user, user.get_email_field_name(), email)
                user.save(update_fields=[user.get_email_field_name()])
            try:
                services.set_member(workspace, user, options["role"], actor="operator")
            except services.LastOwner as refusal:
                raise CommandError(str(refusal)) from None
        self.stdout.write(f"{user.get_username()} is {options['role']} of {workspace.slug}")
        if email is not None:
            self.stdout.write(f"{user.get_username()}'s email address is {email}")

    def _new_user(self, username: str):
        user = get_user_model()(username=username)
        password = os.environ.get(PASSWORD_VARIABLE)
        try:
            user.full_clean(exclude=["password"])
            if password:
                validate_password(password, user)
        except ValidationError as error:
            raise CommandError(f"user not created: {_messages(error)}") from error
        if password:
            user.set_password(password)
        else:
            # Signs in through the identity provider only.
            user.set_unusable_password()
        user.save()
        return user

    def list(self) -> None:
        for workspace in Workspace.objects.annotate(members=Count("memberships")).order_by("slug"):
            self.stdout.write(f"{workspace.slug}\t{workspace.name}\t{workspace.members}")
