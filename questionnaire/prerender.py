"""A report rendered when its assessment changes, so that its first download is a cached one.

A new revision, a review request or an approval is usually followed by
downloads: the team's own, then the review board's, all at once. Each
change makes a new report (its HTML, and so its key, changes: see
report_cache.py), and without this the first of those downloads waits for
its render, a few hundred milliseconds, more in a busy queue.

So, once such a change commits, the report a member downloads by default
(latest revision, default paper, not a share link's) is made in the
background and stored in the renders cache, under the key a download
computes. Only when it costs a download nothing:

- only if a render worker is idle and no render waits
  (``RenderPool.offer``): it never queues, never starts workers, never
  takes a queue place from a download; a download that asks for the same
  report meanwhile shares the render;
- the reads and the HTML (a few milliseconds) run on one background thread
  of their own, after the change's request is answered; changes that come
  faster than that thread takes them are coalesced per assessment, and at
  most ``PENDING`` assessments wait;
- a failure is logged and dropped: the download renders it as before.

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

from . import decisions, render_pool, report, report_cache
from .models import Assessment, Revision

# Assessments waiting for their background render at most; more are dropped.
PENDING = 32

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
        """``pk``'s report changed: render it in the background, if that costs nobody."""
        if not settings.ADVISOR_REPORT_PRERENDER or not render_pool.pool().idle:
            return
        with self._lock:
            if pk in self._pending or len(self._pending) >= PENDING:
                return
            self._pending.add(pk)
            if self._thread is None:
                self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="prerender")
            self._thread.submit(self._prepare, pk)

    def _prepare(self, pk) -> Future | None:
        with self._lock:
            self._pending.discard(pk)
        try:
            return self._offer(pk)
        except Exception:
            logger.exception("The report of assessment %s could not be prepared in advance.", pk)
            return None
        finally:
            # This thread is no request's: nothing else gives its connection back.
            close_old_connections()

    def _offer(self, pk) -> Future | None:
        assessment = Assessment.objects.filter(pk=pk).first()
        if assessment is None:
            return None
        revisions = list(assessment.revisions.select_related("network_check"))
        if not revisions:
            return None
        context = report_context(assessment, revisions, revisions[-1], shared=False)
        html = report.report_html(context, report.DEFAULT_PAPER)
        key = report_cache.pdf_key(html)
        if report_cache.is_stored(key):
            return None
        rendering = render_pool.pool().offer(key, report.render_pdf, html)
        if rendering is not None:
            rendering.add_done_callback(lambda done: _store(key, done))
        return rendering

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
    error = rendering.exception()
    if error is not None:
        logger.warning("A report rendered in advance failed (%s); its download renders it.", error)
        return
    report_cache.store(key, rendering.result())


prerenderer = Prerenderer()
os.register_at_fork(after_in_child=prerenderer.forget)


def after_commit(pk) -> None:
    """Render ``pk``'s report in the background once the current transaction commits."""
    transaction.on_commit(lambda: prerenderer.changed(pk))


def on_decision_changed(sender, assessment: Assessment, **kwargs) -> None:
    """A ``decision_changed`` receiver (sent on commit): status, review requests, approvals."""
    prerenderer.changed(assessment.pk)


def connect() -> None:
    decisions.decision_changed.connect(
        on_decision_changed, sender=Assessment, dispatch_uid="questionnaire.prerender"
    )
