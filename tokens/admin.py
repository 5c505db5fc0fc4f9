from asgiref.sync import async_to_sync
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import ImproperlyConfigured
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models, transaction
from solo.admin import SingletonModelAdmin

from tokens.board.throttle import ThrottledAdminAuthenticationForm
from tokens.bot_settings import env_batch_size
from tokens.live.messages import broadcast, rejudged_message
from tokens.models import BotSettings, LoadRun, Token
from tokens.sources.clients import configured_upstreams
from tokens.sources.redaction import redact_url
from tokens.store.rejudge import FILTER_FIELDS, rejudge_stored
from tokens.store.selectors import board_count

admin.site.login_form = ThrottledAdminAuthenticationForm


@admin.register(BotSettings)
class BotSettingsAdmin(SingletonModelAdmin):
    readonly_fields = ["environment_override", "holder_rpc", "configured_upstreams"]
    fieldsets = [
        (
            "Batches",
            {
                "fields": [
                    "historical_batch_size",
                    "environment_override",
                    "adaptive_batch_size",
                    "batch_time_budget_ms",
                ]
            },
        ),
        ("Age window", {"fields": ["token_age_filter", "custom_days"]}),
        (
            "Filters",
            {
                "fields": [
                    "min_usd_market_cap",
                    "max_usd_market_cap",
                    "min_holders",
                    "min_liquidity_sol",
                    "include_nsfw",
                    "include_pump_only",
                    "blocklist",
                ]
            },
        ),
        (
            "Sources",
            {
                "fields": [
                    "upstream",
                    "configured_upstreams",
                    "trending_first",
                    "trending_limit",
                    "tail_interval_seconds",
                    "live_refresh_count",
                    "live_pool_count",
                    "live_refresh_seconds",
                    "holder_rpc",
                ]
            },
        ),
    ]

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        # The form's bounds are the model's, so a wrong number gets one message that matches them.
        if isinstance(db_field, models.IntegerField | models.FloatField):
            lows = [v.limit_value for v in db_field.validators if isinstance(v, MinValueValidator)]
            highs = [v.limit_value for v in db_field.validators if isinstance(v, MaxValueValidator)]
            if lows:
                kwargs["min_value"] = max(lows)
            if highs:
                kwargs["max_value"] = min(highs)
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def save_model(self, request, obj: BotSettings, form, change) -> None:
        super().save_model(request, obj, form, change)
        if not FILTER_FIELDS.intersection(form.changed_data):
            return
        # The admin saves inside one transaction: judging the stored tokens waits until it commits,
        # so each chunk is a transaction of its own (the board lock held one chunk at a time) and
        # pages are told only of what is committed.
        transaction.on_commit(lambda: self._rejudge(request))

    def _rejudge(self, request) -> None:
        result = rejudge_stored()
        messages.info(
            request,
            f"Filters applied again to the {result.checked} stored tokens: {result.hidden} now hidden, "
            f"{result.shown} shown again.",
        )
        if result.cursor is not None:
            async_to_sync(broadcast)(rejudged_message(cursor=result.cursor, stored=board_count()))

    @admin.display(description="Batch size from the environment")
    def environment_override(self, obj: BotSettings) -> str:
        try:
            value = env_batch_size()
        except ImproperlyConfigured as exc:
            return f"invalid: {exc}"
        return "not set: the value above applies" if value is None else f"{value} (wins over the value above)"

    @admin.display(description="Configured upstreams")
    def configured_upstreams(self, obj: BotSettings) -> str:
        return "; ".join(f"{name}: {value}" for name, value in configured_upstreams())

    @admin.display(description="Holder RPC (SOLANA_RPC_URL)")
    def holder_rpc(self, obj: BotSettings) -> str:
        if not settings.SOLANA_RPC_URL:
            return "not set: holder counts stay unknown"
        return redact_url(settings.SOLANA_RPC_URL)


@admin.register(Token)
class TokenAdmin(admin.ModelAdmin):
    list_display = ["symbol", "name", "mint", "created_at", "usd_market_cap", "holders", "passed_filters"]
    list_filter = ["passed_filters", "complete", "nsfw"]
    search_fields = ["mint", "name", "symbol"]
    readonly_fields = [field.name for field in Token._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(LoadRun)
class LoadRunAdmin(admin.ModelAdmin):
    list_display = [
        "pk",
        "source",
        "days",
        "batch_size",
        "status",
        "fetched",
        "accepted",
        "rejected",
        "failed",
        "created_at",
    ]
    list_filter = ["status", "source", "origin"]
    readonly_fields = [field.name for field in LoadRun._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False
