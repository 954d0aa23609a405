"""PDF reports rendered once, kept in the ``renders`` cache, served with ETag and Last-Modified.

A report's HTML is cheap to make (a few milliseconds) and holds everything
its PDF shows: the revision's snapshot, the paper size, and the mutable
facts (the decision's status, approvals, comments, how many revisions there
are). The same HTML always gives the same PDF, so the hash of the HTML, the
deploy fingerprint and the WeasyPrint version names the PDF: it is the cache
key and the ETag. An approval changes the HTML, so the next download gets a
new PDF at once; nothing is ever invalidated by hand.

Stored in Django's cache (alias ``renders``): Redis when
``RENDERS_REDIS_URL`` or ``REDIS_URL`` is set, so every process and host
shares each PDF; local memory otherwise. See docs/caching.md for why not
files. Beside each PDF the cache keeps, per report address, the key last
served there and since when: that time is the ``Last-Modified``.

A render that fails (its worker died, the render raised, the workers
cannot start) is answered 503 with Retry-After, never 500.

Callers check access first: a 304 or a cached PDF is only ever an answer to
someone who may read the report.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import AsyncIterator, Mapping
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass

import weasyprint
from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.cache import caches
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.utils.cache import get_conditional_response
from django.utils.http import http_date
from django.views.decorators.cache import cache_control

from advisor.http import error_response

from . import render_pool, report
from .snapshot import CACHE_ALIAS, deploy_fingerprint

BUSY_MESSAGE = "Too many reports are being made right now; try again in a few seconds."
FAILED_MESSAGE = "The report could not be rendered; try again in a few seconds."
# Retry-After of a render that failed (its worker died, or the render raised).
FAILED_RETRY_SECONDS = 5

logger = logging.getLogger(__name__)

# A report's caching policy: a browser may keep its copy, but asks every time
# before using it (no-cache), and every such request passes the access check
# before its 304, so a revoked share link or a removed member gets 404 on the
# next open. private: no shared proxy stores a team's report.
revalidate_always = cache_control(private=True, no_cache=True)


def pdf_key(html: str) -> str:
    digest = hashlib.sha256()
    for part in (deploy_fingerprint(), weasyprint.__version__, html):
        digest.update(part.encode())
        digest.update(b"\0")
    return digest.hexdigest()[:40]


@dataclass(frozen=True)
class Prepared:
    """A report's key and what the cache holds of it, before any render."""

    etag: str
    key: str
    html: str
    disposition: str
    # The 304 when the client's copy is current (its If-None-Match holds the
    # ETag): then the cache was not read.
    not_modified: HttpResponse | None = None
    stored: bytes | None = None
    changed_at: float | None = None


def prepare(
    request: HttpRequest, context: Mapping, paper: str, disposition: str, address: str
) -> Prepared:
    """The report's HTML, its key, and (unless the client's copy is current) the cache's PDF.

    Sync, on the request's own thread, in the same hop as the view's access
    check and reads: a few milliseconds of template and one cache read.
    ``address`` names the report's URL (assessment, revision, paper, share
    link or not): its ``Last-Modified`` is when the PDF at that address last
    changed.
    """
    html = report.report_html(context, paper)
    key = pdf_key(html)
    etag = f'"{key}"'
    # The ETag is known before any cache is read: a client that has this PDF
    # is answered at once.
    if request.headers.get("If-None-Match"):
        not_modified = get_conditional_response(request, etag=etag)
        if not_modified is not None:
            return Prepared(etag, key, html, disposition, not_modified=not_modified)
    stored, changed_at = _read(caches[CACHE_ALIAS], key, address)
    return Prepared(etag, key, html, disposition, stored=stored, changed_at=changed_at)


async def pdf_response(request: HttpRequest, prepared: Prepared) -> HttpResponse:
    """The report ``prepared``: 304, the cached PDF, or a new render (503 if none can be had).

    A ``HEAD`` gets the headers and the 304 a ``GET`` would, and no render.
    """
    etag, disposition = prepared.etag, prepared.disposition
    if prepared.not_modified is not None:
        return _headed(prepared.not_modified, etag, None, disposition)
    stored, changed_at = prepared.stored, prepared.changed_at
    # With no If-None-Match only: a date alone is trusted when it is the time
    # this address last changed content, never the time the PDF was rendered
    # (a decision that goes back to an earlier state serves an older PDF).
    unchanged = get_conditional_response(request, etag=etag, last_modified=int(changed_at))
    if unchanged is not None:
        return _headed(unchanged, etag, changed_at, disposition)
    if request.method == "HEAD":
        # Streamed, empty, so that no Content-Length is added: the length is
        # unknown until the PDF is made, and 0 would say "empty".
        response = StreamingHttpResponse(_no_body(), content_type="application/pdf")
        return _headed(response, etag, changed_at, disposition)
    if stored is None:
        try:
            stored = await _render(prepared.key, prepared.html)
        except render_pool.Refused as refusal:
            message = BUSY_MESSAGE if isinstance(refusal, render_pool.Busy) else FAILED_MESSAGE
            return busy_response(request, refusal.retry_after, message)
        except Exception:
            # The render's own failure (out of memory in the worker, a worker
            # killed twice): nothing the client did, and likely to pass.
            logger.exception("A PDF report could not be rendered.")
            return busy_response(request, FAILED_RETRY_SECONDS, FAILED_MESSAGE)
        await sync_to_async(store)(prepared.key, stored)
    response = HttpResponse(stored, content_type="application/pdf")
    return _headed(response, etag, changed_at, disposition)


def store(key: str, pdf: bytes) -> None:
    """Keep the PDF named ``key`` in the renders cache (for ADVISOR_RENDER_CACHE_SECONDS)."""
    caches[CACHE_ALIAS].set(_entry(key), pdf, settings.ADVISOR_RENDER_CACHE_SECONDS)


def store_unless_there(key: str, pdf: bytes, seconds: int) -> None:
    """Keep the PDF named ``key`` for ``seconds`` at most, unless a download stored it already."""
    kept = min(seconds, settings.ADVISOR_RENDER_CACHE_SECONDS)
    caches[CACHE_ALIAS].add(_entry(key), pdf, kept)


def is_stored(key: str) -> bool:
    return caches[CACHE_ALIAS].has_key(_entry(key))


def _entry(key: str) -> str:
    return f"report:{key}"


def _read(renders, key: str, address: str) -> tuple[bytes | None, float]:
    """The cached PDF of ``key`` (or None) and when ``address`` last changed content."""
    found = renders.get_many([_entry(key), f"report-address:{address}"])
    seen = found.get(f"report-address:{address}")
    if seen is not None and seen[0] == key:
        return found.get(_entry(key)), seen[1]
    # New at this address, or changed since: it changed now.
    changed_at = time.time()
    renders.set(
        f"report-address:{address}", (key, changed_at), settings.ADVISOR_RENDER_CACHE_SECONDS
    )
    return found.get(_entry(key)), changed_at


async def _render(key: str, html: str) -> bytes:
    try:
        return await render_pool.pool().run(key, report.render_pdf, html)
    except BrokenProcessPool:
        # A worker died under this render, maybe for another's sake (each
        # render in a broken executor fails): once more, in new workers.
        logger.warning("A render worker died during a PDF render; rendering it again.")
    return await render_pool.pool().run(key, report.render_pdf, html)


async def _no_body() -> AsyncIterator[bytes]:
    # An async iterator: Django warns about a sync one served under ASGI.
    return
    yield


def _headed(
    response: HttpResponse, etag: str, changed_at: float | None, disposition: str
) -> HttpResponse:
    response["ETag"] = etag
    if changed_at is not None:
        response["Last-Modified"] = http_date(changed_at)
    response["Content-Disposition"] = disposition
    return response


def busy_response(
    request: HttpRequest, retry_after: int, message: str = BUSY_MESSAGE
) -> HttpResponse:
    """503 with Retry-After: JSON for a client that asks for it, a plain sentence otherwise."""
    if request.get_preferred_type(["text/html", "text/plain", "application/json"]) == (
        "application/json"
    ):
        return error_response(503, {"report": message}, Retry_After=str(retry_after))
    response = HttpResponse(f"{message}\n", status=503, content_type="text/plain; charset=utf-8")
    response["Retry-After"] = str(retry_after)
    return response
