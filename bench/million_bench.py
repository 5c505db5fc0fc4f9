"""A million stored tokens: the board's first render and `GET /api/tokens/` for every sort and filter
the board offers, with and without a cursor, and the CSV of a large view (streamed: RSS growth).

The database of its own (PostgreSQL by default, `--sqlite` for the embedded one) is filled with
`--tokens` realistic rows: launch times over 30 days, market caps, holders, stages (about 1 % graduated,
with pools), trade figures on the newest tenth, replies on a fifth, a tenth off the board (the saved
filters'). Then the shipped views run in this process through
Django's test client (no network, no cache: every request reaches the database). Writes
bench/results/million[-sqlite].md.

    python bench/million_bench.py [--tokens 1000000] [--sqlite] [--repeat 5]
"""

import argparse
import hashlib
import json
import math
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from based58 import b58encode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from run_bench import save_report  # noqa: E402

PG_ADMIN = "postgres://postgres@127.0.0.1:5432/postgres"
PG_DB = "pumpfun_million"
SORTS = ("created", "usd_market_cap", "holders", "bonding_progress", "volume_5m", "buys_5m", "price_change_5m",
         "dev_holding_pct", "top10_pct", "snipers_pct", "symbol", "reply_count", "sells_5m")  # fmt: skip
FILTERS = {
    "none": "",
    "stage=new": "stage=new",
    "stage=graduating": "stage=graduating",
    "stage=graduated": "stage=graduated",
    "min_holders=50": "min_holders=50",
    "cap 20k-200k": "min_usd_market_cap=20000&max_usd_market_cap=200000",
    "max_age=1h": "max_age=1h",
    "socials": "socials=1",
    "min_volume_5m=1000": "min_volume_5m=1000",
    "dev_sold=no": "dev_sold=no",
    "q=pepe": "q=pepe",
    "q=<a mint's 8 characters> (rare)": "q={rare}",
    "q=<4 characters of a mint> (a handful of matches)": "q={rare4}",
    "q=qqqq (4 characters, in a few mints at most)": "q=qqqq",
    "q=pump (in every mint: the trigram question given up)": "q=pump",
    "stage=graduating&sort=-usd_market_cap": "stage=graduating&sort=-usd_market_cap",
    "stage=graduated&sort=-holders": "stage=graduated&sort=-holders",
}
DEEP = 300_000  # rows into the board for a cursor page deep down


# A standard SOL curve (UPSTREAM.md): k = 30 SOL x 1,073,000,000 tokens of virtual reserves, 793,100,000
# real tokens to sell, a supply of 1,000,000,000; its cap runs from ~27.96 SOL to ~410.9 SOL.
CURVE_K = 30 * 1_073_000_000
CURVE_START_CAP = CURVE_K * 1e9 / 1_073_000_000**2
CURVE_END_CAP = CURVE_K * 1e9 / (1_073_000_000 - 793_100_000) ** 2


def curve_progress(cap_sol: float) -> float:
    """The bonding progress (%) of a SOL curve whose market cap is `cap_sol`."""
    virtual_tokens = math.sqrt(CURVE_K * 1e9 / cap_sol)
    return round(min(99.9, max(0.0, 100 * (1_073_000_000 - virtual_tokens) / 793_100_000)), 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=1_000_000)
    parser.add_argument("--sqlite", action="store_true")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="reuse a filled database of the same size")
    parser.add_argument("--csv-only", default="", help=argparse.SUPPRESS)  # a fresh process: its RSS
    args = parser.parse_args()
    database = args.csv_only or _database(args)
    os.environ.update(DJANGO_SETTINGS_MODULE="project.settings", DEBUG="false", DATABASE_URL=database,
                      ALLOWED_HOSTS="testserver", SECRET_KEY="benchmark-only-" + "m1ll10n" * 8,
                      SECURE_SSL_REDIRECT="false", API_REQUESTS_PER_MINUTE="100000000")  # fmt: skip
    os.environ.pop("REDIS_URL", None)
    import django

    django.setup()
    from django.core.management import call_command

    if args.csv_only:
        print(json.dumps(csv_memory()))
        return
    call_command("migrate", "--noinput", verbosity=0)
    from tokens.models import Token

    started = time.perf_counter()
    if not (args.keep and Token.objects.count() == args.tokens):
        fill(args.tokens)
    filled = time.perf_counter() - started
    rows = measure(repeat=args.repeat)
    measured = subprocess.run(
        [sys.executable, __file__, "--csv-only", database], capture_output=True, text=True, check=True, env=os.environ
    )
    csv = json.loads(measured.stdout.strip().splitlines()[-1])
    report(args, rows, csv, filled=filled)


def _database(args) -> str:
    if args.sqlite:
        return f"sqlite:///{Path(tempfile.gettempdir()) / f'million-{args.tokens}.sqlite3'}"
    import psycopg

    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [PG_DB]).fetchone()
        if not exists:
            admin.execute(f"CREATE DATABASE {PG_DB}")
    return PG_ADMIN.rsplit("/", 1)[0] + "/" + PG_DB


def fill(count: int) -> None:
    """`count` tokens, newest a minute ago, oldest 30 days ago."""
    from django.db import connection

    from tokens.models import Token

    Token.objects.all().delete()
    rng = random.Random(19)
    now = datetime.now(tz=UTC)
    words = ("pepe", "doge", "cat", "moon", "frog", "trump", "ai", "wif", "bonk", "pump", "sol", "based")
    fields = ("mint", "name", "symbol", "created_at", "market_cap_sol", "usd_market_cap", "holders",
              "bonding_progress", "complete", "pool_status", "twitter", "volume_5m_usd", "buys_5m", "sells_5m",
              "price_change_5m", "dev_holding_pct", "dev_sold_at", "top10_pct", "snipers_pct", "trades_since",
              "first_seen_at", "last_seen_at", "passed_filters", "sources", "cursor", "quote",
              "reply_count")  # fmt: skip
    chunk: list[tuple] = []
    # Every other column at its model default (COPY and raw inserts skip Django's defaults).
    defaults = {}
    for model_field in Token._meta.concrete_fields:
        if model_field.primary_key or model_field.column in fields:
            continue
        value = model_field.get_default()
        defaults[model_field.column] = json.dumps(value) if isinstance(value, (list, dict)) else value
    columns = (*fields, *defaults)
    rest = tuple(defaults.values())

    def flush() -> None:
        _insert(connection, Token._meta.db_table, columns, [row + rest for row in chunk])
        chunk.clear()

    for i in range(count):
        created = now - timedelta(seconds=60 + (30 * 86_400) * i / count)
        graduated = rng.random() < 0.01
        if graduated:
            progress, cap_sol = 100.0, rng.lognormvariate(7, 1.2)
        else:  # on the curve, the cap and the progress are one quantity (tokens/sources/chain/curve.py)
            cap_sol = min(CURVE_END_CAP, max(CURVE_START_CAP, rng.lognormvariate(3.4, 0.6)))
            progress = curve_progress(cap_sol)
        recent = i < count // 10
        name = f"{rng.choice(words).title()} {rng.choice(words)} {i}"
        mint = b58encode(hashlib.sha256(i.to_bytes(8, "big")).digest()).decode()
        chunk.append((
            mint, name, name.split()[0][:6].upper(), created, cap_sol, cap_sol * 150.0,
            rng.randint(1, 400) if rng.random() < 0.9 else None, progress, graduated,
            "priced" if graduated else "", f"https://x.com/c{i}" if rng.random() < 0.3 else "",
            round(rng.expovariate(1 / 800), 2) if recent else None, rng.randint(0, 80) if recent else None,
            rng.randint(0, 40) if recent else None, round(rng.gauss(0, 30), 2) if recent else None,
            round(rng.uniform(0, 10), 4) if recent else None, created if recent and rng.random() < 0.3 else None,
            round(rng.uniform(10, 60), 4) if recent else None, round(rng.uniform(0, 20), 4) if recent else None,
            created if recent else None, now, now, rng.random() >= 0.1, '["recent"]', i, "SOL",
            rng.randint(0, 300) if rng.random() < 0.2 else None,
        ))  # fmt: skip
        if len(chunk) >= 20_000:
            flush()
    if chunk:
        flush()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def _insert(connection, table: str, fields: tuple[str, ...], rows: list[tuple]) -> None:
    columns = ", ".join(fields)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            marks = ", ".join(["%s"] * len(fields))
            cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", rows)


def measure(*, repeat: int) -> list[dict]:
    from django.core.cache import cache
    from django.test import Client

    from tokens.models import Token

    client = Client()
    results = []

    def timed(path: str) -> tuple[float, dict | None]:
        times, body = [], None
        for _ in range(repeat):
            cache.clear()
            started = time.perf_counter()
            response = client.get(path)
            times.append(time.perf_counter() - started)
            assert response.status_code == 200, (path, response.status_code, response.content[:200])
            body = response.json() if path.startswith("/api/") else None
        return max(times), body

    slowest, _ = timed("/")
    results.append({"what": "board page, first render", "seconds": slowest})
    rare = Token.objects.filter(passed_filters=True).order_by("-created_at").values_list("mint", flat=True)[1234][3:11]
    for name, params in FILTERS.items():
        slowest, _ = timed(f"/api/tokens/?{params.format(rare=rare, rare4=rare[2:6])}")
        results.append({"what": f"GET /api/tokens/ filter {name}", "seconds": slowest})
    for sort in SORTS:
        for prefix in ("-", ""):
            slowest, body = timed(f"/api/tokens/?sort={prefix}{sort}")
            results.append({"what": f"GET /api/tokens/ sort={prefix}{sort}", "seconds": slowest})
            if body and body.get("next_cursor"):
                paged, _ = timed(f"/api/tokens/?sort={prefix}{sort}&cursor={body['next_cursor']}")
                results.append({"what": f"GET /api/tokens/ sort={prefix}{sort}, next page by cursor", "seconds": paged})
            deep = _deep_cursor(f"{prefix}{sort}")
            paged, _ = timed(f"/api/tokens/?sort={prefix}{sort}&cursor={deep}")
            results.append(
                {"what": f"GET /api/tokens/ sort={prefix}{sort}, a page {DEEP:,} rows deep", "seconds": paged}
            )
    return results


def _deep_cursor(sort: str) -> str:
    from django.http import QueryDict

    from tokens.store.board_query import cursor_for, filtered, ordered, parse_query
    from tokens.store.selectors import board_tokens

    query = parse_query(QueryDict(f"sort={sort}"))
    return cursor_for(ordered(filtered(board_tokens(), query), query)[DEEP], query)


def csv_memory() -> dict:
    """A 100,000-token view downloaded as CSV, in a process of its own (nothing freed before to reuse):
    the response streamed, RSS sampled."""
    from django.test import Client

    response = Client().get("/api/tokens/?format=csv&max_age=3d")
    before = _rss_mb()
    peak, lines, started = before, 0, time.perf_counter()
    for chunk in response.streaming_content:
        lines += chunk.count(b"\n")
        if lines % 5_000 < 2:
            peak = max(peak, _rss_mb())
    return {"rows": lines - 1, "rss_growth_mb": max(peak, _rss_mb()) - before, "seconds": time.perf_counter() - started}


def _rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize() / 2**20


def report(args, rows: list[dict], csv: dict, *, filled: float) -> None:
    engine = "SQLite" if args.sqlite else "PostgreSQL"
    api = [r["seconds"] for r in rows if r["what"].startswith("GET")]
    lines = [
        f"# {args.tokens:,} tokens on {engine}",
        "",
        f"`python bench/million_bench.py{' --sqlite' if args.sqlite else ''} --tokens {args.tokens}` "
        f"({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}); filled in {filled:.0f} s; each request "
        f"{args.repeat} times through Django's test client, the page cache cleared before each; the slowest shown.",
        "",
        "| request | slowest |",
        "|---|---:|",
        *(f"| {r['what']} | {r['seconds'] * 1000:.0f} ms |" for r in rows),
        "",
        f"API: median of the slowest {statistics.median(api) * 1000:.0f} ms, worst {max(api) * 1000:.0f} ms.",
        f"CSV of a 3-day view ({csv['rows']:,} rows) streamed in {csv['seconds']:.1f} s: "
        f"RSS grew {csv['rss_growth_mb']:.1f} MB (a process of its own, from the response to its last line).",
    ]
    name = "million-sqlite.md" if args.sqlite else "million.md"
    save_report(name, lines)


if __name__ == "__main__":
    main()
