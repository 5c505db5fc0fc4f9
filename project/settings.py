"""Settings for the pump.fun history loader; everything deploy-specific comes from the environment."""

from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from project.env import env_bool, env_int, env_list, env_number, env_ports, env_str, env_url

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env_bool("DEBUG", False)

_DEVELOPMENT_KEY = "django-insecure-development-key-for-debug-only"
SECRET_KEY = env_str("SECRET_KEY")
if not DEBUG and (len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5 or SECRET_KEY.startswith("django-insecure")):
    raise ImproperlyConfigured(
        "With DEBUG off, SECRET_KEY must come from the environment: at least 50 random characters "
        "(python -c 'import secrets; print(secrets.token_urlsafe(50))')"
    )
# Only ever used with DEBUG on, on a developer's own machine.
SECRET_KEY = SECRET_KEY or _DEVELOPMENT_KEY

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

# HTTPS hardening is on whenever DEBUG is off; each switch can be turned off for a plain-HTTP setup.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", not DEBUG)
if env_bool("SECURE_PROXY_SSL_HEADER", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_HTTPONLY = True

INSTALLED_APPS = [
    # daphne must precede staticfiles so that `runserver` is the ASGI one.
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "solo",
    "tokens",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "project.headers.security_headers",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "tokens.board.throttle.api_rate_limit",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "project.urls"
ASGI_APPLICATION = "project.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]


def _database_from_env() -> dict:
    default_url = f"sqlite:///{BASE_DIR / 'db.sqlite3'}"
    database = dj_database_url.config(default=default_url, conn_max_age=0)
    if database["ENGINE"] == "django.db.backends.sqlite3":
        # WAL lets the page read while a batch is written; IMMEDIATE takes the write lock at
        # BEGIN so two writers queue instead of failing with "database is locked" mid-transaction.
        database.setdefault("OPTIONS", {}).update(
            {
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
            }
        )
    elif database["ENGINE"] == "django.db.backends.postgresql":
        options = database.setdefault("OPTIONS", {})
        # A frozen or dead client's open transaction must not hold its row locks for ever.
        idle_ms = env_int("DB_IDLE_TRANSACTION_TIMEOUT_MS", 60_000, minimum=100)
        options["options"] = f"-c idle_in_transaction_session_timeout={idle_ms}"
        if env_bool("DB_POOL", True):
            # Django's psycopg pool: a request borrows a connection instead of opening one (each new
            # PostgreSQL session cost more than the request it served).
            options["pool"] = {"min_size": 2, "max_size": env_int("DB_POOL_MAX", 20, minimum=1), "timeout": 10}
    return database


DATABASES = {"default": _database_from_env()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                "hosts": [
                    {
                        "address": REDIS_URL,
                        # redis-py 8's async pool defaults to 100 connections, which about 100
                        # connected pages exhaust (MaxConnectionsError at group_add); they open as needed.
                        "max_connections": env_int("REDIS_MAX_CONNECTIONS", 4096, minimum=1),
                        # redis-py 8 reads with a 5 s socket timeout, exactly channels_redis's 5 s
                        # BZPOPMIN wait: an idle consumer then dies with "Timeout reading from".
                        "socket_timeout": 15,
                    }
                ],
                "capacity": 200,
            },
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# Answers of the token API kept for API_CACHE_SECONDS (tokens/board/page_cache.py): in this process's
# memory on the embedded default, in Redis (shared by every web process) with REDIS_URL.
# Per-address limits (tokens/board/throttle.py) count in Redis, shared by the web processes, with
# REDIS_URL; in this process's memory otherwise.
LIMITS_STORAGE_URI = REDIS_URL or "memory://"
API_CACHE_SECONDS = env_number("API_CACHE_SECONDS", 1.0)
API_CACHE_MAX_BYTES = env_int("API_CACHE_MAX_BYTES", 64 * 1024, minimum=0)
# Seconds the answer cache and the limits store may take to answer: a Redis that accepts and never
# answers costs a request this, not redis-py's 5 s (and the store is skipped while it is down).
SHARED_STORE_TIMEOUT = env_number("SHARED_STORE_TIMEOUT", 0.5)
_API_CACHE = (
    {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL, "KEY_PREFIX": "board-api",
     "OPTIONS": {"socket_timeout": SHARED_STORE_TIMEOUT, "socket_connect_timeout": SHARED_STORE_TIMEOUT}}
    if REDIS_URL
    else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "board-api",
          "OPTIONS": {"MAX_ENTRIES": env_int("API_CACHE_ENTRIES", 256, minimum=1)}}
)  # fmt: skip
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "default"},
    "api": {**_API_CACHE, "TIMEOUT": API_CACHE_SECONDS},
}

# With a shared layer, runs are handed to `manage.py runworker token-loader` processes instead of
# running inside the web process that received the request.
LOADER_WORKERS = env_bool("LOADER_WORKERS", bool(REDIS_URL))
if LOADER_WORKERS and not REDIS_URL:
    raise ImproperlyConfigured("LOADER_WORKERS needs REDIS_URL: workers receive runs over the channel layer")
# The always-on feed of new launches: "web" runs it inside the web server (the embedded default's
# in-memory layer reaches only that process's pages; `make run` sets it), "off" leaves it to
# `manage.py follow_launches` as its own process (production, with a shared layer).
FOLLOW_LAUNCHES = env_str("FOLLOW_LAUNCHES", "off")
if FOLLOW_LAUNCHES not in ("web", "off"):
    raise ImproperlyConfigured(f"FOLLOW_LAUNCHES must be web or off, got {FOLLOW_LAUNCHES!r}")
if FOLLOW_LAUNCHES == "web" and LOADER_WORKERS:
    raise ImproperlyConfigured("FOLLOW_LAUNCHES=web is for one web process; with workers run manage.py follow_launches")
# How far back the feed's first start reaches, so a new board is not empty (minutes).
FOLLOW_BACKFILL_MINUTES = env_int("FOLLOW_BACKFILL_MINUTES", 60, minimum=1)
# Abuse limits: open board websockets per client address (per process), anonymous API requests per
# client address and minute, failed admin logins per address and username before a 15-minute pause
# (those two shared by every web process with Redis).
WS_MAX_PER_IP = env_int("WS_MAX_PER_IP", 20, minimum=1)
API_REQUESTS_PER_MINUTE = env_int("API_REQUESTS_PER_MINUTE", 600, minimum=1)
LOGIN_FAILURES_ALLOWED = env_int("LOGIN_FAILURES_ALLOWED", 5, minimum=1)
# Loader workers: how often one looks at the queue (a channel-layer wake-up comes sooner), how many
# runs one executes at once, how many times a run whose executor died is taken over automatically.
WORKER_POLL_SECONDS = env_number("WORKER_POLL_SECONDS", 2.0, minimum=0.05)
WORKER_MAX_RUNS = env_int("WORKER_MAX_RUNS", 4, minimum=1)
MAX_AUTO_RESUMES = env_int("MAX_AUTO_RESUMES", 3, minimum=0)
# A queued run that no worker has claimed after this long is shown as interrupted.
RUN_QUEUE_TIMEOUT = env_number("RUN_QUEUE_TIMEOUT", 120.0, minimum=1)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT") or BASE_DIR / "staticfiles")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

LOGIN_URL = "admin:login"

# Upstreams. The loader reads these at the start of each run.
PUMPFUN_API_URL = env_url("PUMPFUN_API_URL", "https://frontend-api-v3.pump.fun")
SOLANA_RPC_URL = env_url("SOLANA_RPC_URL")
# The RPC's websocket for the live tail; by default SOLANA_RPC_URL with http -> ws, https -> wss.
SOLANA_WS_URL = env_url("SOLANA_WS_URL", schemes=("ws", "wss"))
# getTransaction calls per JSON-RPC batch array (providers take 20-1,000; some take none).
SOLANA_RPC_BATCH_SIZE = env_int("SOLANA_RPC_BATCH_SIZE", 100, minimum=1)
PYTH_SOL_USD_ACCOUNT = env_str("PYTH_SOL_USD_ACCOUNT", "7UVimffxr9ow1uXYxsr4LHAcV58mLzhmwaeKvJ1pjLiE")
IPFS_GATEWAY = env_url("IPFS_GATEWAY", "https://pump.mypinata.cloud/ipfs/")
METADATA_CONCURRENCY = env_int("METADATA_CONCURRENCY", 8, minimum=1)
# Per-launch details a run fetches: holder counts (one DAS call per token, needs SOLANA_RPC_URL) and
# chain launches' metadata documents (one HTTP fetch per token).
COUNT_HOLDERS = env_bool("COUNT_HOLDERS", True)
# A detail whose fetch failed is tried again after this many seconds, doubled each time, three tries.
DETAIL_RETRY_WAIT = env_number("DETAIL_RETRY_WAIT", 5.0, minimum=0.001)
FETCH_METADATA = env_bool("FETCH_METADATA", True)
# A detail fetched this recently (seconds) is not fetched again when its token is stored again.
DETAIL_FRESH_SECONDS = env_number("DETAIL_FRESH_SECONDS", 300.0)
# Metadata URIs are chosen by launchers: private and loopback hosts are refused unless this is on.
METADATA_ALLOW_PRIVATE_HOSTS = env_bool("METADATA_ALLOW_PRIVATE_HOSTS", False)
# Ports a launcher's metadata link may use (the IPFS gateway's own port is always allowed).
METADATA_ALLOWED_PORTS = env_ports("METADATA_ALLOWED_PORTS", [80, 443])
UPSTREAM_TIMEOUT = env_number("UPSTREAM_TIMEOUT", 15.0, minimum=0.1)  # seconds per read (connect, each chunk)
# Seconds one upstream request may take in all, body included (a trickling server is cut off here).
UPSTREAM_DEADLINE = env_number("UPSTREAM_DEADLINE", 60.0, minimum=0.1)
# An upstream whose calls failed this many times in a row (each after its retries) is left alone for
# CIRCUIT_COOLDOWN seconds; what it would have filled stays unknown and is counted.
CIRCUIT_FAILURES = env_int("CIRCUIT_FAILURES", 5, minimum=1)
CIRCUIT_COOLDOWN = env_number("CIRCUIT_COOLDOWN", 30.0, minimum=0)
# pump.fun allows about 60 requests a minute per IP on /coins.
PUMPFUN_REQUESTS_PER_SECOND = env_number("PUMPFUN_REQUESTS_PER_SECOND", 1.0, minimum=0.01)
# Calls a second to SOLANA_RPC_URL, shared by the chain reader and holder counts (a batch array
# counts each call it holds).
SOLANA_RPC_REQUESTS_PER_SECOND = env_number("SOLANA_RPC_REQUESTS_PER_SECOND", 10.0, minimum=0.01)
# Where launches come from (tokens/sources/base.py's LaunchSource), by name: a run's upstream is
# chain or api; LIVE_SOURCES names more for the always-on feed's tail to merge in (pumpportal).
LAUNCH_SOURCES = {
    "chain": "tokens.sources.chain.launch_source.ChainLaunchSource",
    "api": "tokens.sources.pumpfun_api.launch_source.ApiLaunchSource",
    "pumpportal": "tokens.sources.pumpportal.launch_source.PumpPortalLaunchSource",
}
LIVE_SOURCES = env_list("LIVE_SOURCES", [])
if unknown := [name for name in LIVE_SOURCES if name not in LAUNCH_SOURCES]:
    raise ImproperlyConfigured(f"LIVE_SOURCES names no known source: {', '.join(unknown)}")
# Pages requested ahead of the one being processed (the request rate still applies).
PUMPFUN_PREFETCH_PAGES = env_int("PUMPFUN_PREFETCH_PAGES", 4, minimum=1)
UPSTREAM_RETRY_ATTEMPTS = env_int("UPSTREAM_RETRY_ATTEMPTS", 6, minimum=1)
UPSTREAM_RETRY_WAIT_INITIAL = env_number("UPSTREAM_RETRY_WAIT_INITIAL", 0.5)  # seconds, doubled per retry
UPSTREAM_RETRY_WAIT_MAX = env_number("UPSTREAM_RETRY_WAIT_MAX", 30.0)
UPSTREAM_RETRY_JITTER = env_number("UPSTREAM_RETRY_JITTER", 1.0)
# The trade stream (tokens/trades): the feed follows every pump program transaction over the RPC's
# websocket when there is an RPC. Trades are kept TRADE_RETENTION_HOURS, 1-minute candles
# CANDLE_RETENTION_DAYS; writes go in one transaction every TRADE_FLUSH_SECONDS (also the fastest a
# page hears trade figures move); after a dropped connection up to TRADE_GAP_MAX_TRANSACTIONS missed
# transactions are fetched, a longer gap is recorded.
FOLLOW_TRADES = env_bool("FOLLOW_TRADES", True)
TRADE_RETENTION_HOURS = env_number("TRADE_RETENTION_HOURS", 24.0, minimum=1)
CANDLE_RETENTION_DAYS = env_number("CANDLE_RETENTION_DAYS", 7.0, minimum=1)
TRADE_FLUSH_SECONDS = env_number("TRADE_FLUSH_SECONDS", 1.0, minimum=0.05)
TRADE_GAP_MAX_TRANSACTIONS = env_int("TRADE_GAP_MAX_TRANSACTIONS", 2_000, minimum=0)
# PumpSwap's own transactions too (a third subscription): graduated coins' trades move their prices
# and trade figures the moment they happen. Off by default: that program's volume is far larger
# than pump's, and the live refresh prices the graduated coins from their pools without it.
FOLLOW_PUMPSWAP = env_bool("FOLLOW_PUMPSWAP", False)
# A running run writes a heartbeat; one silent for this long is shown as interrupted.
RUN_STALE_AFTER = env_number("RUN_STALE_AFTER", 30.0, minimum=1)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "loggers": {
        "tokens": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO"), "propagate": False},
        "httpx": {"handlers": ["console"], "level": "WARNING", "propagate": False},
    },
}
