"""The part of a result page drawn from a revision's snapshot, rendered once and cached.

A revision's answers and scored result never change, so what the page shows
of them (verdict, chart, what would flip it, reasons, evidence, caveats,
checklists) is the same for every viewer and every request. It is rendered
from ``templates/questionnaire/_snapshot.html`` once and kept in the
``renders`` cache (``docs/caching.md``). What changes over time (the
decision, its approvals and comments, the viewer's controls, the newer
catalogue's outlook, the list of revisions) is rendered around it by the page
on every request, never stored inside it.

The cache key names everything the parts depend on: the revision (and its
assessment), the
catalogue version it was scored with, its network check (the evidence goes
when the check is deleted), the language, and the deploy fingerprint, a hash
of the templates, catalogues, report stylesheet and the code that turns a
snapshot into words, so that a new release never serves an old rendering.

Callers check access first: nothing here knows who asks.
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

from django.conf import settings
from django.contrib.staticfiles import finders
from django.core.cache import caches
from django.template.loader import render_to_string
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language

from .catalogue import catalogue_files
from .display import result_context
from .models import Revision

TEMPLATE = "questionnaire/_snapshot.html"
# The partials of TEMPLATE, in page order; the page places each one.
PARTS = ("verdict", "analysis", "details")
CACHE_ALIAS = "renders"
# The apps whose code turns a stored snapshot into words and markup.
SOURCE_PACKAGES = ("questionnaire", "network_check")
REPORT_STYLESHEET = "css/report.css"


def snapshot_context(revisions: list[Revision], revision: Revision) -> dict:
    """What the snapshot partials read: only what the immutable revision gives.

    A section added inside the snapshot takes its data from here, derived
    from ``revision`` alone (and its catalogue), never from the viewer, the
    decision or the request.
    """
    return result_context(revisions, revision)


def cache_key(revision: Revision) -> str:
    return ":".join(
        (
            "snapshot",
            deploy_fingerprint(),
            # The assessment's random id too: a database restored or reset
            # reuses revision ids, never assessment ids.
            str(revision.assessment_id),
            str(revision.pk),
            revision.catalogue_version,
            str(revision.network_check_id or "-"),
            get_language() or "-",
        )
    )


def render_parts(revisions: list[Revision], revision: Revision) -> dict[str, SafeString]:
    """Every snapshot partial of ``revision``, freshly rendered."""
    context = snapshot_context(revisions, revision)
    return {part: render_to_string(f"{TEMPLATE}#{part}", context) for part in PARTS}


def snapshot_parts(revisions: list[Revision], revision: Revision) -> dict[str, SafeString]:
    """The snapshot partials of ``revision``, from the cache or rendered and stored there."""
    renders = caches[CACHE_ALIAS]
    key = cache_key(revision)
    parts = renders.get(key)
    if parts is None:
        parts = {name: str(html) for name, html in render_parts(revisions, revision).items()}
        renders.set(key, parts, settings.ADVISOR_RENDER_CACHE_SECONDS)
    # Our own rendering of escaped templates, stored as text.
    return {name: mark_safe(html) for name, html in parts.items()}


@cache
def deploy_fingerprint() -> str:
    """A short hash of everything a cached rendering depends on besides the data.

    Computed once per process (at its first render): a deploy restarts the
    processes, so a changed template, catalogue, stylesheet or display code
    gives new keys and the old renderings are never read again.
    """
    return fingerprint_of(_fingerprinted_files())


def fingerprint_of(paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(str(path).encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()[:16]


def _fingerprinted_files() -> list[Path]:
    files: set[Path] = set()
    for engine in settings.TEMPLATES:
        for directory in engine.get("DIRS", ()):
            files.update(path for path in Path(directory).rglob("*") if path.is_file())
    files.update(catalogue_files())
    for package in SOURCE_PACKAGES:
        root = Path(settings.BASE_DIR) / package
        files.update(root.rglob("*.py"))
        files.update(path for path in (root / "templates").rglob("*") if path.is_file())
    stylesheet = finders.find(REPORT_STYLESHEET)
    if stylesheet:
        files.add(Path(stylesheet))
    return list(files)
