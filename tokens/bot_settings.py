"""Reading the operator's settings: the admin-edited row, the environment override, JSON export/import."""

import json
import math
import os
from typing import Any

from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.db import transaction

from tokens.models import MAX_BATCH_SIZE, MIN_BATCH_SIZE, BotSettings

BATCH_SIZE_ENV = "HISTORICAL_BATCH_SIZE"
EXPORT_KEY = "bot_settings"
_EXPORTED_FIELDS = [
    "historical_batch_size", "upstream", "adaptive_batch_size", "batch_time_budget_ms", "token_age_filter",
    "custom_days",
    "min_usd_market_cap", "max_usd_market_cap", "min_holders", "min_liquidity_sol", "include_nsfw",
    "include_pump_only", "trending_first", "trending_limit", "tail_interval_seconds", "blocklist",
    "live_refresh_count", "live_pool_count", "live_refresh_seconds",
]  # fmt: skip


def parse_batch_size(raw: Any, *, name: str) -> int:
    """A batch size from a person (flag, form, env var); the error names where it came from."""
    text = str(raw).strip()
    try:
        if isinstance(raw, bool) or (isinstance(raw, str) and not (text.isascii() and text.isdigit())):
            raise ValueError
        value = int(text) if isinstance(raw, str) else raw
        if not isinstance(value, int):
            raise ValueError
    except ValueError:
        raise ValueError(
            f"{name} must be a whole number from {MIN_BATCH_SIZE} to {MAX_BATCH_SIZE}, got {text!r}"
        ) from None
    if not MIN_BATCH_SIZE <= value <= MAX_BATCH_SIZE:
        raise ValueError(f"{name} must be from {MIN_BATCH_SIZE} to {MAX_BATCH_SIZE}, got {value}")
    return value


def env_batch_size() -> int | None:
    raw = os.environ.get(BATCH_SIZE_ENV)
    if raw is None:
        return None
    try:
        return parse_batch_size(raw, name=BATCH_SIZE_ENV)
    except ValueError as exc:
        raise ImproperlyConfigured(str(exc)) from None


def effective_batch_size(stored: BotSettings) -> int:
    """The environment variable, when set, wins over the value edited in the admin."""
    override = env_batch_size()
    return stored.historical_batch_size if override is None else override


def export_settings(stored: BotSettings) -> dict[str, Any]:
    return {EXPORT_KEY: {name: getattr(stored, name) for name in _EXPORTED_FIELDS}}


def import_settings(data: Any) -> BotSettings:
    """Apply an exported document; on any error nothing is changed."""
    if not isinstance(data, dict) or not isinstance(data.get(EXPORT_KEY), dict):
        raise ValidationError(f'expected a JSON object of the form {{"{EXPORT_KEY}": {{...}}}}')
    values = data[EXPORT_KEY]
    unknown = sorted(set(values) - set(_EXPORTED_FIELDS))
    if unknown:
        raise ValidationError(f"unknown settings: {', '.join(unknown)}")
    for name, value in values.items():
        _check_type(name, value)
    with transaction.atomic():
        stored = BotSettings.get_solo()
        for name, value in values.items():
            setattr(stored, name, value)
        try:
            stored.full_clean()
        except (TypeError, ValueError) as exc:
            raise ValidationError(str(exc)) from exc
        stored.save()
    return stored


def _check_type(name: str, value: Any) -> None:
    """JSON types must match the field's: no `true` for a number, no list for a text, no NaN."""
    field = BotSettings._meta.get_field(name)
    if value is None:
        if not field.null:
            raise ValidationError(f"{name}: may not be null")
        return
    kind = field.get_internal_type()
    if kind == "BooleanField":
        ok = isinstance(value, bool)
        wanted = "true or false"
    elif kind in ("PositiveIntegerField", "IntegerField", "PositiveSmallIntegerField"):
        ok = isinstance(value, int) and not isinstance(value, bool)
        wanted = "a whole number"
    elif kind == "FloatField":
        ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
        wanted = "a finite number"
    else:
        ok = isinstance(value, str)
        wanted = "a string"
    if not ok:
        raise ValidationError(f"{name}: must be {wanted}, got {json.dumps(value)[:40]}")
