"""Read-only JSON: tokens on the board and the runs that loaded them (described in openapi.py)."""

import re

from django.db.models import Q
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET
from django.views.defaults import page_not_found

from tokens.board import openapi, page_cache
from tokens.board.csv_export import csv_lines
from tokens.live.messages import run_payload, token_payload
from tokens.models import LoadRun, Token
from tokens.store.batches import current_cursor
from tokens.store.board_query import QueryError, after_cursor, cursor_for, filtered, ordered, parse_query
from tokens.store.selectors import (
    CATCH_UP_ROWS,
    COUNT_CAP,
    MAX_API_LIMIT,
    PAGE_SIZE,
    board_tokens,
    count_up_to,
    recent_runs,
)

_MINT = re.compile(openapi.MINT_PATTERN, re.ASCII)


@require_GET
def tokens(request: HttpRequest) -> HttpResponse:
    """The board's tokens with the page's filters and sort; `cursor` pages on (keyset), `offset`
    still works; `format=csv` downloads every matching row. A catch-up (`after=`) asked here, where
    it was first served, is sent on to `/api/changes/` with its query (a 308 keeps it a GET)."""
    if "after" in request.GET:
        moved = f"{reverse('tokens:api-changes')}?{request.GET.urlencode()}"
        return redirect(moved, permanent=True, preserve_request=True)
    try:
        query = parse_query(request.GET)
        export = _format(request.GET.get("format"))
        if export == "csv":
            return _csv(query)
    except QueryError as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    paging = {name: request.GET.get(name, "") for name in ("limit", "offset", "cursor")}  # hashed into the key
    key = page_cache.key_for(view=query.given, paging=paging, cursor=current_cursor())
    body = page_cache.cached(key)
    if body is None:
        response = _page(request, query)
        if response.status_code != 200:
            return response
        page_cache.keep(key, response.content)
        return response
    return HttpResponse(body, content_type="application/json")


def _page(request: HttpRequest, query) -> JsonResponse:
    try:
        limit = _bounded_int(request.GET.get("limit"), name="limit", default=PAGE_SIZE, low=1, high=MAX_API_LIMIT)
        offset = _bounded_int(request.GET.get("offset"), name="offset", default=0, low=0, high=10**9)
        view = filtered(board_tokens(), query)
        page = ordered(view, query)
        if request.GET.get("cursor"):
            offset, rows = 0, []
            for part in after_cursor(page, query, request.GET["cursor"]):
                if len(rows) > limit:
                    break
                rows += part[: limit + 1 - len(rows)]
        else:
            rows = list(page[offset : offset + limit + 1])
    except QueryError as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    more = len(rows) > limit
    rows = rows[:limit]
    total, exact = count_up_to(view, COUNT_CAP)
    return JsonResponse(
        {
            "count": total,
            "count_exact": exact,
            "sort": query.sort,
            "filters": query.given,
            "offset": offset,
            "limit": limit,
            "next_cursor": cursor_for(rows[-1], query) if more else None,
            "next_offset": offset + len(rows) if more and not request.GET.get("cursor") else None,
            "tokens": [token_payload(token) for token in rows],
        }
    )


@require_GET
def token_detail(request: HttpRequest, mint: str) -> JsonResponse:
    """One stored token, whole (the drawer's description, creator and links)."""
    token = Token.objects.filter(mint=mint).first() if _MINT.fullmatch(mint) else None
    if token is None:
        return JsonResponse({"error": "no stored token has that mint"}, status=404)
    return JsonResponse(token_payload(token))


def _format(raw: str | None) -> str:
    if raw in (None, "", "json"):
        return "json"
    if raw == "csv":
        return "csv"
    raise QueryError(f"format must be json or csv, got {raw[:10]!r}")


def _csv(query) -> StreamingHttpResponse:
    rows = ordered(filtered(board_tokens(), query), query).iterator(chunk_size=1000)
    response = StreamingHttpResponse(csv_lines(rows), content_type="text/csv; charset=utf-8")
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    response["Content-Disposition"] = f'attachment; filename="pumpfun-tokens-{stamp}.csv"'
    return response


@require_GET
def changes(request: HttpRequest) -> JsonResponse:
    """Catch-up for a page: what changed after its cursor, in (cursor, mint) order, at most
    CATCH_UP_ROWS rows an answer (a filter change gives many tokens one cursor).

    `tokens` are on the board; `removed` are mints taken off it. `cursor` is the board cursor up to
    which the page now has every change; while `more` is true, ask again with `after=next_after` and
    `after_mint=next_after_mint` (a position inside a cursor's rows)."""
    try:
        after = _bounded_int(request.GET.get("after"), name="after", default=0, low=0, high=2**62)
        after_mint = _mint_or_blank(request.GET.get("after_mint"))
    except ValueError as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    latest = current_cursor()
    beyond = Q(cursor__gt=after) | Q(cursor=after, mint__gt=after_mint) if after_mint else Q(cursor__gt=after)
    rows = list(Token.objects.filter(beyond, cursor__lte=latest).order_by("cursor", "mint")[: CATCH_UP_ROWS + 1])
    following = rows[CATCH_UP_ROWS] if len(rows) > CATCH_UP_ROWS else None
    rows = rows[:CATCH_UP_ROWS]
    last = rows[-1] if following is not None else None
    # Without more: the latest cursor (below `after` only when the board was reset; the page starts
    # again from there). With more: the last row's cursor is whole unless the row after it shares it.
    complete = _complete_up_to(last, following) if last is not None else latest
    return JsonResponse(
        {
            "after": after,
            # Every change up to here is in this answer or an earlier one. No commit writes more than
            # CATCH_UP_ROWS tokens, so a client that only follows `cursor` always gets further too.
            "cursor": complete,
            "more": last is not None,
            "next_after": last.cursor if last else None,
            "next_after_mint": last.mint if last else None,
            "tokens": [token_payload(token) for token in rows if token.passed_filters],
            "removed": [token.mint for token in rows if not token.passed_filters],
        }
    )


def _complete_up_to(last: Token, following: Token) -> int:
    return last.cursor - 1 if following.cursor == last.cursor else last.cursor


def _mint_or_blank(raw: str | None) -> str:
    if raw in (None, ""):
        return ""
    if len(raw) > 44 or not raw.isascii() or not raw.isalnum():
        raise QueryError(f"after_mint must be a mint address, got {raw[:20]!r}")
    return raw


@require_GET
def runs(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"runs": [_run_for(request, run) for run in recent_runs(limit=50)]})


@require_GET
def run_detail(request: HttpRequest, run_id: int) -> JsonResponse:
    run = LoadRun.objects.filter(pk=run_id).first()
    if run is None:
        return JsonResponse({"error": "no run has that id"}, status=404)
    return JsonResponse(_run_for(request, run))


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """The project's 404: JSON under /api/ (an id no run can have, a path that is not there), the
    usual page elsewhere."""
    if request.path.startswith("/api/"):
        return JsonResponse({"error": "nothing here; see /api/openapi.json"}, status=404)
    return page_not_found(request, exception)


@require_GET
def description(request: HttpRequest) -> JsonResponse:
    """The OpenAPI 3.1 description of this API."""
    return JsonResponse(openapi.description())


def _run_for(request: HttpRequest, run: LoadRun) -> dict:
    """Which host and process ran it is for staff only (it maps the deployment)."""
    payload = run_payload(run)
    if request.user.is_authenticated and request.user.is_staff:
        payload["executed_by"] = run.executed_by
    return payload


def _bounded_int(raw: str | None, *, name: str, default: int, low: int, high: int) -> int:
    if raw in (None, ""):
        return default
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 20:
        raise QueryError(f"{name} must be a whole number (digits 0-9), got {raw[:20]!r}")
    value = int(raw)
    if not low <= value <= high:
        raise QueryError(f"{name} must be from {low} to {high}, got {value}")
    return value
