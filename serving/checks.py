"""Django's deployment checks, run against the middleware as it is served.

Django's security checks look for exact dotted paths in MIDDLEWARE
("django.middleware.security.SecurityMiddleware" and so on). Settings list
serving.middleware's subclasses instead, so on their own Django's checks
find no security, clickjacking or CSRF middleware: they report
security.W001/W002/W003 although the middleware runs, and skip every check
that applies only when it runs (HSTS W004/W005/W021, nosniff W006, SSL
redirect W008, X-Frame-Options W019, Referrer-Policy E022,
Cross-Origin-Opener-Policy E024, the CSRF cookie W016).

``check_served_middleware`` runs Django's own security checks again, with a
view of MIDDLEWARE in which each of our subclasses is written as the Django
class it subclasses (django-csp's, for CSPMiddleware). Ours run their base
class's hooks unchanged (only where: the event loop or a thread), so the
view is what actually runs; other subclasses are left as written, since they may do something else.

Settings silence security.W001/W002/W003, which are false for our classes.
A middleware that is truly missing, Django's class and ours alike, is still
reported: Django's check finds it missing in the view too, and it is said
again as serving.W001/W002/W003 (silencing is by id, so it needs an id of
its own).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from django.conf import settings
from django.core.checks import CheckMessage, Tags, Warning, register
from django.core.checks.registry import registry
from django.utils.module_loading import import_string

from .middleware import InlineHooks

# Django's middleware-presence warnings, and what they are said as here when
# settings silence them and the middleware really is missing.
STAND_INS = {
    "security.W001": "serving.W001",
    "security.W002": "serving.W002",
    "security.W003": "serving.W003",
}


def django_view(middleware: Sequence[str]) -> list[str]:
    """``middleware``, each serving.middleware class written as the class it subclasses."""
    view = []
    for path in middleware:
        try:
            cls = import_string(path)
        except ImportError:
            # Django's handler reports it when it loads the middleware.
            view.append(path)
            continue
        view.append(_django_base(cls) or path)
    return view


def _django_base(cls: object) -> str | None:
    if not (isinstance(cls, type) and issubclass(cls, InlineHooks)):
        return None
    # The first class from outside serving: Django's own, or another
    # package's (django-csp's), not a Django mixin further up its MRO.
    for base in cls.__mro__:
        if not base.__module__.startswith("serving."):
            return f"{base.__module__}.{base.__qualname__}"
    return None


def _django_security_checks() -> list[Callable[..., list[CheckMessage]]]:
    """Django's own deployment security checks: every one, so that one added later is run too."""
    return [
        check
        for check in registry.get_checks(include_deployment_checks=True)
        if Tags.security in getattr(check, "tags", ())
        and check.__module__.startswith("django.core.checks.security.")
    ]


@register(Tags.security, deploy=True)
def check_served_middleware(app_configs, **kwargs) -> list[CheckMessage]:
    checks = _django_security_checks()
    said = [check(app_configs=app_configs, **kwargs) for check in checks]
    view = django_view(settings.MIDDLEWARE)
    if view == list(settings.MIDDLEWARE):
        meant = said
    else:
        # Imported here: only `check --deploy` gets this far. The override
        # is process-wide while it lasts; that command serves no requests.
        from django.test.utils import override_settings

        with override_settings(MIDDLEWARE=view):
            meant = [check(app_configs=app_configs, **kwargs) for check in checks]

    messages: list[CheckMessage] = []
    for django_said, django_meant in zip(said, meant, strict=True):
        if any(not message.is_silenced() for message in django_said):
            # Django has reported this check already (the sessions checks
            # run for the installed app whatever the middleware): once is enough.
            continue
        for message in django_meant:
            if message.id in STAND_INS and message.is_silenced():
                messages.append(
                    Warning(
                        message.msg,
                        hint="Neither Django's class nor its subclass in serving.middleware "
                        "is in MIDDLEWARE.",
                        obj=message.obj,
                        id=STAND_INS[message.id],
                    )
                )
            elif message not in django_said:
                messages.append(message)
    return messages
