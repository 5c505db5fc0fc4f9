"""`GET /api/tokens/` under load on the production setup: PostgreSQL, one Daphne process, anonymous
clients (the per-address limit raised: one machine plays every client). Requests per second and
latency percentiles at 8 and 64 concurrent clients, with Django's psycopg pool and without it (a new
PostgreSQL session per request, as before the pool). Writes bench/results/api.md.

    python bench/api_bench.py                 # 20 s per cell
    python bench/api_bench.py --seconds 5
"""

import argparse
import asyncio
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run_bench import ROOT, save_report, start_web

POSTGRES = "postgres://postgres@127.0.0.1:5432"
TOKENS = 2_000


def env_for(database: str, *, pool: bool) -> dict[str, str]:
    import os

    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "project.settings",
        "SECRET_KEY": "benchmark-only-secret-" + "b3nch" * 10,
        "DEBUG": "false",
        "SECURE_SSL_REDIRECT": "false",
        "DATABASE_URL": database,
        "LOADER_WORKERS": "false",
        "LOG_LEVEL": "WARNING",
        "API_REQUESTS_PER_MINUTE": "100000000",
        "DB_POOL": "true" if pool else "false",
    }
    env.pop("REDIS_URL", None)
    return env


def fill(env: dict[str, str]) -> None:
    """Migrate and store TOKENS tokens (what a load would have stored)."""
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput"], env=env, cwd=ROOT, check=True,
                   capture_output=True)  # fmt: skip
    script = (
        "from datetime import timedelta\n"
        "from django.utils import timezone\n"
        "from tokens.models import Token\n"
        "now = timezone.now()\n"
        f"Token.objects.bulk_create([Token(mint=f'M{{i:043d}}', name=f'Coin {{i}}', symbol=f'C{{i}}', "
        f"created_at=now - timedelta(seconds=i), first_seen_at=now, last_seen_at=now, usd_market_cap=1000.0 + i, "
        f"sources=['recent']) for i in range({TOKENS})])\n"
    )
    subprocess.run([sys.executable, "manage.py", "shell", "-c", script], env=env, cwd=ROOT, check=True,
                   capture_output=True)  # fmt: skip


async def hammer(base: str, clients: int, seconds: float) -> tuple[float, list[float], int]:
    latencies: list[float] = []
    errors = 0
    deadline = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)

    async def client_loop(client: httpx.AsyncClient) -> None:
        nonlocal errors
        while time.monotonic() < deadline:
            started = time.monotonic()
            response = await client.get("/api/tokens/?limit=50")
            latencies.append(time.monotonic() - started)
            errors += response.status_code != 200

    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:
        await client.get("/api/tokens/?limit=50")  # warm
        started = time.monotonic()
        await asyncio.gather(*(client_loop(client) for _ in range(clients)))
        elapsed = time.monotonic() - started
    return len(latencies) / elapsed, latencies, errors


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--clients", type=int, nargs="+", default=[8, 64])
    args = parser.parse_args()
    rows = []
    for pool in (False, True):
        name = f"api_bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(f"{POSTGRES}/postgres", autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        try:
            env = env_for(f"{POSTGRES}/{name}", pool=pool)
            fill(env)
            web = start_web(env, 18795)
            try:
                for clients in args.clients:
                    rate, latencies, errors = asyncio.run(hammer("http://127.0.0.1:18795", clients, args.seconds))
                    rows.append(
                        (pool, clients, rate, statistics.median(latencies), percentile(latencies, 0.99), errors)
                    )
                    print(f"pool={pool} clients={clients}: {rate:.0f} req/s, p50 {rows[-1][3] * 1000:.0f} ms, "
                          f"p99 {rows[-1][4] * 1000:.0f} ms, errors {errors}", flush=True)  # fmt: skip
            finally:
                web.terminate()
                web.wait(timeout=10)
        finally:
            with psycopg.connect(f"{POSTGRES}/postgres", autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    lines = [
        "# GET /api/tokens/ on PostgreSQL, one Daphne process",
        "",
        f"`python bench/api_bench.py --seconds {args.seconds:g}`; {TOKENS} stored tokens, `limit=50`, "
        "anonymous clients.",
        "",
        "| connections | clients | requests/s | p50 (ms) | p99 (ms) | errors |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for pool, clients, rate, p50, p99, errors in rows:
        label = "psycopg pool" if pool else "a new session per request"
        lines.append(f"| {label} | {clients} | {rate:.0f} | {p50 * 1000:.0f} | {p99 * 1000:.0f} | {errors} |")
    save_report("api.md", lines)


if __name__ == "__main__":
    main()
