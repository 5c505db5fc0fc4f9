"""Rows first, details as they come: how soon a page sees rows with holder counts and metadata ON,
how soon the biggest tokens get their holder counts, and what the details cost in RPC calls.

A fake Solana RPC (bench/fake_solana.py: launches with curves of varied market caps, DAS holder
lookups with extra latency, an IPFS gateway) in its own process; the loader in another; a websocket
client on a Daphne process over Redis records when each row and each detail arrives. Writes
bench/results/details.md.

    python bench/details_bench.py [--launches 2000] [--rate 200]
"""

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import redis
import websockets

sys.path.insert(0, str(Path(__file__).resolve().parent))

from chain_bench import chain_env, stats
from run_bench import REDIS_URL, ROOT, base_env, fresh_db, migrated_template, save_report, start_web

TOP = 100


def start_fake(args) -> tuple[subprocess.Popen, str, str, str]:
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "bench" / "fake_solana.py"), "--launches", str(args.launches), "--days", "1",
         "--latency", str(args.latency), "--rate", str(args.rate), "--holder-latency", str(args.holder_latency),
         "--varied-curves"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    line = process.stdout.readline().split()
    assert line and line[0] == "READY", "the fake Solana RPC did not start"
    return process, line[1], line[2], line[3]


async def watch(host: str, command: list[str], env: dict[str, str]) -> dict:
    rows: dict[str, float] = {}
    holders: dict[str, float] = {}
    caps: dict[str, float] = {}
    images: dict[str, float] = {}
    async with websockets.connect(f"ws://{host}/ws/tokens/", origin=f"http://{host}", max_size=None) as ws:
        process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.PIPE, text=True)
        started = json.loads(await asyncio.to_thread(process.stdout.readline))["started_at"]
        while True:
            message = json.loads(await asyncio.wait_for(ws.recv(), timeout=900))
            now = time.time()
            if message["type"] == "batch":
                for token in message["tokens"]:
                    rows.setdefault(token["mint"], now)
            elif message["type"] == "update":
                for token in message["tokens"]:
                    if "holders" in token:
                        holders.setdefault(token["mint"], now)
                    if token.get("market_cap_sol") is not None:
                        caps[token["mint"]] = token["market_cap_sol"]
                    if token.get("image_uri"):
                        images.setdefault(token["mint"], now)
            elif message["type"] == "run" and message["status"] not in ("queued", "running"):
                finished = now
                break
        outcome = json.loads(await asyncio.to_thread(process.stdout.readline))
        process.wait()
    return {"started": started, "finished": finished, "rows": rows, "holders": holders, "caps": caps,
            "images": images, "outcome": outcome}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--launches", type=int, default=2000)
    parser.add_argument("--latency", type=float, default=0.02, help="seconds per RPC HTTP request")
    parser.add_argument("--holder-latency", type=float, default=0.0, help="extra seconds per holder lookup")
    parser.add_argument("--rate", type=float, default=200, help="calls a second the fake RPC allows")
    parser.add_argument("--batch-size", type=int, default=50)
    args = parser.parse_args()
    redis.Redis.from_url(REDIS_URL).flushdb()
    workdir = Path(tempfile.mkdtemp(prefix="details-bench-"))
    template = migrated_template(workdir)
    web = start_web(base_env(fresh_db(template, workdir, "web"), "http://127.0.0.1:9", 1), 18785)
    fake, url, ws, gateway = start_fake(args)
    try:
        env = chain_env(fresh_db(template, workdir, "details"), url, ws, args.rate)
        env.update(COUNT_HOLDERS="true", FETCH_METADATA="true", IPFS_GATEWAY=gateway + "/ipfs/",
                   METADATA_ALLOW_PRIVATE_HOSTS="true")  # fmt: skip
        before = stats(url)
        command = [sys.executable, str(ROOT / "bench" / "flows.py"), "--flow", "project", "--upstream", "chain",
                   "--days", "1", "--batch-size", str(args.batch_size)]  # fmt: skip
        seen = asyncio.run(watch("127.0.0.1:18785", command, env))
        after = stats(url)
    finally:
        fake.terminate()
        web.terminate()
    report(seen, before, after, args)


def report(seen: dict, before: dict, after: dict, args) -> None:
    calls = {name: after["calls"].get(name, 0) - before["calls"].get(name, 0) for name in after["calls"]}
    n = args.launches
    first_row = min(seen["rows"].values()) - seen["started"]
    top = sorted(seen["caps"], key=lambda mint: -seen["caps"][mint])[:TOP]
    waits = sorted(seen["holders"][mint] - seen["rows"][mint] for mint in top if mint in seen["holders"])
    backfill_end = max(seen["rows"].values())
    drain = seen["finished"] - backfill_end
    details_calls = calls.get("getTokenAccounts", 0) + calls.get("getMultipleAccounts", 0)
    target_top = TOP / args.rate + 1
    lines = [
        f"Fake Solana RPC: {args.latency * 1000:.0f} ms per HTTP request, {args.rate:g} calls/s allowed, shared by "
        f"reading, curve state and holder counts; {n:,} launches in one day with varied market caps; holder counts "
        f"and metadata ON; batches of {args.batch_size}; Redis channel layer; websocket client on a Daphne process. "
        f"Machine: {os.cpu_count()} cores. Command: `make bench` (`python bench/details_bench.py`).",
        "",
        "| measure | value | target |",
        "|---|---:|---:|",
        f"| first row on a websocket after the run starts (s) | {first_row:.3f} | ≤ {2 * args.latency + 0.1:.3f} |",
        f"| holder counts of the {TOP} biggest tokens, after their rows: slowest (s) | {waits[-1]:.2f} "
        f"| ≤ {target_top:.2f} |",
        f"| same, median (s) | {waits[len(waits) // 2]:.2f} | |",
        f"| holder lookups (getTokenAccounts) per token | {calls.get('getTokenAccounts', 0) / n:.3f} | 1 |",
        f"| curve-state calls (getMultipleAccounts) per token | {calls.get('getMultipleAccounts', 0) / n:.4f} "
        "| ≤ 0.01 a refresh |",
        f"| all RPC calls per token (reading + details) | {sum(calls.values()) / n:.3f} | |",
        f"| details drained after the last row (s) | {drain:.1f} | |",
        f"| detail calls a second over the whole run, against {args.rate:g} allowed (shared with reading) "
        f"| {details_calls / (seen['finished'] - seen['started']):.0f} | |",
        f"| rows with holder counts / images at the end | {len(seen['holders'])} / {len(seen['images'])} of {n:,} | |",
        f"| run | {seen['outcome']['status']}, {seen['finished'] - seen['started']:.1f} s | |",
    ]
    save_report("details.md", lines)


if __name__ == "__main__":
    main()
