"""The board page and the staff-only actions that start and cancel runs."""

import json
from functools import wraps
from typing import Any

from asgiref.sync import sync_to_async
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from tokens.age_filters import window_days
from tokens.bot_settings import effective_batch_size
from tokens.live.messages import BOARD_FIELDS, BUNDLE_QUERY, is_following, run_payload, token_payload
from tokens.models import BotSettings, LoadRun, Source, Upstream
from tokens.runs.dispatch import dispatch_run
from tokens.runs.requests import (
    RunConflict,
    RunParameterError,
    check_resumable,
    create_run,
    plan_run,
    request_cancel,
)
from tokens.sources.clients import configured_upstreams
from tokens.store.batches import current_cursor
from tokens.store.board_query import (
    ABOUT_TO_GRADUATE,
    TRADE_BOUNDS,
    BoardQuery,
    QueryError,
    cursor_for,
    filtered,
    ordered,
    parse_query,
)
from tokens.store.selectors import (
    BOARD_ROWS,
    COUNT_CAP,
    board_count,
    board_tokens,
    recent_runs,
    saved_filter_labels,
)

STAGE_CHOICES = (("", "All"), ("new", "New"), ("graduating", "About to graduate"), ("graduated", "Graduated"))
AGE_CHOICES = (("", "any"), ("5m", "≤ 5 min"), ("30m", "≤ 30 min"), ("1h", "≤ 1 h"), ("6h", "≤ 6 h"), ("1d", "≤ 1 day"),
               ("7d", "≤ 7 days"))  # fmt: skip
DEV_SOLD_CHOICES = (("", "any"), ("no", "not sold"), ("yes", "sold"))
# Pulse: three live lanes, each its own view of the board (a stage, an order, its own filters, given
# in the URL as <lane>.<filter>, e.g. new.max_dev_pct=10).
LANES = (("new", "New", "-created"), ("graduating", "About to graduate", "-bonding_progress"),
         ("graduated", "Graduated", "-created"))  # fmt: skip
LANE_FILTERS = ("min_volume_5m", "max_dev_pct", "max_top10_pct")
LANE_CARDS = 30


@require_GET
def board(request: HttpRequest) -> HttpResponse:
    try:
        query, query_error = parse_query(request.GET), ""
    except QueryError as exc:
        query, query_error = BoardQuery(), f"{exc}; showing every token instead"
    view = filtered(board_tokens(), query)
    # The first render holds as many rows as the live view keeps, in the view's order, so a reload
    # shows the rows that were on screen before it.
    rows = list(ordered(view, query)[: BOARD_ROWS + 1])
    more = len(rows) > BOARD_ROWS
    rows = rows[:BOARD_ROWS]
    stored_count = board_count()
    layout = "pulse" if request.GET.get("layout") == "pulse" else "table"
    stored = BotSettings.get_solo()
    runs = recent_runs()
    batch_size, config_error = _batch_size_or_error(stored)
    context = {
        "tokens": rows,
        "stored_count": stored_count,
        "count_cap": COUNT_CAP,
        "query": query,
        "query_error": query_error,
        "stage_choices": STAGE_CHOICES,
        "age_choices": AGE_CHOICES,
        "dev_sold_choices": DEV_SOLD_CHOICES,
        "layout": layout,
        "lanes": _lanes(request.GET, render=layout == "pulse"),
        # The first screen holds tokens: with no load running (the feed following is not one) the run
        # panel is one status line, unfolded on demand.
        "run_folded": not runs or not runs[0].is_active or is_following(runs[0]),
        "runs": runs,
        "latest_run": runs[0] if runs else None,
        "sources": Source.choices,
        "default_source": Source.HYBRID,
        "upstreams": Upstream.choices,
        "default_upstream": stored.upstream,
        "default_days": max(1, round(window_days(stored.token_age_filter, custom_days=stored.custom_days))),
        "default_batch_size": batch_size,
        "config_error": config_error,
        "saved_filters": saved_filter_labels(stored),
        "configured_upstreams": configured_upstreams(),
        "board_config": {
            # Messages that waited for the same delivery round come in one frame (tokens/board/hub.py).
            "ws_path": "/ws/tokens/?" + BUNDLE_QUERY.decode(),
            "api_tokens": reverse("tokens:api-tokens"),
            "api_changes": reverse("tokens:api-changes"),
            "latest_run": run_payload(runs[0]) if runs else None,
            "runs": [run_payload(run) for run in runs],
            "cursor": current_cursor(),
            "initial_tokens": [token_payload(token) for token in rows],
            "next_cursor": cursor_for(rows[-1], query) if more else None,
            "row_cap": BOARD_ROWS,
            "stored": stored_count,
            "count_cap": COUNT_CAP,
            "view": query.given,
            "about_to_graduate": ABOUT_TO_GRADUATE,
            "trade_bounds": {name: list(rule) for name, rule in TRADE_BOUNDS.items()},
            "layout": layout,
            "lane_cards": LANE_CARDS,
            "lane_filters": LANE_FILTERS,
            "board_fields": BOARD_FIELDS,
        },
    }
    return render(request, "tokens/board.html", context)


def _lanes(params, *, render: bool) -> list[dict[str, Any]]:
    """Each lane's view and, when the page opens on Pulse, its first cards (the same query the page's
    script asks the API for when a reader switches to Pulse)."""
    lanes = []
    for key, label, sort in LANES:
        given = {name: params.get(f"{key}.{name}", "") for name in LANE_FILTERS if params.get(f"{key}.{name}")}
        tokens: list = []
        if render:
            try:
                query = parse_query({**given, "stage": key, "sort": sort})
                tokens = list(ordered(filtered(board_tokens(), query), query)[:LANE_CARDS])
            except QueryError:
                given = {}  # a lane filter the board cannot use: the lane shows everything (the script says so)
        lanes.append({"key": key, "label": label, "sort": sort, "given": given, "tokens": tokens})
    return lanes


def staff_action(view):
    """POST only, staff only (CSRF comes from the middleware); the view gets the user."""

    @require_POST
    @wraps(view)
    async def checked(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        user = await request.auser()
        refusal = _refuse_unless_staff(request, user)
        if refusal is not None:
            return refusal
        return await view(request, user, *args, **kwargs)

    return checked


@staff_action
async def start_run(request: HttpRequest, user) -> HttpResponse:
    try:
        data = _run_request(request)
    except UnsupportedBody as exc:
        return _fail(request, str(exc), status=415)
    except RunParameterError as exc:
        return _fail(request, str(exc), status=400)
    try:
        run = await sync_to_async(_create_web_run)(data, user)
    except RunParameterError as exc:
        return _fail(request, str(exc), status=400)
    except RunConflict as exc:
        return _fail(request, str(exc), status=409)
    note = await dispatch_run(run_id=run.pk)
    return _accepted(request, run.pk, "queued", f"Run {run.pk} {note}.")


@staff_action
async def cancel_run(request: HttpRequest, user, run_id: int) -> HttpResponse:
    run = await sync_to_async(_cancel)(run_id)
    if _wants_json(request):
        return JsonResponse({"run_id": run.pk, "status": run.status, "cancel_requested": run.cancel_requested})
    messages.info(request, f"Run {run.pk}: stop requested.")
    return redirect("tokens:board")


@staff_action
async def resume_run(request: HttpRequest, user, run_id: int) -> HttpResponse:
    try:
        run = await sync_to_async(check_resumable)(run_id=run_id)
    except RunParameterError as exc:
        return _fail(request, str(exc), status=404 if "there is no run" in str(exc) else 400)
    except RunConflict as exc:
        return _fail(request, str(exc), status=409)
    note = await dispatch_run(run_id=run.pk, resume=True)
    return _accepted(request, run.pk, "resuming", f"Run {run.pk} resumed: {note}.")


def _accepted(request: HttpRequest, run_id: int, status: str, note: str) -> HttpResponse:
    if _wants_json(request):
        return JsonResponse({"run_id": run_id, "status": status, "note": note}, status=202)
    messages.info(request, note)
    return redirect("tokens:board")


RUN_FIELDS = ("days", "batch_size", "source", "upstream", "follow")
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
TRUE, FALSE = ("1", "true", "on", "yes"), ("0", "false", "off", "no")


class UnsupportedBody(ValueError):
    """A body that is neither a form nor JSON."""


def _run_request(request: HttpRequest) -> dict[str, Any]:
    """The run's fields from a form or a JSON object, checked for shape; values are checked by
    plan_run. An empty request is refused: a run is asked for on purpose."""
    # A form's body has been read by the CSRF check already: its fields come from POST, never body.
    if request.content_type not in FORM_TYPES and not request.body:
        raise RunParameterError("empty request: give days, batch_size, source, upstream or follow")
    if request.content_type == "application/json":
        try:
            data = json.loads(request.body or b"null")
        except (ValueError, RecursionError):
            raise RunParameterError("the body is not valid JSON") from None
        if not isinstance(data, dict):
            raise RunParameterError("the body must be a JSON object with days, batch_size, source, upstream, follow")
        unknown = sorted(set(data) - set(RUN_FIELDS))
        if unknown:
            raise RunParameterError(f"unknown fields: {', '.join(unknown)[:100]}")
    elif request.content_type in FORM_TYPES:
        data = {name: request.POST[name] for name in RUN_FIELDS if name in request.POST}
    else:
        raise UnsupportedBody("send the run as a form or as JSON (Content-Type: application/json)")
    if not data:
        raise RunParameterError("empty request: give days, batch_size, source, upstream or follow")
    for name in ("source", "upstream"):
        if name in data and not isinstance(data[name], str):
            raise RunParameterError(f"{name} must be a string")
    data["follow"] = _follow(data.get("follow", False))
    return data


def _follow(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    text = raw.strip().lower() if isinstance(raw, str) else None
    if text in TRUE:
        return True
    if text in FALSE or text == "":
        return False
    raise RunParameterError(f"follow must be true or false, got {str(raw)[:20]!r}")


def _create_web_run(data: dict[str, Any], user) -> LoadRun:
    plan = plan_run(
        stored=BotSettings.get_solo(),
        days=data.get("days"),
        batch_size=data.get("batch_size"),
        source=data.get("source") or None,
        follow=data["follow"],
        upstream=data.get("upstream") or None,
    )
    return create_run(plan=plan, origin=LoadRun.Origin.WEB, user=user)


def _cancel(run_id: int) -> LoadRun:
    get_object_or_404(LoadRun, pk=run_id)
    return request_cancel(run_id=run_id)


def _refuse_unless_staff(request: HttpRequest, user) -> HttpResponse | None:
    if user.is_authenticated and user.is_staff:
        return None
    if not user.is_authenticated and not _wants_json(request):
        return redirect_to_login(request.get_full_path())
    return _fail(request, "only staff can start or cancel loads", status=403)


def _fail(request: HttpRequest, reason: str, *, status: int) -> HttpResponse:
    if _wants_json(request):
        return JsonResponse({"error": reason}, status=status)
    messages.error(request, reason)
    return redirect("tokens:board")


def _wants_json(request: HttpRequest) -> bool:
    # Browsers send */* on form posts; only an explicit JSON accept gets JSON.
    return "application/json" in request.headers.get("Accept", "")


def _batch_size_or_error(stored: BotSettings) -> tuple[int, str]:
    """The page still renders under a bad HISTORICAL_BATCH_SIZE, and says what is wrong."""
    try:
        return effective_batch_size(stored), ""
    except ImproperlyConfigured as exc:
        return stored.historical_batch_size, str(exc)
