"""The OpenAPI 3.1 description of the JSON API, served at `GET /api/openapi.json`.

Written by hand, next to the views, from the same constants they use (sorts, stages, limits,
choices): the API is a handful of read-only views over `tokens.live.messages` payloads, with no
serializer layer a generator could read, so a generator would describe less than this does. Two
tests keep it true: every shape is closed (`additionalProperties: false`, every field required), and
real answers from a loaded board are checked against it (tests/board/test_openapi.py); a
schemathesis run against a live server holds the views to it with generated requests.
"""

from typing import Any

from tokens.age_filters import AgeFilter
from tokens.models import LoadRun, Source, Upstream
from tokens.store.board_query import MAX_TEXT, SORTS, STAGES
from tokens.store.selectors import CATCH_UP_ROWS, COUNT_CAP, MAX_API_LIMIT, PAGE_SIZE

VERSION = "1.0.0"
MINT_PATTERN = "^[1-9A-HJ-NP-Za-km-z]{32,44}$"  # base58, as every Solana address
LARGEST_RUN_ID = 2**63 - 1  # a BIGINT primary key's largest (a larger id is simply no run)


def description() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "pump.fun board",
            "version": VERSION,
            "summary": "Tokens launched on pump.fun as this board stored them, and the runs that loaded them.",
            "description": (
                "Read-only. Anonymous readers are limited per address (HTTP 429 with Retry-After); staff "
                "signed in through the admin are not. Unknown figures are null, never zero. Times are "
                "milliseconds since the epoch (`created_timestamp`) or ISO 8601 with a zone."
            ),
        },
        "servers": [{"url": "/"}],
        "paths": {
            "/api/tokens/": {"get": _tokens_operation()},
            "/api/changes/": {"get": _changes_operation()},
            "/api/tokens/{mint}/": {"get": _token_operation()},
            "/api/tokens/{mint}/trades/": {"get": _trades_operation()},
            "/api/tokens/{mint}/candles/": {"get": _candles_operation()},
            "/api/runs/": {"get": _runs_operation()},
            "/api/runs/{run_id}/": {"get": _run_operation()},
            "/api/openapi.json": {"get": _self_operation()},
        },
        "components": {
            "schemas": {
                "Token": _token_schema(),
                "TokenPage": _token_page_schema(),
                "CatchUp": _catch_up_schema(),
                "TradePage": _trade_page_schema(),
                "Candles": _candles_schema(),
                "Run": _run_schema(),
                "RunList": _closed({"runs": {"type": "array", "items": _ref("Run")}}),
                "Progress": _progress_schema(),
                "Error": _closed({"error": {"type": "string", "description": "What was wrong, naming the parameter"}}),
            },
            "responses": {
                "BadRequest": _json_response("A parameter the API cannot use; nothing changed", "Error"),
                "TooManyRequests": {
                    "description": "Over the per-address limit; ask again after Retry-After seconds",
                    "headers": {"Retry-After": {"schema": {"type": "string", "pattern": "^[0-9]+$"}}},
                    "content": {"application/json": {"schema": _ref("Error")}},
                },
            },
        },
    }


def _tokens_operation() -> dict[str, Any]:
    return {
        "operationId": "listTokens",
        "summary": "The board's tokens, with the page's filters and sort",
        "description": (
            "A page of the board (`TokenPage`), paged by `cursor` (keyset: new launches at the head "
            "never shift a page) or `offset`; with `format=csv`, every matching row as CSV. The page "
            "and this API take the same parameters, so a view can be shared as a link."
        ),
        "parameters": [
            _query("q", {"type": "string", "maxLength": MAX_TEXT}, "Text in the name, symbol or mint"),
            _query("min_usd_market_cap", _decimal(), "Market cap at least this many USD"),
            _query("max_usd_market_cap", _decimal(), "Market cap at most this many USD"),
            _query("min_holders", {"type": "string", "pattern": "^[0-9]{1,12}$"}, "At least this many holders"),
            _query("min_progress", _decimal(), "Bonding progress at least this % (0-100); graduated tokens pass"),
            _query("stage", {"type": "string", "enum": list(STAGES)}, "new, graduating (80 % or more) or graduated"),
            _query("complete", _yes_no(), "Graduated from the bonding curve or not"),
            _query("socials", _yes_no(), "Only tokens with an X, Telegram or website link"),
            _query("max_age", {"type": "string", "pattern": "^[0-9]{1,5}[mhd]$"}, "Age at most: 30m, 6h, 7d; not 0"),
            _query("since", {"type": "string"}, "Launched at or after: ISO 8601, or milliseconds since the epoch"),
            _query("until", {"type": "string"}, "Launched before: ISO 8601, or milliseconds since the epoch"),
            _query("min_volume_5m", _decimal(), "Traded in the last 5 minutes at least this many USD"),
            _query(
                "min_buys_5m", {"type": "string", "pattern": "^[0-9]{1,12}$"}, "At least this many buys in 5 minutes"
            ),
            _query("max_dev_pct", _decimal(), "The developer holds at most this % of supply (0-100)"),
            _query("dev_sold", _yes_no(), "The developer sold (as the stream saw) or not"),
            _query("max_top10_pct", _decimal(), "The 10 largest holders hold at most this % (0-100)"),
            _query("max_snipers_pct", _decimal(), "Snipers hold at most this % (0-100)"),
            _query("max_bundled_pct", _decimal(), "Bundled buyers hold at most this % (0-100)"),
            _query("sort", {"type": "string", "enum": _sorts()}, "Sort column; a leading - sorts descending"),
            _query("limit", {"type": "integer", "minimum": 1, "maximum": MAX_API_LIMIT}, f"Rows ({PAGE_SIZE})"),
            _query("offset", {"type": "integer", "minimum": 0, "maximum": 10**9}, "Rows to skip"),
            _query("cursor", {"type": "string"}, "`next_cursor` of the page before, with the same sort"),
            _query("format", {"type": "string", "enum": ["json", "csv"]}, "csv downloads every matching row"),
            {**_query("after", {"type": "string"}, "Moved: a catch-up is asked at /api/changes/"), "deprecated": True},
        ],
        "responses": {
            "200": {
                "description": "A page of the board, or a CSV download",
                "content": {
                    "application/json": {"schema": _ref("TokenPage")},
                    "text/csv": {"schema": {"type": "string"}},
                },
            },
            "308": {
                "description": "Asked with `after`: the same query at /api/changes/, where catch-ups are answered",
                "headers": {"Location": {"required": True, "schema": {"type": "string"}}},
            },
            "400": {"$ref": "#/components/responses/BadRequest"},
            "429": {"$ref": "#/components/responses/TooManyRequests"},
        },
    }


def _changes_operation() -> dict[str, Any]:
    return {
        "operationId": "listChanges",
        "summary": "What changed on the board after a board cursor",
        "description": (
            "Every batch, detail update and filter change takes a new board cursor (live messages "
            "carry it). A page that missed messages asks here from the last cursor it has: `tokens` "
            "are changed rows on the board, `removed` are mints taken off it, in (cursor, mint) order, "
            f"at most {CATCH_UP_ROWS} an answer. While `more` is true, ask again with "
            "`after=next_after&after_mint=next_after_mint`; `cursor` is where the page now stands."
        ),
        "parameters": [
            _query("after", {"type": "integer", "minimum": 0, "maximum": 2**62}, "A board cursor (0: from the start)"),
            _query(
                "after_mint",
                {"type": "string", "pattern": "^[0-9A-Za-z]{0,44}$"},
                "`next_after_mint` of the answer before (a position inside one cursor's rows)",
            ),
        ],
        "responses": {
            "200": _json_response("The changes", "CatchUp"),
            "400": {"$ref": "#/components/responses/BadRequest"},
            "429": {"$ref": "#/components/responses/TooManyRequests"},
        },
    }


def _token_operation() -> dict[str, Any]:
    return {
        "operationId": "getToken",
        "summary": "One stored token, whole (description, creator, links)",
        "parameters": [
            {"name": "mint", "in": "path", "required": True, "schema": {"type": "string", "pattern": MINT_PATTERN}}
        ],
        "responses": {
            "200": _json_response("The token", "Token"),
            "404": _json_response("No stored token has that mint", "Error"),
            "429": {"$ref": "#/components/responses/TooManyRequests"},
        },
    }


def _mint_parameter() -> dict[str, Any]:
    return {"name": "mint", "in": "path", "required": True, "schema": {"type": "string", "pattern": MINT_PATTERN}}


def _trades_operation() -> dict[str, Any]:
    return {
        "operationId": "listTrades",
        "summary": "The token's trades the stream saw, newest first (kept TRADE_RETENTION_HOURS)",
        "parameters": [
            _mint_parameter(),
            _query("limit", {"type": "integer", "minimum": 1, "maximum": 200}, "Trades (50)"),
            _query(
                "cursor",
                {"type": "string", "pattern": "^[0-9]{1,18}[.][0-9]{1,19}$"},
                "`next_cursor` of the page before",
            ),
        ],
        "responses": {
            "200": _json_response("A page of trades", "TradePage"),
            "400": {"$ref": "#/components/responses/BadRequest"},
            "404": _json_response("No stored token has that mint", "Error"),
            "429": {"$ref": "#/components/responses/TooManyRequests"},
        },
    }


def _candles_operation() -> dict[str, Any]:
    return {
        "operationId": "listCandles",
        "summary": "The token's 1-minute candles, oldest first (kept CANDLE_RETENTION_DAYS)",
        "parameters": [
            _mint_parameter(),
            _query("interval", {"type": "string", "enum": ["1m"]}, "Candle length; 1m is the one kept"),
            _query("limit", {"type": "integer", "minimum": 1, "maximum": 1440}, "The newest this many (360)"),
        ],
        "responses": {
            "200": _json_response("The candles", "Candles"),
            "400": {"$ref": "#/components/responses/BadRequest"},
            "404": _json_response("No stored token has that mint", "Error"),
            "429": {"$ref": "#/components/responses/TooManyRequests"},
        },
    }


def _trade_page_schema() -> dict[str, Any]:
    quote = {"type": "string", "enum": ["SOL", "USDC"], "description": "What the coin is priced in"}
    trade = _closed(
        {
            "signature": {"type": "string", "description": "The transaction"},
            "position": {"type": "integer", "minimum": 0, "description": "The trade's place among its transaction's"},
            "time": {"type": "string", "format": "date-time"},
            "side": {"type": "string", "enum": ["buy", "sell"]},
            "trader": {"type": "string", "description": "The wallet that traded"},
            "token_amount": {"type": "number", "minimum": 0, "description": "Tokens (6 decimals applied)"},
            "quote_amount": {"type": "number", "minimum": 0, "description": "SOL or USDC paid or received"},
            "usd_value": _nullable("number", "In USD at the trade (null without a SOL/USD price)"),
            "price": {"type": "number", "description": "Quote per token after the trade"},
            "usd_market_cap": _nullable("number", "Market cap after the trade, USD"),
        }
    )
    return _closed(
        {
            "mint": {"type": "string", "pattern": MINT_PATTERN},
            "quote": quote,
            "trades_since": _nullable("string", "Trades are complete from this moment on", format="date-time"),
            "next_cursor": _nullable("string", "Give as `cursor` for older trades; null on the last page"),
            "trades": {"type": "array", "items": trade},
        }
    )


def _candles_schema() -> dict[str, Any]:
    price = {"type": "number", "description": "Quote per token"}
    candle = _closed(
        {
            "time": {"type": "integer", "description": "The minute's start, seconds since the epoch"},
            "open": price,
            "high": price,
            "low": price,
            "close": price,
            "volume_usd": _nullable("number", "Traded in the minute, USD"),
            "volume_quote": {"type": "number", "minimum": 0, "description": "Traded in the minute, in the quote"},
            "buys": {"type": "integer", "minimum": 0},
            "sells": {"type": "integer", "minimum": 0},
        }
    )
    return _closed(
        {
            "mint": {"type": "string", "pattern": MINT_PATTERN},
            "interval": {"type": "string", "enum": ["1m"]},
            "quote": {"type": "string", "enum": ["SOL", "USDC"]},
            "trades_since": _nullable("string", "Candles are complete from this moment on", format="date-time"),
            "candles": {"type": "array", "items": candle},
        }
    )


def _runs_operation() -> dict[str, Any]:
    return {
        "operationId": "listRuns",
        "summary": "The 50 latest runs, newest first",
        "responses": {
            "200": _json_response("Runs with their progress", "RunList"),
            "429": {"$ref": "#/components/responses/TooManyRequests"},
        },
    }


def _run_operation() -> dict[str, Any]:
    return {
        "operationId": "getRun",
        "summary": "One run with its progress",
        "parameters": [
            {
                "name": "run_id",
                "in": "path",
                "required": True,
                "schema": {"type": "integer", "minimum": 1, "maximum": LARGEST_RUN_ID},
            }
        ],
        "responses": {
            "200": _json_response("The run", "Run"),
            "404": _json_response("No run has that id", "Error"),
            "429": {"$ref": "#/components/responses/TooManyRequests"},
        },
    }


def _self_operation() -> dict[str, Any]:
    return {
        "operationId": "describeApi",
        "summary": "This description",
        "responses": {
            "200": {"description": "OpenAPI 3.1", "content": {"application/json": {"schema": {}}}},
            "429": {"$ref": "#/components/responses/TooManyRequests"},
        },
    }


def _token_schema() -> dict[str, Any]:
    text = {"type": "string"}
    link = {"type": "string", "description": "An http(s) link, or empty"}
    return _closed(
        {
            "mint": {"type": "string", "pattern": MINT_PATTERN},
            "name": text,
            "symbol": text,
            "description": text,
            "image_uri": link,
            "creator": {"type": "string", "description": "The creator's address, or empty when unknown"},
            "created_timestamp": {"type": "integer", "description": "Launch time, milliseconds since the epoch"},
            "market_cap_sol": _nullable("number", "Market cap in SOL"),
            "usd_market_cap": _nullable("number", "Market cap in USD"),
            "liquidity_sol": _nullable(
                "number", "Liquidity in SOL: the SOL the curve holds; once migrated, twice the pool's quote side"
            ),
            "liquidity_usd": _nullable("number", "The same liquidity in USD"),
            "price_usd": _nullable("number", "One token in USD: from the curve, or from the pool once migrated"),
            "holders": _nullable("integer", "Wallets holding it (curve and pool accounts excluded)", minimum=0),
            "reply_count": _nullable("integer", "Replies on pump.fun (web API only)", minimum=0),
            "bonding_progress": _nullable("number", "Bonding-curve progress, %", minimum=0, maximum=100),
            "complete": {"type": "boolean", "description": "Graduated from the bonding curve"},
            "graduated_at": _nullable("string", "When the curve completed", format="date-time"),
            "migrated_at": _nullable("string", "When the liquidity moved to the PumpSwap pool", format="date-time"),
            "pool": {"type": "string", "description": "The canonical PumpSwap pool once found, or empty"},
            "pool_status": {
                "type": "string",
                "enum": ["", "migrating", "priced", "unreadable"],
                "description": "Graduated coins: migrating (no pool yet), priced from the pool, or the pool could "
                "not be read (price unknown); empty on the curve or not read yet",
            },
            "nsfw": {"type": "boolean"},
            "twitter": link,
            "telegram": link,
            "website": link,
            "sources": {
                "type": "array",
                "items": {"type": "string", "enum": [Source.RECENT.value, Source.TRENDING.value]},
                "description": "The lists it was seen in",
            },
            "pending": {"type": "boolean", "description": "Details (holders, metadata, market cap) still coming"},
            "quote": {"type": "string", "enum": ["", "SOL", "USDC"], "description": "The curve's quote, when known"},
            "signature": {"type": "string", "description": "The launch transaction, when read from the chain"},
            "first_seen_by": {"type": "string", "description": "The launch source that delivered it first"},
            "details_updated_at": _nullable("string", "When a detail last changed", format="date-time"),
            **_trade_figures_schema(),
        }
    )


def _trade_figures_schema() -> dict[str, Any]:
    """The trade stream's figures: each null while unknown; `trades_since` says what they cover."""
    usd, count, percent = "number", "integer", "number"
    return {
        "volume_5m_usd": _nullable(usd, "Traded in the last 5 minutes, USD (the trades since `trades_since`)"),
        "volume_1h_usd": _nullable(usd, "Traded in the last hour, USD"),
        "volume_24h_usd": _nullable(usd, "Traded in the last 24 hours, USD"),
        "net_flow_5m_usd": _nullable(usd, "Bought minus sold in the last 5 minutes, USD"),
        "buys_5m": _nullable(count, "Buys in the last 5 minutes", minimum=0),
        "sells_5m": _nullable(count, "Sells in the last 5 minutes", minimum=0),
        "traders_5m": _nullable(count, "Distinct wallets trading in the last 5 minutes", minimum=0),
        "price_change_5m": _nullable(percent, "Price change over 5 minutes, %; null when the stream did not "
                                     "see the whole window"),
        "price_change_1h": _nullable(percent, "Price change over 1 hour, %"),
        "ath_usd_market_cap": _nullable(usd, "Highest market cap after a trade the stream saw, USD"),
        "last_trade_at": _nullable("string", "The newest trade the stream saw", format="date-time"),
        "dev_holding_pct": _nullable(percent, "The developer's holding, % of supply (coins whose whole trading "
                                     "life the stream saw)"),
        "dev_sold_at": _nullable("string", "The developer's first sale the stream saw", format="date-time"),
        "dev_sold_pct": _nullable(percent, "What the developer sold, % of supply"),
        "snipers_pct": _nullable(percent, "Held by wallets that bought in the 2 slots after the create, %"),
        "bundled_pct": _nullable(percent, "Held by wallets that bought in the create's slot, developer apart, %"),
        "top10_pct": _nullable(percent, "Held by the 10 largest holders, % (curve and pool accounts excluded)"),
        "trades_since": _nullable("string", "The trade figures cover the trades from this moment on; at "
                                  "`created_timestamp` the coin's whole life", format="date-time"),
    }  # fmt: skip


def _token_page_schema() -> dict[str, Any]:
    return _closed(
        {
            "count": {
                "type": "integer",
                "minimum": 0,
                "maximum": COUNT_CAP,
                "description": f"Tokens in the view, all pages; at most {COUNT_CAP:,} (then count_exact is false)",
            },
            "count_exact": {"type": "boolean", "description": "False: the view holds more than `count` tokens"},
            "sort": {"type": "string", "enum": _sorts()},
            "filters": {
                "type": "object",
                "additionalProperties": {"type": "string"},
                "description": "The filters as given",
            },
            "offset": {"type": "integer", "minimum": 0},
            "limit": {"type": "integer", "minimum": 1, "maximum": MAX_API_LIMIT},
            "next_cursor": _nullable("string", "Give as `cursor` for the next page; null on the last"),
            "next_offset": _nullable("integer", "Give as `offset` for the next page (offset paging only)"),
            "tokens": {"type": "array", "items": _ref("Token")},
        }
    )


def _catch_up_schema() -> dict[str, Any]:
    return _closed(
        {
            "after": {"type": "integer", "minimum": 0},
            "cursor": {"type": "integer", "description": "Every change up to this board cursor is answered"},
            "more": {"type": "boolean", "description": "Ask again with next_after and next_after_mint"},
            "next_after": _nullable("integer", "With more: `after` for the next answer"),
            "next_after_mint": _nullable("string", "With more: `after_mint` for the next answer"),
            "tokens": {"type": "array", "items": _ref("Token"), "description": "Changed tokens on the board"},
            "removed": {"type": "array", "items": {"type": "string"}, "description": "Mints taken off the board"},
        }
    )


def _run_schema() -> dict[str, Any]:
    moment = {"type": ["string", "null"], "format": "date-time"}
    schema = _closed(
        {
            "run_id": {"type": "integer", "minimum": 1},
            "status": {"type": "string", "enum": list(LoadRun.Status.values)},
            "source": {"type": "string", "enum": list(Source.values)},
            "source_label": {"type": "string"},
            "upstream": {"type": "string", "enum": [Upstream.CHAIN.value, Upstream.API.value]},
            "upstream_label": {"type": "string"},
            "days": {"type": "number", "exclusiveMinimum": 0},
            "window": {"type": "string", "description": "The age window in words"},
            "age_filter": {"type": "string", "enum": ["", *AgeFilter.values]},
            "batch_size": {"type": "integer", "minimum": 1},
            "origin": {"type": "string", "enum": list(LoadRun.Origin.values)},
            "created_at": moment,
            "started_at": moment,
            "finished_at": moment,
            "error": {"type": "string"},
            "warning": {"type": "string", "description": "What the run could not do, though it finished"},
            "retrying": {"type": "string", "description": "An upstream call being retried now"},
            "degraded": {"type": "string", "description": "A background stage of its process that is down now"},
            "resumable": {"type": "boolean"},
            "follow": {"type": "boolean"},
            "following": {"type": "boolean", "description": "Backfill done, following new launches"},
            "resumes": {"type": "integer", "minimum": 0},
            "first_seen": {
                "type": "object",
                "additionalProperties": {"type": "integer", "minimum": 0},
                "description": "Launches each source delivered first, by source name",
            },
            "duration_seconds": _nullable("integer", "Seconds since it started, until it finished"),
            "progress": _ref("Progress"),
            "executed_by": {"type": "string", "description": "host:pid of its process; staff only"},
        }
    )
    schema["required"].remove("executed_by")
    return schema


def _progress_schema() -> dict[str, Any]:
    count = {"type": "integer", "minimum": 0}
    counts = ("processed", "accepted", "rejected", "invalid", "failed", "holder_errors", "metadata_errors")
    return _closed(
        {
            **dict.fromkeys(counts, count),
            "estimated_total": _nullable("integer", "Launches the window is expected to hold", minimum=0),
            "percent": _nullable("number", "Of the estimated total; null while unknown", minimum=0, maximum=100),
            "details_queued": count,
            "details_done": count,
            "batches": count,
        }
    )


def _sorts() -> list[str]:
    return [prefix + name for name in SORTS for prefix in ("", "-")]


def _decimal() -> dict[str, Any]:
    return {"type": "string", "pattern": r"^[0-9]{1,15}(\.[0-9]{1,6})?$"}


def _yes_no() -> dict[str, Any]:
    return {"type": "string", "enum": ["true", "false", "1", "0", "yes", "no"]}


def _query(name: str, schema: dict[str, Any], text: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": text}


def _nullable(kind: str, text: str, **bounds: Any) -> dict[str, Any]:
    return {"type": [kind, "null"], "description": text, **bounds}


def _closed(properties: dict[str, Any]) -> dict[str, Any]:
    """Every field required and no other allowed: a field added to a payload and not here fails the
    schema test, so the description cannot fall behind the views."""
    return {"type": "object", "properties": properties, "required": list(properties), "additionalProperties": False}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json_response(text: str, schema: str) -> dict[str, Any]:
    return {"description": text, "content": {"application/json": {"schema": _ref(schema)}}}
