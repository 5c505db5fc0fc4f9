"""Formatting for the board; board.js mirrors each of these for rows that arrive live."""

from datetime import datetime
from urllib.parse import urlencode

from django import template
from django.utils import timezone

from tokens.age_filters import window_label

register = template.Library()


@register.filter
def compact_usd(value: float | None) -> str:
    if not _is_number(value):
        return "—"
    for threshold, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(value) >= threshold:
            return f"${value / threshold:.1f}{suffix}"
    return f"${value:.0f}"


@register.filter
def age(created: datetime | None) -> str:
    if not isinstance(created, datetime):
        return "—"
    seconds = max(0, int((timezone.now() - created).total_seconds()))
    for span, suffix in ((86_400, "d"), (3_600, "h"), (60, "m")):
        if seconds >= span:
            return f"{seconds // span}{suffix}"
    return f"{seconds}s"


@register.filter
def window(days: float | None) -> str:
    return "—" if not _is_number(days) else window_label(days)


@register.filter
def percent(value: float | None) -> str:
    return f"{value:.0f}%" if _is_number(value) else "—"


@register.filter
def share(value: float | None) -> str:
    """A share of supply: one decimal below 10 %, whole above."""
    if not _is_number(value):
        return "—"
    return f"{value:.1f}%" if value < 10 else f"{value:.0f}%"


@register.filter
def signed_percent(value: float | None) -> str:
    if not _is_number(value):
        return "—"
    return f"{value:+.1f}%" if abs(value) < 100 else f"{value:+.0f}%"


@register.filter
def sign(value: float | None) -> str:
    return "up" if _is_number(value) and value > 0 else "down" if _is_number(value) and value < 0 else "flat"


@register.filter
def buys_sells(token) -> str:
    if token is None or not _is_number(token.buys_5m) or not _is_number(token.sells_5m):
        return "—"
    return f"{token.buys_5m}/{token.sells_5m}"


@register.filter
def dev_share(token) -> str:
    """The developer's holding, and "sold" once the stream saw them sell."""
    if token is None:
        return "—"
    held = share(token.dev_holding_pct)
    return f"{held} sold" if token.dev_sold_at is not None else held


# A graduated coin's stage, by what its pool says (the same words in board.js).
GRADUATED_LABELS = {"migrating": "migrating", "unreadable": "pool unreadable"}


@register.filter
def stage(token) -> str:
    if token is None:  # the empty row the page clones for live rows
        return percent(None)
    if not token.complete:
        return percent(token.bonding_progress)
    return GRADUATED_LABELS.get(token.pool_status, "graduated")


@register.filter
def whole_life(token) -> bool:
    """The trade stream saw the coin's whole life: its figures cover every trade."""
    return token is not None and token.trades_since is not None and token.trades_since <= token.created_at


@register.filter
def count_or_dash(value: int | None) -> str:
    return f"{value:,}" if _is_number(value) else "—"


@register.filter
def short_mint(mint: str) -> str:
    return f"{mint[:4]}…{mint[-4:]}" if isinstance(mint, str) and len(mint) > 10 else (mint or "")


@register.filter
def epoch_ms(value: datetime | None) -> int | str:
    return int(value.timestamp() * 1000) if isinstance(value, datetime) else ""


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


@register.filter
def run_duration(run) -> str:
    """How long a run took, or has been going."""
    if run is None or run.started_at is None:
        return "—"
    seconds = int(((run.finished_at or timezone.now()) - run.started_at).total_seconds())
    if seconds >= 3600:
        return f"{seconds // 3600}h {seconds % 3600 // 60}m"
    if seconds >= 60:
        return f"{seconds // 60}m {seconds % 60}s"
    return f"{seconds}s"


@register.filter
def urlencode_dict(params: dict[str, str]) -> str:
    """A view's parameters as a query string (the template escapes it for the attribute)."""
    return urlencode(params)
