"""How long a run waits after its loader worker dies or freezes before another worker continues it,
on PostgreSQL with two `run_loader` processes. kill -9 on this host is seen at once (the process id
is gone); a frozen worker (SIGSTOP, which is what a worker on another host looks like) is taken over
when its lease runs out. Writes bench/results/recovery.md.

    python bench/recovery_bench.py --lease 6 --trials 3
"""

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from run_bench import save_report  # noqa: E402

from tests.fakes.coins import make_history, now_ms  # noqa: E402
from tests.fakes.pumpfun import FakePumpFun  # noqa: E402

POSTGRES = "postgres://postgres@127.0.0.1:5432"
REDIS_URL = "redis://127.0.0.1:6379/12"


def env_for(database: str, upstream: str, lease: float) -> dict[str, str]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "project.settings",
        "SECRET_KEY": "benchmark-only-secret-" + "b3nch" * 10,
        "DEBUG": "false",
        "DATABASE_URL": database,
        "REDIS_URL": REDIS_URL,
        "LOADER_WORKERS": "true",
        "PUMPFUN_API_URL": upstream,
        "PUMPFUN_REQUESTS_PER_SECOND": "1000",
        "RUN_STALE_AFTER": str(lease),
        "WORKER_POLL_SECONDS": "0.5",
        "DB_IDLE_TRANSACTION_TIMEOUT_MS": "2000",
        "LOG_LEVEL": "WARNING",
    }
    env.pop("SOLANA_RPC_URL", None)
    return env


def row(database: str, run_id: int) -> tuple[str, str, int]:
    with psycopg.connect(database) as db:
        return db.execute("SELECT status, executed_by, batches FROM tokens_loadrun WHERE id = %s", (run_id,)).fetchone()


def trial(env: dict[str, str], database: str, *, freeze: bool) -> float:
    manage = [sys.executable, "manage.py"]
    workers = [subprocess.Popen([*manage, "run_loader"], env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL) for _ in range(2)]  # fmt: skip
    try:
        enqueued = subprocess.run([*manage, "load_historical_tokens", "--days", "1", "--source", "recent",
                                   "--batch-size", "5", "--enqueue", "--json"], env=env, cwd=ROOT,
                                  capture_output=True, text=True, check=True)  # fmt: skip
        run_id = json.loads(enqueued.stdout.strip().splitlines()[-1])["run_id"]
        while (state := row(database, run_id))[2] < 2:
            time.sleep(0.05)
        owner = next(w for w in workers if state[1].endswith(f":{w.pid}"))
        other = next(w for w in workers if w is not owner)
        os.kill(owner.pid, signal.SIGSTOP if freeze else signal.SIGKILL)
        stopped = time.monotonic()
        if not freeze:
            owner.wait()  # reaped, as a supervisor (systemd, a shell) would: no zombie keeps its id
        while True:
            _, executed_by, batches = row(database, run_id)
            if executed_by.endswith(f":{other.pid}") and batches > state[2]:
                return time.monotonic() - stopped
            if time.monotonic() - stopped > 120:
                raise RuntimeError("no worker continued the run")
            time.sleep(0.05)
    finally:
        for worker in workers:
            try:
                os.kill(worker.pid, signal.SIGCONT)
                os.kill(worker.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            worker.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lease", type=float, default=6.0, help="RUN_STALE_AFTER, seconds")
    parser.add_argument("--trials", type=int, default=3)
    args = parser.parse_args()
    upstream = FakePumpFun(make_history(400, newest_ms=now_ms() - 1_000, spacing_ms=5_000), latency=0.1,
                           max_limit=10).start()  # fmt: skip
    results = {}
    try:
        for freeze in (False, True):
            times = []
            for _ in range(args.trials):
                name = f"recovery_bench_{uuid.uuid4().hex[:8]}"
                with psycopg.connect(f"{POSTGRES}/postgres", autocommit=True) as admin:
                    admin.execute(f'CREATE DATABASE "{name}"')
                database = f"{POSTGRES}/{name}"
                try:
                    env = env_for(database, upstream.url, args.lease)
                    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput"], env=env, cwd=ROOT,
                                   check=True, capture_output=True)  # fmt: skip
                    times.append(trial(env, database, freeze=freeze))
                    print(f"{'SIGSTOP' if freeze else 'kill -9'}: continued after {times[-1]:.2f} s", flush=True)
                finally:
                    with psycopg.connect(f"{POSTGRES}/postgres", autocommit=True) as admin:
                        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            results["SIGSTOP (frozen; as another host)" if freeze else "kill -9 on this host"] = times
    finally:
        upstream.stop()
    lines = [
        "# From a loader worker's death to its run continuing on another worker",
        "",
        f"`python bench/recovery_bench.py --lease {args.lease:g} --trials {args.trials}`: two `run_loader` processes "
        "on PostgreSQL, worker poll 0.5 s.",
        "",
        "| fault | median (s) | worst (s) | worst ÷ lease |",
        "|---|---:|---:|---:|",
    ]
    for fault, times in results.items():
        lines.append(f"| {fault} | {statistics.median(times):.2f} | {max(times):.2f} | {max(times) / args.lease:.2f} |")
    save_report("recovery.md", lines)


if __name__ == "__main__":
    main()
