"""`kill -9` of a running `load_historical_tokens`, then `--resume`: the same rows as a clean run."""

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.fakes.coins import make_coin, now_ms
from tests.fakes.pumpfun import FakePumpFun
from tests.live import server_env

ROOT = Path(__file__).resolve().parents[2]
ROW_SQL = (
    "SELECT mint, name, symbol, usd_market_cap, market_cap_sol, holders, bonding_progress, passed_filters,"
    " rejection_reason, sources, created_at FROM tokens_token"
)


@pytest.fixture
def upstream():
    now = now_ms()
    coins = [make_coin(i, created_ms=now - 5_000 - i * 3_000) for i in range(400)]
    coins += [make_coin(5_000 + i, created_ms=now - 3 * 86_400_000 - i) for i in range(50)]
    fake = FakePumpFun(coins, latency=0.04).start()
    yield fake
    fake.stop()


@pytest.fixture
def environment(tmp_path, upstream):
    env = server_env(
        DATABASE_URL=f"sqlite:///{tmp_path / 'kill.sqlite3'}",
        PUMPFUN_API_URL=upstream.url,
        RUN_STALE_AFTER="1",
        PUMPFUN_REQUESTS_PER_SECOND="1000",
    )
    manage(env, "migrate", "--noinput")
    return env, tmp_path / "kill.sqlite3"


def manage(env: dict, *args: str) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result


def query(db: Path, sql: str, *params) -> list[tuple]:
    with sqlite3.connect(db, timeout=20) as connection:
        return connection.execute(sql, params).fetchall()


def test_kill_9_then_resume_stores_exactly_what_a_clean_run_stores(environment, upstream):
    env, db = environment
    load = ("load_historical_tokens", "--days", "1", "--batch-size", "20", "--source", "hybrid")
    manage(env, *load)
    clean = set(query(db, ROW_SQL))
    assert len(clean) == 400
    query(db, "DELETE FROM tokens_token")
    [(clean_run,)] = query(db, "SELECT max(id) FROM tokens_loadrun")

    process = subprocess.Popen(
        [sys.executable, str(ROOT / "manage.py"), *load], env=env, cwd=ROOT,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        batches = query(db, "SELECT batches FROM tokens_loadrun WHERE id > ?", clean_run)
        if batches and batches[0][0] >= 4:
            break
        time.sleep(0.02)
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=10)
    [(run_id, status, stored_batches)] = query(
        db, "SELECT id, status, batches FROM tokens_loadrun ORDER BY id DESC LIMIT 1"
    )
    assert status == "running" and 4 <= stored_batches < 20  # killed mid-run; nobody marked it

    time.sleep(1.2)  # RUN_STALE_AFTER=1: its heartbeat is now stale
    # Launches arriving meanwhile are after the run's window and must not leak in.
    upstream.add_launches([make_coin(9_000 + i, created_ms=now_ms()) for i in range(30)])
    output = manage(env, "load_historical_tokens", "--resume", str(run_id)).stdout

    assert f"Run {run_id} succeeded: 400 fetched, 400 accepted" in output
    assert set(query(db, ROW_SQL)) == clean
    [(status, resumes)] = query(db, "SELECT status, resumes FROM tokens_loadrun WHERE id = ?", run_id)
    assert (status, resumes) == ("succeeded", 1)


def test_resume_refuses_a_finished_run_and_extra_parameters(environment, upstream):
    env, db = environment
    manage(env, "load_historical_tokens", "--days", "1", "--source", "recent")
    [(run_id,)] = query(db, "SELECT id FROM tokens_loadrun")
    base = [sys.executable, str(ROOT / "manage.py"), "load_historical_tokens", "--resume", str(run_id)]
    done = subprocess.run(base, env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and f"run {run_id} is succeeded; only interrupted" in done.stderr
    extra = subprocess.run([*base, "--days", "3"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert extra.returncode == 1 and "drop --days" in extra.stderr
