"""The chain upstream against pump.fun's web API, over a 7-day window.

A fake Solana RPC (bench/fake_solana.py, its own process) holds N launches spread over 7 days and
allows a fixed number of calls a second; the loader reads the window from it with holder counts and
metadata off (they are per-launch extras, measured elsewhere), storing into SQLite and streaming to
a websocket client on a Daphne process over Redis. The web API fake stops at an offset wall like
pump.fun's. Writes bench/results/chain.md.

    python bench/chain_bench.py            # N = 10k and 200k (a 7-day window at ~29k launches a day)
    python bench/chain_bench.py --quick    # N = 10k
"""

import argparse
import asyncio
import json
import math
import os
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

import redis

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run_bench import REDIS_URL, ROOT, base_env, fresh_db, migrated_template, save_report, start_web, watch_flow

DAYS = 7
BATCH = 100
POSTGRES = "postgres://postgres@127.0.0.1:5432"
POSTGRES_DB = "pumpfun_chain_bench"
FIRST_BATCH = 20  # a new user's Load: 1 day, batches of 20
FIRST_WINDOW = 4_000  # launches over the fake's 7 days: ~570 in the first day


def start_fake_solana(
    launches: int, latency: float, rate: float, *, gtfa: bool, extra: list[str] | None = None
) -> tuple[subprocess.Popen, str, str, str]:
    command = [sys.executable, str(ROOT / "bench" / "fake_solana.py"), "--launches", str(launches),
               "--days", str(DAYS), "--latency", str(latency), "--rate", str(rate), *(extra or [])]  # fmt: skip
    process = subprocess.Popen([*command, *(["--gtfa"] if gtfa else [])], stdout=subprocess.PIPE, text=True)
    line = process.stdout.readline().split()
    assert line and line[0] == "READY", "the fake Solana RPC did not start"
    return process, line[1], line[2], line[3]  # RPC, websocket, IPFS gateway


def stats(url: str) -> dict:
    with urllib.request.urlopen(url + "/stats", timeout=10) as response:
        return json.loads(response.read())


def chain_env(db: Path, url: str, ws: str, rate: float) -> dict[str, str]:
    env = base_env(db, "http://127.0.0.1:9", 1)
    env.update(
        SOLANA_RPC_URL=url,
        SOLANA_WS_URL=ws,
        # Paced a little under the provider's limit: the two clocks never agree exactly.
        SOLANA_RPC_REQUESTS_PER_SECOND=str(rate * 0.95),
        SOLANA_RPC_BATCH_SIZE="100",
        COUNT_HOLDERS="false",
        FETCH_METADATA="false",
    )
    return env


def calls_needed(launches: int, *, gtfa: bool) -> int:
    """The fewest calls that read the window and each launch's curve: signature pages (1,000 a call,
    one more to reach past the window's start) and one getTransaction per launch, or full transactions
    100 a call; then the curves, 99 a call (the price account rides along)."""
    signatures = launches + launches // 500 + 1  # the failed creates are listed too
    reading = math.ceil(signatures / 100) if gtfa else math.ceil((signatures + 1) / 1000) + launches
    return reading + math.ceil(launches / 99)


def run_chain(template, workdir, host, size, args, *, gtfa: bool) -> dict:
    # Whole transactions come 100 a call: making their JSON as they are asked would make the fake,
    # not the loader, the bound on these two cores (ahead of time at 10k; the 200k run is signatures).
    extra = ["--ready-made"] if gtfa else []
    fake, url, ws, _ = start_fake_solana(size, args.latency, args.rate, gtfa=gtfa, extra=extra)
    try:
        before = stats(url)
        env = chain_env(fresh_db(template, workdir, f"chain-{size}-{gtfa}"), url, ws, args.rate)
        if args.postgres:
            env["DATABASE_URL"] = fresh_postgres(env)
        command = [sys.executable, str(ROOT / "bench" / "flows.py"), "--flow", "project", "--upstream", "chain",
                   "--days", str(DAYS), "--batch-size", str(BATCH)]  # fmt: skip
        result = asyncio.run(watch_flow(host, command, env))
        after = stats(url)
    finally:
        fake.terminate()
    calls = sum(after["calls"].values()) - sum(before["calls"].values())
    state_calls = after["calls"].get("getMultipleAccounts", 0) - before["calls"].get("getMultipleAccounts", 0)
    needed = calls_needed(size, gtfa=gtfa)
    result.update(
        path="getTransactionsForAddress" if gtfa else "standard (signatures + getTransaction batches)",
        launches=size,
        calls=calls,
        state_calls=state_calls,
        http_requests=after["http_requests"] - before["http_requests"],
        bound=needed / args.rate,
    )
    print(json.dumps(result), flush=True)
    return result


def fresh_postgres(env: dict[str, str]) -> str:
    """An empty, migrated PostgreSQL database for one loader run (the production store: its three
    dozen board indexes are what an insert there pays for)."""
    import psycopg

    with psycopg.connect(f"{POSTGRES}/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{POSTGRES_DB}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{POSTGRES_DB}"')
    url = f"{POSTGRES}/{POSTGRES_DB}"
    subprocess.run([sys.executable, str(ROOT / "manage.py"), "migrate", "--noinput"], env={**env, "DATABASE_URL": url},
                   cwd=ROOT, check=True, capture_output=True)  # fmt: skip
    return url


def run_first_batch(template, workdir, host, args, *, rate: float, gtfa: bool) -> dict:
    """Load as a new user would (1 day, batches of FIRST_BATCH) and time the first batch on a page."""
    fake, url, ws, _ = start_fake_solana(FIRST_WINDOW, args.latency, rate, gtfa=gtfa)
    try:
        env = chain_env(fresh_db(template, workdir, f"first-{rate}-{gtfa}"), url, ws, rate)
        command = [sys.executable, str(ROOT / "bench" / "flows.py"), "--flow", "project", "--upstream", "chain",
                   "--days", "1", "--batch-size", str(FIRST_BATCH)]  # fmt: skip
        result = asyncio.run(watch_flow(host, command, env, first_batch_only=True))
    finally:
        fake.terminate()
    # The goal: two round trips, the first batch's calls (and the two first ones) beyond the
    # limiter's burst of one second's worth, and 100 ms.
    result.update(
        path="getTransactionsForAddress" if gtfa else "standard",
        rate=rate,
        goal=2 * args.latency + max(0.0, FIRST_BATCH + 2 - rate * 0.95) / (rate * 0.95) + 0.1,
    )
    print(json.dumps(result), flush=True)
    return result


def run_web_api(template, workdir, host, args) -> dict:
    # pump.fun's listing: ~1,000 coins, one every 3 s, then empty pages; the loader asks once a second.
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "bench" / "fake_upstream.py"), "--tokens", "1000", "--latency", "0.05",
         "--rate", "1.2", "--wall", "1000", "--spacing-ms", "3000"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    line = process.stdout.readline().split()
    try:
        env = base_env(fresh_db(template, workdir, "web-api"), line[1], 1.2)
        env["PUMPFUN_REQUESTS_PER_SECOND"] = "1"
        command = [sys.executable, str(ROOT / "bench" / "flows.py"), "--flow", "project", "--days", str(DAYS),
                   "--batch-size", str(BATCH)]  # fmt: skip
        result = asyncio.run(watch_flow(host, command, env))
    finally:
        process.terminate()
    result.update(path="pump.fun web API (offset wall at 1,000)", launches=1_000)
    print(json.dumps(result), flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 200_000])
    parser.add_argument("--latency", type=float, default=0.02, help="seconds per RPC HTTP request")
    parser.add_argument("--rate", type=float, default=800, help="calls a second the fake RPC allows")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--first-only", action="store_true", help="only the first-batch runs, printed")
    parser.add_argument(
        "--postgres", action="store_true", help="the chain loads store into PostgreSQL (chain-postgres.md) alone"
    )
    args = parser.parse_args()
    if args.quick:
        args.sizes = [10_000]
    redis.Redis.from_url(REDIS_URL).flushdb()
    workdir = Path(tempfile.mkdtemp(prefix="chain-bench-"))
    template = migrated_template(workdir)
    web = start_web(base_env(fresh_db(template, workdir, "web"), "http://127.0.0.1:9", 1), 18775)
    host = "127.0.0.1:18775"
    rows = []
    try:
        if args.first_only:
            for rate in (args.rate, 10.0):
                for gtfa in (False, True):
                    run_first_batch(template, workdir, host, args, rate=rate, gtfa=gtfa)
            return
        for size in args.sizes:
            rows.append(run_chain(template, workdir, host, size, args, gtfa=False))
        rows.append(run_chain(template, workdir, host, args.sizes[0], args, gtfa=True))
        if args.postgres:
            write_postgres_report(rows, args)
            return
        api = run_web_api(template, workdir, host, args)
        firsts = [
            run_first_batch(template, workdir, host, args, rate=rate, gtfa=gtfa)
            for rate in (args.rate, 10.0)
            for gtfa in (False, True)
        ]
    finally:
        web.terminate()
    write_report(rows, api, args, firsts)


def write_report(rows: list[dict], api: dict, args, firsts: list[dict]) -> None:
    rtt_target = 2 * args.latency + 0.1
    lines = [
        f"Fake Solana RPC: {args.latency * 1000:.0f} ms per HTTP request, {args.rate:g} calls/s allowed (a batch "
        f"array counts each call; 429 past it); {DAYS}-day window; batches of {BATCH}; holder counts and metadata "
        f"off; SQLite (WAL); Redis channel layer; websocket client on a Daphne process. Machine: {os.cpu_count()} "
        "cores. Command: `make bench` (`python bench/chain_bench.py`).",
        "",
        "| path | launches in window | stored | RPC calls / launch (reading + curve state) "
        "| HTTP requests / launch (reading + curve state) | first batch on websocket (s) | total (s) "
        "| calls needed / allowed rate (s) | total / bound | launches/s | loader CPU / launch (µs) | peak RSS (MB) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        *_chain_rows(rows),
    ]
    lines += [
        f"| {api['path']} | ~{DAYS * 30_000:,} | {api['accepted']:,} | - | - | {api['first_batch']:.3f} "
        f"| {api['total']:.1f} | - | - | - | - | {api['peak_rss_mb']:.0f} |",
        "",
        f"Time to the first batch target: 2 round trips + 100 ms = {rtt_target:.3f} s. The web API run ended "
        f"{api['status']}{' with the warning shown to users' if api.get('warning') else ''}.",
    ]
    if api.get("warning"):
        lines.append(f'Its warning: "{api["warning"]}"')
    lines += [
        "",
        f"First batch on a page after Load, as a new user would (1 day, batches of {FIRST_BATCH}, "
        f"{args.latency * 1000:.0f} ms per request); the goal is 2 round trips + the calls beyond the "
        "limiter's one-second burst ÷ the rate + 100 ms:",
        "",
        "| path | calls/s allowed | rows | first batch on websocket (s) | goal (s) |",
        "|---|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {r['path']} | {r['rate']:g} | {r['first_batch_rows']} | {r['first_batch']:.3f} | {r['goal']:.3f} |"
        for r in firsts
    ]
    save_report("chain.md", lines)


def _chain_rows(rows: list[dict]) -> list[str]:
    lines = []
    for row in rows:
        n, state = row["launches"], row["state_calls"]
        lines.append(
            f"| {row['path']} | {n:,} | {row['accepted']:,} | {(row['calls'] - state) / n:.4f} + {state / n:.4f} "
            f"| {(row['http_requests'] - state) / n:.4f} + {state / n:.4f} | {row['first_batch']:.3f} "
            f"| {row['total']:.1f} | {row['bound']:.1f} | {row['total'] / row['bound']:.2f} "
            f"| {n / row['total']:,.0f} | {_cpu_per_launch(row)} | {row['peak_rss_mb']:.0f} |"
        )
    return lines


def write_postgres_report(rows: list[dict], args) -> None:
    lines = [
        f"The chain loads of `chain.md` storing into PostgreSQL (a fresh, migrated database each: the board's "
        f"indexes, 37 on the token table, are what an insert pays for). Fake Solana RPC: {args.latency * 1000:.0f} "
        f"ms per HTTP request, {args.rate:g} calls/s allowed; {DAYS}-day window; batches of {BATCH}; Redis channel "
        f"layer; websocket client on a Daphne process. Machine: {os.cpu_count()} cores, PostgreSQL on the same "
        "machine. Command: `python bench/chain_bench.py --quick --postgres` (in `make bench`).",
        "",
        "| path | launches in window | stored | RPC calls / launch (reading + curve state) "
        "| HTTP requests / launch (reading + curve state) | first batch on websocket (s) | total (s) "
        "| calls needed / allowed rate (s) | total / bound | launches/s | loader CPU / launch (µs) | peak RSS (MB) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        *_chain_rows(rows),
    ]
    save_report("chain-postgres.md", lines)


def _cpu_per_launch(row: dict) -> str:
    """The loader's CPU during the run (its threads together: the event loop and the store's) per
    launch: what the launches/s would be on a core of its own, whatever else shares the machine."""
    cpu = row.get("cpu_seconds")
    return "-" if cpu is None else f"{1e6 * cpu / row['launches']:.0f}"


def report_from_log(path: str) -> None:
    """Rewrite the report from the JSON lines a run printed (`python bench/chain_bench.py --report-from LOG`)."""
    results = [json.loads(line) for line in Path(path).read_text().splitlines() if line.startswith("{")]
    api = next(r for r in results if r["path"].startswith("pump.fun"))
    firsts = [r for r in results if "first_batch_rows" in r]
    rows = [r for r in results if r is not api and r not in firsts]
    write_report(rows, api, argparse.Namespace(latency=0.02, rate=800), firsts)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--report-from"]:
        report_from_log(sys.argv[2])
    else:
        main()
