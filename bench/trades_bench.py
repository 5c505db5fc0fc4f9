"""The trade stream under load: sustained trades a second that the feed's stream decodes,
aggregates, stores and shows on a page, with the trade-to-page delay; CPU per trade; RSS over a
million trades; database bytes per trade and per token-day; messages a page hears per second.

A fake Solana (bench/fake_solana.py, its own process) sends pump TradeEvents as `logsNotification`s
at a fixed rate over a real websocket to the shipped `TradeService` (in a measured process of its
own, as in the feed); a page is a channel of the board's group (in-memory layer: the fan-out to
many pages is measured by run_bench.py). Writes bench/results/trades.md.

    python bench/trades_bench.py           # rates on SQLite and PostgreSQL, a million trades on PostgreSQL
    python bench/trades_bench.py --quick   # shorter phases, 100,000 trades
"""

import argparse
import array
import asyncio
import bisect
import collections
import json
import os
import resource
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

ROOT = Path(__file__).resolve().parent.parent
from run_bench import save_report  # noqa: E402

PG_ADMIN = "postgres://postgres@127.0.0.1:5432/postgres"
COINS = 200
FLUSH_SECONDS = 1.0  # the shipped TRADE_FLUSH_SECONDS: a page hears at most one message a second
FAST_FLUSH = 0.5  # for comparison: two messages a second


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--fake", default="")
    parser.add_argument("--ws", default="")
    parser.add_argument("--rates", type=int, nargs="*", default=[])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--million", type=int, default=0)
    parser.add_argument("--flush", type=float, default=FLUSH_SECONDS)
    args = parser.parse_args()
    if args.worker:
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", "--noinput", verbosity=0)
        asyncio.run(worker(args, _store_coins()))
        return
    conductor(args)


# ---- the conductor: the fake, one measured process per database, the report --------------------


def conductor(args) -> None:
    import tempfile

    rates = [500, 2_000] if args.quick else [500, 1_000, 2_000, 3_000]
    seconds = 5 if args.quick else 10
    million = 100_000 if args.quick else 1_000_000
    fake = subprocess.Popen([sys.executable, str(ROOT / "bench" / "fake_solana.py"), "--launches", "0",
                             "--latency", "0", "--rate", "100000"], stdout=subprocess.PIPE, text=True)  # fmt: skip
    line = fake.stdout.readline().split()
    assert line and line[0] == "READY", "the fake Solana RPC did not start"
    results = {}
    try:
        with tempfile.TemporaryDirectory() as workdir:
            runs = {
                "SQLite": (f"sqlite:///{workdir}/trades.sqlite3", 0, FLUSH_SECONDS, rates),
                f"SQLite, flush {FAST_FLUSH:g} s": (f"sqlite:///{workdir}/fast.sqlite3", 0, FAST_FLUSH, [2_000]),
                "PostgreSQL": (_fresh_postgres("pumpfun_trades_bench"), million, FLUSH_SECONDS, rates),
                f"PostgreSQL, flush {FAST_FLUSH:g} s": (_fresh_postgres("pumpfun_trades_fast"), 0, FAST_FLUSH, [2_000]),
            }
            for name, (url, trades, flush, phases) in runs.items():
                command = [sys.executable, __file__, "--worker", "--database-url", url, "--fake", line[1],
                           "--ws", line[2], "--seconds", str(seconds), "--million", str(trades),
                           "--flush", str(flush), "--rates", *map(str, phases)]  # fmt: skip
                env = {**_env(url), "SOLANA_RPC_URL": line[1], "SOLANA_WS_URL": line[2]}
                finished = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, env=env, timeout=3600)
                if finished.returncode != 0:
                    raise SystemExit(f"{name}: the measured process failed:\n{finished.stderr[-4000:]}")
                results[name] = json.loads(finished.stdout.strip().splitlines()[-1])
                print(f"{name}: {json.dumps(results[name])}", flush=True)
    finally:
        fake.terminate()
    report(results, rates=rates, seconds=seconds, quick=args.quick)


def _env(url: str) -> dict[str, str]:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "project.settings", "DEBUG": "false",
           "SECRET_KEY": "benchmark-only-secret-" + "tr4de" * 10, "DATABASE_URL": url, "FOLLOW_TRADES": "true",
           "COUNT_HOLDERS": "false", "FETCH_METADATA": "false"}  # fmt: skip
    env.pop("REDIS_URL", None)
    return env


def _fresh_postgres(name: str) -> str:
    import psycopg

    with psycopg.connect(PG_ADMIN, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}"')
        connection.execute(f'CREATE DATABASE "{name}"')
    return PG_ADMIN.rsplit("/", 1)[0] + "/" + name


def report(results: dict, *, rates: list[int], seconds: float, quick: bool) -> None:
    flag = " --quick" if quick else ""
    lines = [
        "# The trade stream under load",
        "",
        f"Fake Solana in its own process sending pump TradeEvents as logs notifications over a websocket to the "
        f"shipped TradeService (TRADE_FLUSH_SECONDS {FLUSH_SECONDS:g}, the default, unless a row says otherwise) "
        f"in a measured process; {COINS} coins; a page is a channel of the board's group. Phases of {seconds:g} s "
        f"per rate. Machine: {os.cpu_count()} cores. Command: `python bench/trades_bench.py{flag}`. "
        "Kept up: every trade sent was stored within 2 s of the last one sent. A page hearing one message a flush "
        "cannot see a trade sooner than the flush it waits for: the trade-to-page delay's floor is the flush period.",
        "",
        "| database | trades/s asked (sent) | kept up (drain s) | p50 trade-to-page (s) | p99 trade-to-page (s) | "
        "CPU per trade (µs) | page messages/s | RSS (MB) |",
        "|---|---:|---|---:|---:|---:|---:|---:|",
    ]
    for name, result in results.items():
        for phase in result["rates"]:
            kept = f"{'yes' if phase['kept_up'] else 'no'} ({phase['drain_s']:.1f})"
            cells = [name, f"{phase['rate']:,} ({phase['sent_per_s']:,.0f})", kept, f"{phase['p50']:.2f}",
                     f"{phase['p99']:.2f}", f"{phase['cpu_us']:.0f}", f"{phase['messages_per_s']:.2f}",
                     f"{phase['rss_mb']:.0f}"]  # fmt: skip
            lines.append("| " + " | ".join(cells) + " |")
    sustained = ", ".join(f"{name} {result['sustained']:,.0f}/s" for name, result in results.items())
    lines += [
        "",
        f"Sustained (the highest rate kept up with, p99 within half a second of the flush period): {sustained}.",
    ]
    for name, result in results.items():
        big = result.get("million")
        if big:
            lines += ["", f"{name}, {big['trades']:,} trades at {big['rate']:,}/s: RSS {big['rss_first']:.0f} MB "
                      f"after the first tenth, {big['rss_max']:.0f} MB at most, {big['rss_last']:.0f} MB at the end; "
                      f"p99 trade-to-page {big['p99']:.2f} s; {big['messages_per_s']:.2f} messages/s."]  # fmt: skip
        storage = result["storage"]
        lines += ["", f"{name} storage: {storage}"]
    save_report("trades.md", lines)


# ---- the measured process ------------------------------------------------------------------------


async def worker(args, coins: list[list[str]]) -> None:
    from asgiref.sync import sync_to_async
    from channels.layers import get_channel_layer

    from tokens.live.messages import BOARD_GROUP
    from tokens.sources.clients import chain_source, solana_rpc
    from tokens.trades.service import TradeService

    layer = get_channel_layer()
    page = await layer.new_channel()
    await layer.group_add(BOARD_GROUP, page)
    heard: list[tuple[float, set[str]]] = []

    async def listen() -> None:
        while True:
            message = await layer.receive(page)
            body = json.loads(message["text"])
            if body["type"] == "update":
                heard.append((time.time(), {row["mint"] for row in body["tokens"]}))

    async with solana_rpc() as rpc:
        service = TradeService(chain=chain_source(rpc), flush_seconds=args.flush)
        tasks = [asyncio.create_task(service.run()), asyncio.create_task(listen())]
        await asyncio.sleep(2)  # subscribed
        result = {"rates": []}
        for rate in args.rates:
            result["rates"].append(await phase(args.fake, coins, rate, args.seconds, service, heard, flush=args.flush))
        good = [p["sent_per_s"] for p in result["rates"] if p["kept_up"] and p["p99"] <= args.flush + 0.5]
        result["sustained"] = max(good, default=0)
        if args.million:
            rate = 2_000  # the goal
            result["million"] = await phase(
                args.fake, coins, rate, args.million / rate, service, heard, flush=args.flush, sample=True
            )
        result["storage"] = await sync_to_async(_storage)(service.trades_stored)
        for task in tasks:
            task.cancel()
    print(json.dumps(result))


async def phase(
    fake: str, coins, rate: int, seconds: float, service, heard, *, flush: float, sample: bool = False
) -> dict:
    """Trades sent at `rate` for `seconds`; each trade's delay to the page is matched as it goes (the
    measuring keeps a few seconds of bookkeeping, not a record per trade, so RSS is the service's)."""
    _post(fake + "/bench/trades", {"coins": coins, "rate": rate, "seconds": seconds})
    stored_before, cpu_before, started = service.trades_stored, time.process_time(), time.monotonic()
    matcher = _Matcher(heard)
    rss: list[float] = []
    sending, stopped = True, None
    while sending or service.trades_stored - stored_before < matcher.sent:
        await asyncio.sleep(0.25)
        answer = _get(fake + "/bench/sent")
        matcher.add_sent(answer["sent"])
        sending = answer["sending"]
        if not sending and stopped is None:
            stopped = time.monotonic()
        matcher.match(settled=time.time() - 10)
        rss.append(_rss_mb())
        if time.monotonic() - started > seconds + 120:
            break  # fell behind for good: what was stored is reported
    drain = time.monotonic() - (stopped or time.monotonic())
    await asyncio.sleep(flush + 0.5)  # the last flush reaches the page
    matcher.match(settled=float("inf"))
    elapsed = time.monotonic() - started
    stored = service.trades_stored - stored_before
    cpu = time.process_time() - cpu_before
    result = {
        "rate": rate, "sent": matcher.sent, "sent_per_s": matcher.sent / seconds, "stored": stored,
        "drain_s": drain, "kept_up": stored == matcher.sent and drain <= 2,
        "p50": _quantile(matcher.delays, 0.5), "p99": _quantile(matcher.delays, 0.99),
        "cpu_us": 1e6 * cpu / max(1, stored), "messages_per_s": matcher.messages_per_s(),
        "rss_mb": max(rss, default=_rss_mb()),
    }  # fmt: skip
    if sample:
        tenth = max(1, len(rss) // 10)
        result["elapsed_s"] = elapsed
        result.update(trades=stored, rss_first=max(rss[:tenth]), rss_max=max(rss), rss_last=rss[-1])
    return result


class _Matcher:
    """Each trade's delay: from its sending to the first page message after it that names its coin."""

    def __init__(self, heard: list) -> None:
        self.heard = heard
        self.first = len(heard)  # this phase's messages start here
        self.read = len(heard)
        self.times: dict[str, list[float]] = {}  # mint -> when messages named it (the last minute)
        self.waiting: collections.deque = collections.deque()
        self.delays = array.array("d")
        self.sent = 0

    def add_sent(self, sent: list) -> None:
        self.waiting.extend(sent)
        self.sent += len(sent)

    def match(self, *, settled: float) -> None:
        for index in range(self.read, len(self.heard)):
            at, mints = self.heard[index]
            for mint in mints or ():
                self.times.setdefault(mint, []).append(at)
            self.heard[index] = (at, None)  # the names are in `times` now
        self.read = len(self.heard)
        while self.waiting and self.waiting[0][0] < settled:
            at, mint = self.waiting.popleft()
            times = self.times.get(mint, [])
            index = bisect.bisect_left(times, at)
            self.delays.append(times[index] - at if index < len(times) else float("inf"))
        horizon = time.time() - 60
        for times in self.times.values():
            del times[: bisect.bisect_left(times, horizon)]

    def messages_per_s(self) -> float:
        window = [at for at, _ in self.heard[self.first :]]
        return (len(window) - 1) / (window[-1] - window[0]) if len(window) > 1 else 0.0


def _quantile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _store_coins() -> list[list[str]]:
    from datetime import timedelta

    from django.utils import timezone

    from tests.fakes.chain import key_for
    from tokens.models import Token

    now = timezone.now()
    coins = [[key_for(f"bench-coin-{i}"), key_for(f"bench-creator-{i}")] for i in range(COINS)]
    Token.objects.bulk_create(
        [Token(mint=mint, creator=creator, created_at=now - timedelta(hours=1), first_seen_at=now, last_seen_at=now,
               quote="SOL", name=f"Bench {i}", symbol=f"B{i}") for i, (mint, creator) in enumerate(coins)]
    )  # fmt: skip
    return coins


def _storage(trades: int) -> str:
    from django.db import connection

    from tokens.models import Candle, Holding, Trade

    counts = {"trades": Trade.objects.count(), "candles": Candle.objects.count(), "holdings": Holding.objects.count()}
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            sizes = {}
            for label, model in (("trades", Trade), ("candles", Candle), ("holdings", Holding)):
                cursor.execute("SELECT pg_total_relation_size(%s)", [model._meta.db_table])
                sizes[label] = cursor.fetchone()[0]
        per_trade = sizes["trades"] / max(1, counts["trades"])
        per_candle = sizes["candles"] / max(1, counts["candles"])
        per_holding = sizes["holdings"] / max(1, counts["holdings"])
        return (f"{per_trade:.0f} bytes per stored trade (row and indexes), {per_candle:.0f} bytes per 1-minute "
                f"candle, so {1440 * per_candle / 1024:.0f} kB per token-day of candles; holdings "
                f"{per_holding:.0f} bytes per wallet and coin; {counts}.")  # fmt: skip
    path = Path(connection.settings_dict["NAME"])
    size = sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))
    return f"{size / max(1, trades):.0f} bytes per trade in the SQLite file (everything, indexes included); {counts}."


def _rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _post(url: str, body: dict) -> None:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})  # fmt: skip
    urllib.request.urlopen(request, timeout=10).read()


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.loads(response.read())


if __name__ == "__main__":
    main()
