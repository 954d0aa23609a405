"""A report rendered when its assessment changes, so that its first download is a cached one.

A new assessment or revision, a review request, an approval or an accepted
decision is usually followed by downloads: the team's own, then the review
board's, all at once. Each such change makes a new report (its HTML, and so
its key, changes: see report_cache.py), and without this the first of those
downloads waits for its render, a few hundred milliseconds, more in a busy
queue. Comments, requested changes (which reject), a reopened draft and
supersessions change the report too, but are not followed by downloads as surely: their
reports are rendered at their first download, as before.

So, once such a change commits, the report a member downloads by default
(latest revision, default paper, not a share link's) is made in the
background and stored in the renders cache, under the key a download
computes, for ``KEPT_SECONDS`` (a download within that time serves it; one
later renders it again and keeps it the full time). Only when a download
loses nothing by it:

- only if a render worker is started, idle, and no render waits
  (``RenderPool.offer``): it never queues, never starts workers, and takes
  no queue place from a download; a download that asks for the same report
  meanwhile shares the render. One that asks for another report just after
  it started waits for it, as for any render ahead of it. A change made
  while the workers start (the seconds after a restart or a deploy, when
  teams save again) waits for them on the background thread, up to
  ``STARTING_SECONDS``, then is offered as any other;
- the reads, the HTML and the cache write run on one background thread of
  their own, never on the request's thread nor on the render pool's;
  changes that come faster than that thread takes them are coalesced per
  assessment, and at most ``PENDING`` assessments wait;
- a failure is logged and dropped: the download renders as before.

Counted in ``advisor_reports_prerendered_total{outcome}`` (operations/metrics.py).
Off with ``ADVISOR_REPORT_PRERENDER=0``. Each process renders into its own
renders cache unless Redis shares it (``RENDERS_REDIS_URL`` or
``REDIS_URL``): with several processes on local memory, a download served
by another process than the one that saved renders again.
"""

from __future__ import annotations

import logging
import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor

from django.conf import settings
from django.db import close_old_connections, transaction

from live_demo.workload.evidence import workload_evidence
from operations.metrics import REPORTS_PRERENDERED
from workspaces.models import AuditAction

from . import decisions, render_pool, report, report_cache
from .models import Assessment, DecisionStatus, Revision

# Assessments waiting for their background render at most; more are dropped.
PENDING = 32
# How long after a start of the render workers the changes made meanwhile wait
# for them (a start takes a second or two, more on a busy machine); then they are
# dropped. One deadline per start: changes queued behind one another share it.
STARTING_SECONDS = 20
# How long a report rendered in advance is kept if no download asks for it.
KEPT_SECONDS = 24 * 3600
# The decision events whose report is rendered in advance (see above), and
# the status whose change is: acceptance (requested changes reject a
# decision, which is not followed by downloads as surely).
FOLLOWED_BY_DOWNLOADS = frozenset({AuditAction.REVIEW_REQUESTED, AuditAction.REVIEW_APPROVED})
TAKEN = frozenset({DecisionStatus.ACCEPTED})

logger = logging.getLogger(__name__)


def report_context(
    assessment: Assessment, revisions: list[Revision], revision: Revision, *, shared: bool
) -> dict:
    """What a report of ``revision`` shows, read from the database: the download's and ours.

    ``revisions`` with their network checks. Rendering it then makes no query.
    """
    # The decision too, with its comments.
    decision = decisions.panel_context(assessment)["decision"]
    # The revision's own title, as its page shows it: a later rename leaves it be.
    context = report.report_context(
        revision.display_title, revisions, revision, decision, shared=shared
    )
    # Loaded per download: a run posted after the revision changes the
    # report's HTML, and so its cache key and ETag.
    context["workload_runs"] = workload_evidence(revision)
    return context


class Prerenderer:
    """One background thread that prepares reports and offers them to the render pool."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: set = set()
        self._thread: ThreadPoolExecutor | None = None

    def changed(self, pk) -> None:
        """``pk``'s report changed: render it in the background, if that costs nobody.

        Called once a change has committed, on the request's thread: it
        never raises, as the change is done whatever happens here.
        """
        try:
            if not settings.ADVISOR_REPORT_PRERENDER:
                return
            pool = render_pool.pool()
            if not (pool.idle or pool.starting):
                REPORTS_PRERENDERED.labels("busy").inc()
                return
            with self._lock:
                if pk in self._pending or len(self._pending) >= PENDING:
                    return
                self._pending.add(pk)
                if self._thread is None:
                    self._thread = ThreadPoolExecutor(
                        max_workers=1, thread_name_prefix="prerender"
                    )
                self._thread.submit(self._prepare, pk)
        except Exception:
            # Shutting down, or no thread to be had: the download renders it.
            logger.warning("Assessment %s's report is not rendered in advance.", pk, exc_info=True)
            with self._lock:
                self._pending.discard(pk)

    def _prepare(self, pk) -> None:
        with self._lock:
            self._pending.discard(pk)
        try:
            self._offer(pk)
        except Exception:
            REPORTS_PRERENDERED.labels("failed").inc()
            logger.warning(
                "Assessment %s's report could not be prepared in advance; its download "
                "renders it.",
                pk,
                exc_info=True,
            )
        finally:
            # This thread is no request's: nothing else gives its connection back.
            close_old_connections()

    def _offer(self, pk) -> None:
        pool = render_pool.pool()
        # Workers starting: wait here, where nobody waits for us.
        pool.wait_started(STARTING_SECONDS)
        if not pool.idle:
            # Busy since the change (or shutting down): no reads for nothing.
            REPORTS_PRERENDERED.labels("busy").inc()
            return
        assessment = Assessment.objects.filter(pk=pk).first()
        if assessment is None:
            return
        revisions = list(assessment.revisions.select_related("network_check"))
        if not revisions:
            return
        context = report_context(assessment, revisions, revisions[-1], shared=False)
        html = report.report_html(context, report.DEFAULT_PAPER)
        key = report_cache.pdf_key(html)
        if report_cache.is_stored(key):
            REPORTS_PRERENDERED.labels("cached").inc()
            return
        rendering = pool.offer(key, report.render_pdf, html)
        if rendering is None:
            REPORTS_PRERENDERED.labels("busy").inc()
            return
        # Stored from this thread, not from the render pool's, which a slow
        # cache would hold up for every render of the process.
        rendering.add_done_callback(lambda done: self._submit(_store, key, done))

    def _submit(self, function, *args) -> None:
        with self._lock:
            thread = self._thread
        try:
            if thread is not None:
                thread.submit(function, *args)
        except RuntimeError:
            pass  # shutting down: the PDF is dropped

    def wait(self) -> None:
        """Until what was asked so far is prepared (tests)."""
        if self._thread is not None:
            self._thread.submit(lambda: None).result()

    def forget(self) -> None:
        # A forked child has none of its parent's threads.
        self._lock = threading.Lock()
        self._pending = set()
        self._thread = None


def _store(key: str, rendering: Future) -> None:
    if rendering.cancelled():
        return
    try:
        # A download that shared the render stored it already, for the full time.
        report_cache.store_unless_there(key, rendering.result(), KEPT_SECONDS)
    except render_pool.Unavailable:
        # The server is stopping: nothing to tell.
        return
    except Exception:
        # The render failed (its worker died), or the cache refused the PDF.
        REPORTS_PRERENDERED.labels("failed").inc()
        logger.warning(
            "A report rendered in advance could not be kept; its download renders it.",
            exc_info=True,
        )
        return
    REPORTS_PRERENDERED.labels("rendered").inc()


prerenderer = Prerenderer()
os.register_at_fork(after_in_child=prerenderer.forget)


def after_commit(pk) -> None:
    """Render ``pk``'s report in the background once the current transaction commits."""
    transaction.on_commit(lambda: prerenderer.changed(pk), robust=True)


def on_decision_changed(sender, assessment: Assessment, event, **kwargs) -> None:
    """A ``decision_changed`` receiver (on commit): review requests, approvals, acceptance."""
    taken = (
        event.action == AuditAction.DECISION_STATUS_CHANGED
        and (event.detail or {}).get("to") in TAKEN
    )
    if event.action in FOLLOWED_BY_DOWNLOADS or taken:
        prerenderer.changed(assessment.pk)


def connect() -> None:
    decisions.decision_changed.connect(
        on_decision_changed, sender=Assessment, dispatch_uid="questionnaire.prerender"
    )
