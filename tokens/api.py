"""Read-only JSON: tokens on the board and the runs that loaded them."""

from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.views.decorators.http import require_GET

from tokens import page_cache
from tokens.board_query import QueryError, after_cursor, cursor_for, filtered, ordered, parse_query
from tokens.csv_export import csv_lines
from tokens.messages import run_payload, token_payload
from tokens.models import LoadRun, Token
from tokens.selectors import MAX_API_LIMIT, PAGE_SIZE, board_tokens, recent_runs
from tokens.store import current_cursor

# Batches per catch-up response: at most 10 x 500 tokens.
CATCH_UP_BATCHES = 10


@require_GET
def tokens(request: HttpRequest) -> HttpResponse:
    """The board's tokens with the page's filters and sort; `cursor` pages on (keyset), `offset`
    still works; `format=csv` downloads every matching row."""
    if "after" in request.GET:
        return _tokens_after(request)
    try:
        query = parse_query(request.GET)
        export = _format(request.GET.get("format"))
        if export == "csv":
            return _csv(query)
    except QueryError as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    key, cursor = request.get_full_path(), current_cursor()
    body = page_cache.cached(key, cursor)
    if body is None:
        response = _page(request, query)
        if response.status_code != 200:
            return response
        page_cache.keep(key, cursor, response.content)
        return response
    return HttpResponse(body, content_type="application/json")


def _page(request: HttpRequest, query) -> JsonResponse:
    try:
        limit = _bounded_int(request.GET.get("limit"), name="limit", default=PAGE_SIZE, low=1, high=MAX_API_LIMIT)
        offset = _bounded_int(request.GET.get("offset"), name="offset", default=0, low=0, high=10**9)
        view = filtered(board_tokens(), query)
        page = ordered(view, query)
        if request.GET.get("cursor"):
            page = after_cursor(page, query, request.GET["cursor"])
            offset = 0
        rows = list(page[offset : offset + limit + 1])
    except QueryError as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    more = len(rows) > limit
    rows = rows[:limit]
    total = view.count()
    return JsonResponse(
        {
            "count": total,
            "sort": query.sort,
            "filters": query.given,
            "offset": offset,
            "limit": limit,
            "next_cursor": cursor_for(rows[-1], query) if more else None,
            "next_offset": offset + len(rows) if more and "cursor" not in request.GET else None,
            "tokens": [token_payload(token) for token in rows],
        }
    )


@require_GET
def token_detail(request: HttpRequest, mint: str) -> JsonResponse:
    """One stored token, whole (the drawer's description, creator and links)."""
    token = Token.objects.filter(mint=mint[:44]).first()
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


def _tokens_after(request: HttpRequest) -> JsonResponse:
    """Catch-up for a page: the changes of whole batches after its cursor, oldest batch first.

    `tokens` are on the board; `removed` are mints a later batch rejected. Repeat with the returned
    `cursor` while `more` is true.
    """
    try:
        after = _bounded_int(request.GET.get("after"), name="after", default=0, low=0, high=2**62)
    except ValueError as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    latest = current_cursor()
    upto = min(latest, after + CATCH_UP_BATCHES)
    changed = Token.objects.filter(cursor__gt=after, cursor__lte=upto).order_by("cursor", "-created_at", "mint")
    rows = list(changed)
    return JsonResponse(
        {
            "after": after,
            "cursor": max(upto, after),
            "more": upto < latest,
            "tokens": [token_payload(token) for token in rows if token.passed_filters],
            "removed": [token.mint for token in rows if not token.passed_filters],
        }
    )


@require_GET
def runs(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"runs": [_run_for(request, run) for run in recent_runs(limit=50)]})


@require_GET
def run_detail(request: HttpRequest, run_id: int) -> JsonResponse:
    return JsonResponse(_run_for(request, get_object_or_404(LoadRun, pk=run_id)))


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
