"""What the loader stores: tokens, the runs that loaded them, and the operator's settings."""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from solo.models import SingletonModel

from tokens.age_filters import MAX_DAYS, MIN_DAYS, AgeFilter

MIN_BATCH_SIZE = 1
MAX_BATCH_SIZE = 500
# Real bounds for the filters: no coin is worth a trillion dollars or held by a billion wallets.
MAX_USD = 1e12
MAX_SOL = 1e9
MAX_HOLDERS = 100_000_000


class Source(models.TextChoices):
    RECENT = "recent", "Recent launches"
    TRENDING = "trending", "Trending (last trade)"
    HYBRID = "hybrid", "Recent + trending"


class Upstream(models.TextChoices):
    AUTO = "auto", "Automatic (chain with an RPC)"
    CHAIN = "chain", "Solana chain"
    API = "api", "pump.fun web API (last hour)"


# The board's sorts on columns that can be unknown: each walks an index of its own per direction on
# PostgreSQL (migration 0012; NULLS LAST indexes are PostgreSQL's). Column -> the short name of its
# indexes.
BOARD_SORTED_COLUMNS = {
    "usd_market_cap": "cap", "holders": "holders", "bonding_progress": "progress", "reply_count": "replies",
    "volume_5m_usd": "vol5m", "buys_5m": "buys5m", "sells_5m": "sells5m", "price_change_5m": "chg5m",
    "dev_holding_pct": "dev", "top10_pct": "top10", "snipers_pct": "snipers",
}  # fmt: skip
ABOUT_TO_GRADUATE = 80.0  # bonding progress, %, from which a token is "about to graduate"


class Token(models.Model):
    mint = models.CharField(max_length=44, unique=True)
    name = models.CharField(max_length=200, blank=True)
    symbol = models.CharField(max_length=50, blank=True)
    description = models.TextField(blank=True)
    image_uri = models.URLField(max_length=500, blank=True)
    metadata_uri = models.URLField(max_length=500, blank=True, help_text="The launch's metadata document")
    bonding_curve = models.CharField(max_length=44, blank=True)
    signature = models.CharField(max_length=88, blank=True, help_text="The launch transaction (chain upstream)")
    quote = models.CharField(max_length=4, blank=True, help_text="The bonding curve's quote: SOL or USDC")
    initial_real_token_reserves = models.BigIntegerField(
        null=True, help_text="Real tokens on the curve at launch (from the CreateEvent), for bonding progress"
    )
    creator = models.CharField(max_length=44, blank=True)
    created_at = models.DateTimeField(db_index=True)
    market_cap_sol = models.FloatField(null=True, help_text="Market cap in SOL, as pump.fun reports it")
    usd_market_cap = models.FloatField(null=True, help_text="Market cap in USD")
    liquidity_sol = models.FloatField(
        null=True, help_text="Liquidity in SOL: the curve's real reserves; after migration, twice the pool's quote side"
    )
    liquidity_usd = models.FloatField(null=True, help_text="The same liquidity in USD")
    price_usd = models.FloatField(null=True, help_text="Price of one token in USD")
    holders = models.PositiveIntegerField(
        null=True, help_text="Distinct owners with a non-zero balance; empty when unknown"
    )
    reply_count = models.PositiveIntegerField(null=True)
    bonding_progress = models.FloatField(null=True, help_text="Bonding-curve progress, 0-100 %")
    complete = models.BooleanField(default=False, help_text="Graduated from the bonding curve")
    # After graduation (tokens/details/pools.py): the PumpSwap pool that prices the coin.
    graduated_at = models.DateTimeField(null=True, help_text="When the curve completed (its CompleteEvent)")
    migrated_at = models.DateTimeField(null=True, help_text="When the liquidity moved to the pool (its migration)")
    pool = models.CharField(max_length=44, blank=True, help_text="The canonical PumpSwap pool, once found")
    pool_base_vault = models.CharField(max_length=44, blank=True)
    pool_quote_vault = models.CharField(max_length=44, blank=True)
    pool_virtual_quote = models.BigIntegerField(
        null=True,
        help_text="The pool's signed virtual quote reserves (base units), added to its quote vault's for its price",
    )
    pool_status = models.CharField(
        max_length=10,
        blank=True,
        choices=[("", "on its curve"), ("migrating", "migrating"), ("priced", "priced"), ("unreadable", "unreadable")],
        help_text="A graduated coin: migrating until its pool exists, priced from it, or its pool could not be read",
    )
    token_supply = models.BigIntegerField(null=True, help_text="The mint's supply (base units), read with its pool")
    nsfw = models.BooleanField(default=False)
    twitter = models.URLField(max_length=500, blank=True)
    telegram = models.URLField(max_length=500, blank=True)
    website = models.URLField(max_length=500, blank=True)
    last_trade_at = models.DateTimeField(null=True)
    # From the trade stream (tokens/trades); null when unknown. Percentages are of the supply.
    create_slot = models.BigIntegerField(null=True, help_text="Slot of the create transaction, for snipers/bundles")
    trades_since = models.DateTimeField(
        null=True, help_text="The trade figures cover the trades from this moment on (the stream's coverage)"
    )
    volume_5m_usd = models.FloatField(null=True)
    volume_1h_usd = models.FloatField(null=True)
    volume_24h_usd = models.FloatField(null=True)
    net_flow_5m_usd = models.FloatField(null=True, help_text="Buys minus sells over 5 minutes, in USD")
    buys_5m = models.PositiveIntegerField(null=True)
    sells_5m = models.PositiveIntegerField(null=True)
    traders_5m = models.PositiveIntegerField(null=True)
    price_change_5m = models.FloatField(null=True, help_text="Percent")
    price_change_1h = models.FloatField(null=True, help_text="Percent")
    ath_usd_market_cap = models.FloatField(null=True, help_text="Highest market cap after a trade the stream saw")
    dev_holding_pct = models.FloatField(null=True)
    dev_sold_at = models.DateTimeField(null=True, help_text="The developer's first sale the stream saw")
    dev_sold_pct = models.FloatField(null=True, help_text="What the developer sold, in percent of supply")
    snipers_pct = models.FloatField(null=True)
    bundled_pct = models.FloatField(null=True)
    top10_pct = models.FloatField(null=True)
    figures_at = models.DateTimeField(null=True, db_index=True, help_text="When the trade figures were computed")
    sources = models.JSONField(default=list, help_text="Lists this token was seen in: recent, trending")
    first_seen_by = models.CharField(
        max_length=20, blank=True, help_text="The launch source that delivered it first (chain, api, pumpportal…)"
    )
    cursor = models.BigIntegerField(
        default=0, db_index=True, help_text="The board cursor of the batch that last stored this token"
    )
    passed_filters = models.BooleanField(default=True)
    pending = models.BooleanField(
        default=False, help_text="A saved filter waits for a detail still being fetched (holders, market cap, metadata)"
    )
    details_updated_at = models.DateTimeField(null=True, help_text="When holders, metadata or market cap last changed")
    # When each detail was last fetched (changed or not): a token stored again soon after is not
    # fetched again (DETAIL_FRESH_SECONDS).
    state_read_at = models.DateTimeField(null=True)
    holders_read_at = models.DateTimeField(null=True)
    metadata_read_at = models.DateTimeField(null=True)
    rejection_reason = models.CharField(max_length=200, blank=True)
    first_seen_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    last_run = models.ForeignKey("LoadRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["-created_at", "mint"]
        indexes = [models.Index(fields=["passed_filters", "-created_at"], name="token_board_idx")]

    def __str__(self) -> str:
        return f"{self.symbol or '?'} ({self.mint})"


class LoadRun(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        CANCELLED = "cancelled"
        INTERRUPTED = "interrupted"

    ACTIVE_STATUSES = (Status.QUEUED, Status.RUNNING)
    RESUMABLE_STATUSES = (Status.INTERRUPTED, Status.FAILED, Status.CANCELLED)

    class Origin(models.TextChoices):
        COMMAND = "command"
        WEB = "web"
        FOLLOWER = "follower"  # the always-on feed of new launches (manage.py follow_launches)

    source = models.CharField(max_length=10, choices=Source.choices, default=Source.HYBRID)
    upstream = models.CharField(
        max_length=5,
        choices=[(Upstream.CHAIN, "chain"), (Upstream.API, "web API")],
        default=Upstream.API,
        help_text="What served the run: the Solana chain or pump.fun's web API",
    )
    age_filter = models.CharField(max_length=20, choices=AgeFilter.choices, blank=True)
    days = models.FloatField(help_text="Length of the age window in days")
    batch_size = models.PositiveIntegerField()
    follow = models.BooleanField(default=False, help_text="After the backfill, keep polling for new launches")
    origin = models.CharField(max_length=10, choices=Origin.choices)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    executed_by = models.CharField(max_length=100, blank=True, help_text="host:pid of the process running it")

    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED, db_index=True)
    cancel_requested = models.BooleanField(default=False)
    fetched = models.PositiveIntegerField(default=0)
    accepted = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    invalid = models.PositiveIntegerField(default=0, help_text="Upstream records refused by validation")
    batches = models.PositiveIntegerField(default=0)
    holder_errors = models.PositiveIntegerField(default=0, help_text="Tokens whose holder count could not be fetched")
    details_queued = models.PositiveIntegerField(default=0, help_text="Details (state, holders, metadata) queued")
    details_done = models.PositiveIntegerField(default=0, help_text="Details fetched or given up on")
    metadata_errors = models.PositiveIntegerField(default=0, help_text="Tokens whose metadata could not be read")
    estimated_total = models.PositiveIntegerField(null=True)
    error = models.TextField(blank=True)
    warning = models.TextField(blank=True, help_text="What the run could not do, though it finished")
    retrying = models.CharField(
        max_length=300, blank=True, help_text="The upstream call being retried now; cleared by the next batch"
    )
    degraded = models.CharField(
        max_length=300, blank=True, help_text="A background stage of its process that is down now (details, refresh)"
    )

    window_end_ms = models.BigIntegerField(
        null=True, help_text="The run's 'now', in ms: the window is fixed when it first starts, resumes included"
    )
    checkpoint = models.JSONField(null=True, blank=True, help_text="Where the last committed batch ended")
    resumes = models.PositiveIntegerField(default=0)
    # Ownership: every claim raises the epoch, and every write of an executor is conditional on the
    # epoch it claimed, so a frozen or late executor is refused once another has taken the run.
    lease_epoch = models.PositiveIntegerField(default=0, help_text="Raised by every claim of the run")
    lease_expires_at = models.DateTimeField(null=True, help_text="Its executor renews this; past it, the run is free")
    recoveries = models.PositiveIntegerField(default=0, help_text="Automatic resumes after its executor died")
    first_seen = models.JSONField(
        default=dict, blank=True, help_text="Launches each source delivered first in this run, by source name"
    )

    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True)
    heartbeat_at = models.DateTimeField(null=True)
    finished_at = models.DateTimeField(null=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # Enforced by the database, so two processes can never run the same source at once.
            models.UniqueConstraint(
                fields=["source"],
                condition=models.Q(status__in=["queued", "running"]) & ~models.Q(origin="follower"),
                name="one_active_run_per_source",
            ),
            # The always-on feed runs beside loads of any source, but only once.
            models.UniqueConstraint(
                fields=["origin"],
                condition=models.Q(status__in=["queued", "running"], origin="follower"),
                name="one_active_follower",
            ),
        ]

    def __str__(self) -> str:
        return f"Run {self.pk} ({self.source}, {self.status})"

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE_STATUSES

    @property
    def is_resumable(self) -> bool:
        return self.status in self.RESUMABLE_STATUSES


class Detail(models.TextChoices):
    STATE = "state", "bonding-curve state"
    HOLDERS = "holders", "holder count"
    METADATA = "metadata", "metadata"


class DetailTask(models.Model):
    """One detail of one token still to fetch: the durable queue of the enrichment stage.

    A task is deleted in the same transaction that writes its result, so a restart repeats at most
    the fetch, never the write or its update message.
    """

    mint = models.CharField(max_length=44)
    kind = models.CharField(max_length=10, choices=Detail.choices)
    run = models.ForeignKey("LoadRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # Lower first: 0 for the newest launches (the board's first page) and the live tail, 1 for the rest.
    tier = models.PositiveSmallIntegerField(default=1)
    market_cap_sol = models.FloatField(null=True)
    created_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    not_before = models.DateTimeField(null=True)
    # The process whose details stage holds the task now (its lease runs to not_before); blank while
    # the task waits, to be tried again, until not_before.
    leased_by = models.CharField(max_length=100, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["mint", "kind"], name="one_task_per_detail")]
        indexes = [models.Index(fields=["kind", "tier", "-market_cap_sol", "-created_at"], name="detail_order_idx")]


class Trade(models.Model):
    """One buy or sell of a pump.fun coin, as its `TradeEvent` says; kept TRADE_RETENTION_HOURS."""

    signature = models.CharField(max_length=88)
    position = models.PositiveSmallIntegerField(help_text="The trade's place among its transaction's trades")
    mint = models.CharField(max_length=44)
    trader = models.CharField(max_length=44)
    is_buy = models.BooleanField()
    token_amount = models.BigIntegerField(help_text="Base units (6 decimals)")
    quote_amount = models.BigIntegerField(help_text="Base units of the quote (lamports, or USDC's 6 decimals)")
    price = models.FloatField(help_text="Quote per token after the trade (SOL or USDC)")
    price_before = models.FloatField(help_text="Quote per token just before it")
    usd_value = models.FloatField(null=True)
    usd_market_cap = models.FloatField(null=True, help_text="Market cap after the trade")
    slot = models.BigIntegerField(null=True)
    traded_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["signature", "position"], name="one_row_per_trade")]
        indexes = [models.Index(fields=["mint", "-traded_at", "-id"], name="trade_mint_time_idx")]


class Candle(models.Model):
    """One minute of one coin's trading: prices in its quote per token; kept CANDLE_RETENTION_DAYS."""

    mint = models.CharField(max_length=44)
    minute = models.DateTimeField(db_index=True)
    open = models.FloatField()
    high = models.FloatField()
    low = models.FloatField()
    close = models.FloatField()
    volume_usd = models.FloatField(null=True)
    volume_quote = models.FloatField(default=0.0)
    buys = models.PositiveIntegerField(default=0)
    sells = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["mint", "minute"], name="one_candle_per_minute")]


class Holding(models.Model):
    """A wallet's net tokens of a coin from the trades the stream saw (buys minus sells)."""

    class Role(models.IntegerChoices):
        TRADER = 0
        DEVELOPER = 1
        BUNDLED = 2  # bought in the create transaction or its slot
        SNIPER = 3  # bought in the 2 slots after the create

    mint = models.CharField(max_length=44)
    wallet = models.CharField(max_length=44)
    tokens = models.BigIntegerField(default=0)
    role = models.PositiveSmallIntegerField(choices=Role.choices, default=Role.TRADER)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["mint", "wallet"], name="one_holding_per_wallet")]


class TradeStream(models.Model):
    """One row: where the program stream stands, so a restart fills its gap (or records it)."""

    last_signature = models.CharField(max_length=88, blank=True)
    amm_last_signature = models.CharField(
        max_length=88, blank=True, help_text="PumpSwap's stream (FOLLOW_PUMPSWAP): the last transaction handled"
    )
    last_seen_at = models.DateTimeField(null=True)
    covered_since = models.DateTimeField(null=True, help_text="Every trade from this moment on was seen")
    trades = models.BigIntegerField(default=0)
    gaps = models.PositiveIntegerField(default=0, help_text="Gaps too long to fill")
    last_gap = models.CharField(max_length=300, blank=True)


class BoardCursor(models.Model):
    """One row: the cursor of the newest stored batch. Pages catch up with `/api/changes/?after=<cursor>`."""

    value = models.BigIntegerField(default=0)


class BotSettings(SingletonModel):
    historical_batch_size = models.PositiveIntegerField(
        "batch size",
        default=10,
        validators=[MinValueValidator(MIN_BATCH_SIZE), MaxValueValidator(MAX_BATCH_SIZE)],
        help_text=f"Tokens per batch ({MIN_BATCH_SIZE}-{MAX_BATCH_SIZE}). "
        "The HISTORICAL_BATCH_SIZE environment variable overrides it.",
    )
    adaptive_batch_size = models.BooleanField(
        default=False,
        help_text="Start with a small batch for a fast first paint, then grow batches up to the batch size "
        "while each stays under the time budget",
    )
    batch_time_budget_ms = models.PositiveIntegerField(
        default=500,
        validators=[MinValueValidator(50), MaxValueValidator(60_000)],
        help_text="Adaptive batches: the time one batch may take to process, store and broadcast",
    )
    upstream = models.CharField(
        max_length=5,
        choices=Upstream.choices,
        default=Upstream.AUTO,
        help_text="Where runs read launches from, unless a run says otherwise",
    )
    token_age_filter = models.CharField(max_length=20, choices=AgeFilter.choices, default=AgeFilter.LAST_7_DAYS)
    custom_days = models.PositiveIntegerField(
        default=7,
        validators=[MinValueValidator(MIN_DAYS), MaxValueValidator(MAX_DAYS)],
        help_text="Window length when the age filter is 'custom days'",
    )
    min_usd_market_cap = models.FloatField(
        "minimum market cap (USD)",
        null=True,
        blank=True,
        validators=[MinValueValidator(0), MaxValueValidator(MAX_USD)],
        help_text="Empty: off",
    )
    max_usd_market_cap = models.FloatField(
        "maximum market cap (USD)",
        null=True,
        blank=True,
        validators=[MinValueValidator(0), MaxValueValidator(MAX_USD)],
        help_text="Empty: off",
    )
    min_holders = models.PositiveIntegerField(
        "minimum holders",
        null=True,
        blank=True,
        validators=[MaxValueValidator(MAX_HOLDERS)],
        help_text="Empty: off. Needs holder counts (SOLANA_RPC_URL)",
    )
    min_liquidity_sol = models.FloatField(
        "minimum liquidity (SOL)",
        null=True,
        blank=True,
        validators=[MinValueValidator(0), MaxValueValidator(MAX_SOL)],
        help_text="Real SOL in the curve, or twice the quote side of a graduated coin's pool. Empty: off",
    )
    include_nsfw = models.BooleanField("show NSFW tokens", default=True)
    include_pump_only = models.BooleanField(
        "show tokens still on their bonding curve",
        default=True,
        help_text="Off: graduated tokens only",
    )
    live_refresh_count = models.PositiveIntegerField(
        default=300,
        validators=[MinValueValidator(0), MaxValueValidator(5_000)],
        help_text="Live market caps: how many of the newest tokens have their bonding curve re-read (0: off)",
    )
    live_pool_count = models.PositiveIntegerField(
        default=250,
        validators=[MinValueValidator(0), MaxValueValidator(5_000)],
        help_text="Live market caps: how many graduated tokens (newest graduations first) have their PumpSwap pool "
        "re-read, 50 a call (0: off)",
    )
    live_refresh_seconds = models.PositiveIntegerField(
        default=10,
        validators=[MinValueValidator(2), MaxValueValidator(3600)],
        help_text="Live market caps: seconds between re-reads",
    )
    tail_interval_seconds = models.PositiveIntegerField(
        default=5,
        validators=[MinValueValidator(1), MaxValueValidator(3600)],
        help_text="Live tail: seconds between polls of the newest launches",
    )
    trending_first = models.BooleanField(
        default=False, help_text="Hybrid source: load trending coins before the rest of the history"
    )
    trending_limit = models.PositiveIntegerField(
        default=200,
        validators=[MinValueValidator(1), MaxValueValidator(10_000)],
        help_text="Most trending tokens a run takes",
    )
    blocklist = models.TextField(
        blank=True, help_text="Words, one per line; a token whose name or symbol contains one is rejected"
    )

    class Meta:
        verbose_name = "bot settings"

    def __str__(self) -> str:
        return "Bot settings"

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        low, high = self.min_usd_market_cap, self.max_usd_market_cap
        if low is not None and high is not None and low > high:
            raise ValidationError({"max_usd_market_cap": "must not be below the minimum market cap"})

    def blocklist_terms(self) -> list[str]:
        return [line.strip().lower() for line in self.blocklist.splitlines() if line.strip()]
