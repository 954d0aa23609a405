"""The part of a result page drawn from a revision's snapshot, rendered once and cached.

A revision's answers and scored result never change, so what the page shows
of them (verdict, products like it, chart, what would flip it, reasons,
network evidence, caveats, checklists, capacity plan) is the same for every
viewer and every request. It is rendered from
``templates/questionnaire/_snapshot.html`` once and kept in the ``renders``
cache (``docs/caching.md``). What changes over time (the decision, its
approvals and comments, the viewer's controls, the newer catalogue's
outlook, the workload runs measured since, the list of revisions) is
rendered around it by the page on every request, never stored inside it.

Two links inside it depend on who reads (``Viewer``): "Run my workload" is
not offered through a share link, and the capacity section offers to add
traffic figures only to someone who may revise. Each such variant is a
key of its own, so a viewer never gets another's links.

The cache key names everything the parts depend on: the revision (and its
assessment), the catalogue version it was scored with, its network check
(the evidence goes when the check is deleted), the viewer's variant, the
language, and the deploy fingerprint, a hash of the first-party code,
templates, catalogues, case library, cost figures and report stylesheet, so
that a new release never serves an old rendering.

Callers check access first: nothing here checks who asks.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from importlib.metadata import version
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
PARTS = ("verdict", "analysis", "evidence", "details")
CACHE_ALIAS = "renders"
# First-party folders that are not part of the running site.
NOT_SERVED = frozenset({"tests"})
# What of a first-party package can end up in a rendering: its code, its
# templates and its data (catalogues, case library, cost figures).
SOURCE_SUFFIXES = frozenset({".py", ".html", ".txt", ".json"})
REPORT_STYLESHEET = "css/report.css"
# The installed packages that turn templates into markup and markup into a
# PDF: an upgrade changes renderings without a line of ours changing.
RENDERING_PACKAGES = ("Django", "django-template-partials", "weasyprint")


@dataclass(frozen=True)
class Viewer:
    """The little of who reads that the snapshot shows: one cached variant each."""

    # Read through a share link: no "Run my workload" link (it would start a
    # run on the reader's behalf).
    shared: bool = False
    # May revise: the capacity section links to the traffic figures' form.
    can_revise: bool = False

    @property
    def variant(self) -> str:
        return ("shared" if self.shared else "own") + ("-revise" if self.can_revise else "")


READER = Viewer()


def snapshot_context(
    revisions: list[Revision], revision: Revision, viewer: Viewer = READER
) -> dict:
    """What the snapshot partials read: only what the immutable revision gives.

    A section added inside the snapshot takes its data from here, derived
    from ``revision`` alone (and its catalogue), never from the decision or
    the request; of the viewer only what ``Viewer`` holds (part of the key).
    """
    return {
        **result_context(revisions, revision),
        "shared": viewer.shared,
        "can": {"revise": viewer.can_revise},
    }


def cache_key(revision: Revision, viewer: Viewer = READER) -> str:
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
            viewer.variant,
            get_language() or "-",
        )
    )


def render_parts(
    revisions: list[Revision], revision: Revision, viewer: Viewer = READER
) -> dict[str, SafeString]:
    """Every snapshot partial of ``revision``, freshly rendered."""
    context = snapshot_context(revisions, revision, viewer)
    return {part: render_to_string(f"{TEMPLATE}#{part}", context) for part in PARTS}


def snapshot_parts(
    revisions: list[Revision], revision: Revision, viewer: Viewer = READER
) -> dict[str, SafeString]:
    """The snapshot partials of ``revision``, from the cache or rendered and stored there."""
    renders = caches[CACHE_ALIAS]
    key = cache_key(revision, viewer)
    parts = renders.get(key)
    if parts is None:
        parts = {
            name: str(html) for name, html in render_parts(revisions, revision, viewer).items()
        }
        renders.set(key, parts, settings.ADVISOR_RENDER_CACHE_SECONDS)
    # Our own rendering of escaped templates, stored as text.
    return {name: mark_safe(html) for name, html in parts.items()}


@cache
def deploy_fingerprint() -> str:
    """A short hash of everything a cached rendering depends on besides the data.

    Computed once per process, at start-up (``QuestionnaireConfig.ready``),
    from the files as they were when the code was loaded: a deploy restarts
    the processes, so a changed template, catalogue, case library, cost
    figure, stylesheet or line of code gives new keys and the old renderings
    are never read again.
    """
    base = Path(settings.BASE_DIR)
    installed = "\n".join(f"{name}=={version(name)}" for name in RENDERING_PACKAGES)
    return fingerprint_of([*_fingerprinted_files(), base / "requirements.txt"], installed)


def fingerprint_of(paths: list[Path], installed: str = "") -> str:
    """A hash of the files' names and contents, and of ``installed`` (package versions).

    Names are taken relative to the project folder: hosts that check the
    same release out in different folders share their renderings.
    """
    base = Path(settings.BASE_DIR)
    digest = hashlib.sha256(installed.encode())
    digest.update(b"\0")
    for path in sorted(paths):
        name = path.relative_to(base) if path.is_relative_to(base) else path
        digest.update(str(name).encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()[:16]


def _fingerprinted_files() -> list[Path]:
    """Every file of ours a rendering may depend on.

    All first-party packages, not only the ones drawing the snapshot today:
    a template tag, a URL, a setting or a helper anywhere can change what a
    page or PDF says, and hashing a megabyte or two once per process costs
    a few milliseconds.
    """
    base = Path(settings.BASE_DIR)
    files: set[Path] = set()
    for engine in settings.TEMPLATES:
        for directory in engine.get("DIRS", ()):
            files.update(path for path in Path(directory).rglob("*") if path.is_file())
    files.update(catalogue_files())
    for package in _first_party_packages(base):
        files.update(
            path
            for path in package.rglob("*")
            if path.suffix in SOURCE_SUFFIXES and "__pycache__" not in path.parts
        )
    stylesheet = finders.find(REPORT_STYLESHEET)
    if stylesheet:
        files.add(Path(stylesheet))
    return list(files)


def _first_party_packages(base: Path) -> list[Path]:
    return [
        init.parent for init in base.glob("*/__init__.py") if init.parent.name not in NOT_SERVED
    ]
