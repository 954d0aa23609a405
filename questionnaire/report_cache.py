"""PDF reports rendered once, kept in the ``renders`` cache, served with ETag and Last-Modified.

A report's HTML is cheap to make (a few milliseconds) and holds everything
its PDF shows: the revision's snapshot, the paper size, and the mutable
facts (the decision's status, approvals, comments, how many revisions there
are). The same HTML always gives the same PDF, so the hash of the HTML, the
deploy fingerprint and the WeasyPrint version names the PDF: it is the cache
key and the ETag. An approval changes the HTML, so the next download gets a
new PDF at once; nothing is ever invalidated by hand.

Stored in Django's cache (alias ``renders``): Redis when ``REDIS_URL`` is
set, so every process and host shares each PDF and Redis evicts old ones;
local memory otherwise. See docs/caching.md for why not files.

Callers check access first: a 304 or a cached PDF is only ever an answer to
someone who may read the report.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping

import weasyprint
from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.cache import caches
from django.http import HttpRequest, HttpResponse
from django.utils.cache import get_conditional_response
from django.utils.http import http_date

from advisor.http import error_response

from . import render_pool, report
from .snapshot import CACHE_ALIAS, deploy_fingerprint

BUSY_MESSAGE = "Too many reports are being made right now; try again in a few seconds."


def pdf_key(html: str) -> str:
    digest = hashlib.sha256()
    for part in (deploy_fingerprint(), weasyprint.__version__, html):
        digest.update(part.encode())
        digest.update(b"\0")
    return digest.hexdigest()[:40]


async def pdf_response(
    request: HttpRequest, context: Mapping, paper: str, disposition: str
) -> HttpResponse:
    """The report of ``context``: 304, the cached PDF, or a new render (503 if too many wait)."""
    html = await sync_to_async(report.report_html, thread_sensitive=False)(context, paper)
    key = pdf_key(html)
    etag = f'"{key}"'
    # The ETag is known before any cache is read: a client that has this PDF
    # is answered at once.
    unchanged = get_conditional_response(request, etag=etag)
    if unchanged is not None:
        return _headed(unchanged, etag, None, disposition)
    renders = caches[CACHE_ALIAS]
    # In a thread of its own: a Redis round trip must not stall the event
    # loop, nor wait behind the sync views' thread.
    stored = await sync_to_async(renders.get, thread_sensitive=False)(f"report:{key}")
    if stored is not None:
        pdf, rendered_at = stored
        unchanged = get_conditional_response(request, etag=etag, last_modified=int(rendered_at))
        if unchanged is not None:
            return _headed(unchanged, etag, rendered_at, disposition)
    else:
        try:
            pdf = await render_pool.pool().run(key, report.render_pdf, html)
        except render_pool.Busy as busy:
            return busy_response(request, busy.retry_after)
        rendered_at = time.time()
        await sync_to_async(renders.set, thread_sensitive=False)(
            f"report:{key}", (pdf, rendered_at), settings.ADVISOR_RENDER_CACHE_SECONDS
        )
    response = HttpResponse(pdf, content_type="application/pdf")
    return _headed(response, etag, rendered_at, disposition)


def _headed(
    response: HttpResponse, etag: str, rendered_at: float | None, disposition: str
) -> HttpResponse:
    response["ETag"] = etag
    if rendered_at is not None:
        response["Last-Modified"] = http_date(rendered_at)
    response["Content-Disposition"] = disposition
    return response


def busy_response(request: HttpRequest, retry_after: int) -> HttpResponse:
    """503 with Retry-After: JSON for a client that asks for it, a plain sentence otherwise."""
    if request.get_preferred_type(["text/html", "text/plain", "application/json"]) == (
        "application/json"
    ):
        return error_response(503, {"report": BUSY_MESSAGE}, Retry_After=str(retry_after))
    response = HttpResponse(
        f"{BUSY_MESSAGE}\n", status=503, content_type="text/plain; charset=utf-8"
    )
    response["Retry-After"] = str(retry_after)
    return response
