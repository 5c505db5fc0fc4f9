"""The seed's comparison: a batch's holder lookups one after another versus concurrently.

Each token needs a holder count from the (fake, local) DAS RPC, which answers after a fixed
latency; that round trip is what concurrency overlaps. Holder counts are a detail fetched after the
rows are stored (the details stage does them concurrently, within the RPC's rate). Run with
`make bench`.

    python bench/process_concurrency.py [--tokens 200] [--batch-size 10] [--rpc-latency 0.02]
"""

import argparse
import asyncio
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fakes.coins import make_history  # noqa: E402
from tests.fakes.das import FakeDas  # noqa: E402
from tokens.sources.holders import HolderCounter  # noqa: E402
from tokens.store.filters import FilterRules  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "process_concurrency.md"


async def sequential(coins, *, rpc_url, batch_size, rules) -> int:
    processed = 0
    async with HolderCounter(rpc_url=rpc_url) as holders:
        for start in range(0, len(coins), batch_size):
            for coin in coins[start : start + batch_size]:
                await holders.count(coin["mint"])
                processed += 1
    return processed


async def concurrent(coins, *, rpc_url, batch_size, rules) -> int:
    """What the details stage does with a group of holder lookups."""
    processed = 0
    async with HolderCounter(rpc_url=rpc_url) as holders:
        for start in range(0, len(coins), batch_size):
            group = coins[start : start + batch_size]
            await asyncio.gather(*(holders.count(coin["mint"]) for coin in group))
            processed += len(group)
    return processed


def measure(flow, coins, **kwargs) -> tuple[float, int]:
    started = time.perf_counter()
    processed = asyncio.run(flow(coins, **kwargs))
    return time.perf_counter() - started, processed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=10)
    parser.add_argument("--rpc-latency", type=float, default=0.02, help="seconds per holder RPC call")
    args = parser.parse_args()

    coins = make_history(args.tokens)
    rpc = FakeDas({coin["mint"]: [(f"owner{i}", 1) for i in range(5)] for coin in coins}, latency=args.rpc_latency)
    rpc.start()
    rules = FilterRules(cutoff=datetime.now(UTC) - timedelta(days=7))
    try:
        rows = []
        for name, flow in (("sequential", sequential), ("concurrent (asyncio.gather)", concurrent)):
            seconds, processed = measure(flow, coins, rpc_url=rpc.url, batch_size=args.batch_size, rules=rules)
            assert processed == args.tokens, f"{name} processed {processed} of {args.tokens}"
            rows.append((name, seconds, processed / seconds))
    finally:
        rpc.stop()

    speedup = rows[0][1] / rows[1][1]
    lines = [
        f"Tokens: {args.tokens}, batch size: {args.batch_size}, holder RPC latency: {args.rpc_latency * 1000:.0f} ms "
        "(2 RPC calls per token: one page and the empty page that ends it)",
        "",
        "| flow | total (s) | tokens/s |",
        "|---|---:|---:|",
        *(f"| {name} | {seconds:.2f} | {rate:.0f} |" for name, seconds, rate in rows),
        "",
        f"Concurrent processing is {speedup:.1f}x faster.",
    ]
    report = "\n".join(lines)
    print(report)
    RESULTS.write_text(report + "\n")
    print(f"\nwritten to {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
