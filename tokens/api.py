"""Read-only JSON: tokens on the board and the runs that loaded them."""

from django.http import HttpRequest, JsonResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.http import require_GET

from tokens.messages import run_payload, token_payload
from tokens.models import LoadRun, Token
from tokens.runs import mark_stale_runs_interrupted
from tokens.selectors import MAX_API_LIMIT, PAGE_SIZE, board_tokens, recent_runs
from tokens.store import current_cursor

# Batches per catch-up response: at most 10 x 500 tokens.
CATCH_UP_BATCHES = 10


@require_GET
def tokens(request: HttpRequest) -> JsonResponse:
    if "after" in request.GET:
        return _tokens_after(request)
    try:
        limit = _bounded_int(request.GET.get("limit"), name="limit", default=PAGE_SIZE, low=1, high=MAX_API_LIMIT)
        offset = _bounded_int(request.GET.get("offset"), name="offset", default=0, low=0, high=10**9)
    except ValueError as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    queryset = board_tokens()
    rows = list(queryset[offset : offset + limit])
    total = queryset.count()
    return JsonResponse(
        {
            "count": total,
            "offset": offset,
            "limit": limit,
            "next_offset": offset + len(rows) if offset + len(rows) < total else None,
            "tokens": [token_payload(token) for token in rows],
        }
    )


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
    mark_stale_runs_interrupted()
    return JsonResponse({"runs": [run_payload(run) for run in recent_runs(limit=50)]})


@require_GET
def run_detail(request: HttpRequest, run_id: int) -> JsonResponse:
    mark_stale_runs_interrupted()
    return JsonResponse(run_payload(get_object_or_404(LoadRun, pk=run_id)))


def _bounded_int(raw: str | None, *, name: str, default: int, low: int, high: int) -> int:
    if raw in (None, ""):
        return default
    if not raw.isdigit():
        raise ValueError(f"{name} must be a whole number, got {raw[:20]!r}")
    value = int(raw)
    if not low <= value <= high:
        raise ValueError(f"{name} must be from {low} to {high}, got {value}")
    return value
