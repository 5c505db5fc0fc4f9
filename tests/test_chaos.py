"""Production shape under faults, with real processes on PostgreSQL and a Redis this test owns:
a loader worker frozen (SIGSTOP) past its lease while another takes its run over, then thawed; a
worker stopped by SIGTERM handing its run to another; Redis stopped under a page's POST, `--enqueue`,
a running load and an idle worker; a run queued while no worker runs."""

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.fakes.coins import make_coin, make_history, now_ms
from tests.fakes.pumpfun import FakePumpFun
from tests.live import PASSWORD, free_port, server_env, stop, wait_for_port

pytestmark = pytest.mark.production
ROOT = Path(__file__).resolve().parent.parent
POSTGRES = "postgres://postgres@127.0.0.1:5432"
COUNT = 200


@pytest.fixture
def database():
    name = f"loader_chaos_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(f"{POSTGRES}/postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    yield f"{POSTGRES}/{name}"
    with psycopg.connect(f"{POSTGRES}/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def upstream():
    now = now_ms()
    coins = make_history(COUNT, newest_ms=now - 1_000, spacing_ms=10_000)
    coins += [make_coin(7_000 + i, created_ms=now - 3 * 86_400_000 - i) for i in range(20)]
    fake = FakePumpFun(coins, latency=0.08, max_limit=20).start()
    yield fake
    fake.stop()


@pytest.fixture
def env(database, own_redis, upstream, tmp_path):
    env = server_env(
        DATABASE_URL=database, REDIS_URL=own_redis["url"], LOADER_WORKERS="true", PUMPFUN_API_URL=upstream.url,
        PUMPFUN_REQUESTS_PER_SECOND="1000", RUN_STALE_AFTER="3", WORKER_POLL_SECONDS="0.3",
        DB_IDLE_TRANSACTION_TIMEOUT_MS="2000",
    )  # fmt: skip
    manage(env, "migrate", "--noinput")
    return env


def manage(env, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )


def worker(env, log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "manage.py", "run_loader"], env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=log.open("w")
    )


def run_row(env, run_id: int) -> dict:
    with psycopg.connect(env["DATABASE_URL"]) as db:
        cursor = db.execute(
            "SELECT status, fetched, accepted, batches, executed_by, lease_epoch, recoveries, resumes "
            "FROM tokens_loadrun WHERE id = %s",
            (run_id,),
        )
        names = [column.name for column in cursor.description]
        return dict(zip(names, cursor.fetchone(), strict=True))


def stored_mints(env) -> list[str]:
    with psycopg.connect(env["DATABASE_URL"]) as db:
        return [row[0] for row in db.execute("SELECT mint FROM tokens_token ORDER BY mint")]


def enqueue(env) -> int:
    result = manage(env, "load_historical_tokens", "--days", "1", "--source", "recent", "--batch-size", "10",
                    "--enqueue", "--json")  # fmt: skip
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])["run_id"]


def until(predicate, timeout: float = 60, what: str = "the condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def expected_mints(upstream) -> list[str]:
    return sorted(coin["mint"] for coin in upstream.coins[:COUNT])


def test_a_frozen_worker_is_taken_over_and_refused_when_it_thaws(env, upstream, tmp_path):
    first = worker(env, tmp_path / "a.log")
    try:
        run_id = enqueue(env)
        until(lambda: run_row(env, run_id)["batches"] >= 2, what="worker A's first batches")
        os.kill(first.pid, signal.SIGSTOP)  # frozen, not dead: its lease (3 s) runs out
        second = worker(env, tmp_path / "b.log")
        try:
            until(lambda: run_row(env, run_id)["recoveries"] == 1, what="worker B to take the run over")
            os.kill(first.pid, signal.SIGCONT)  # A wakes up mid-run and tries to write
            final = until(
                lambda: (row := run_row(env, run_id))["status"] == "succeeded" and row, timeout=120, what="the run"
            )
        finally:
            stop(second)
    finally:
        os.kill(first.pid, signal.SIGCONT)
        stop(first)
    assert str(second.pid) in final["executed_by"]
    assert final["fetched"] == final["accepted"] == COUNT  # counted once: A's late batch was refused
    assert stored_mints(env) == expected_mints(upstream)
    log = (tmp_path / "a.log").read_text()
    assert "another executor holds it now" in log and "this executor stops without writing" in log


def test_sigterm_hands_a_run_to_another_worker_that_finishes_it(env, upstream, tmp_path):
    first = worker(env, tmp_path / "a.log")
    run_id = enqueue(env)
    until(lambda: run_row(env, run_id)["batches"] >= 2, what="worker A's first batches")
    first.send_signal(signal.SIGTERM)
    assert first.wait(timeout=30) == 0
    handed = run_row(env, run_id)
    assert handed["status"] == "queued" and handed["executed_by"] == ""
    second = worker(env, tmp_path / "b.log")
    try:
        final = until(lambda: (row := run_row(env, run_id))["status"] == "succeeded" and row, what="the run")
    finally:
        stop(second)
    assert final["fetched"] == COUNT and final["resumes"] == 1
    assert stored_mints(env) == expected_mints(upstream)


def test_a_run_queued_while_no_worker_runs_waits_and_runs_when_one_starts(env, upstream, tmp_path):
    run_id = enqueue(env)
    with psycopg.connect(env["DATABASE_URL"]) as db:  # queued two minutes ago, as far as anything can tell
        db.execute("UPDATE tokens_loadrun SET created_at = now() - interval '2 minutes' WHERE id = %s", (run_id,))
    time.sleep(3)  # and nobody came meanwhile: the row waits
    assert run_row(env, run_id)["status"] == "queued"
    second = worker(env, tmp_path / "w.log")
    try:
        until(lambda: run_row(env, run_id)["status"] == "succeeded", what="the run")
    finally:
        stop(second)


def test_redis_down_delays_work_and_never_answers_500(env, own_redis, upstream, tmp_path):
    port = free_port()
    web = subprocess.Popen(
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "project.asgi:application"],
        env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=(tmp_path / "web.log").open("w"),
    )  # fmt: skip
    idle = worker(env, tmp_path / "idle.log")
    try:
        wait_for_port(port, web)
        manage({**env, "DJANGO_SUPERUSER_PASSWORD": PASSWORD}, "createsuperuser", "--noinput", "--username", "ops",
               "--email", "ops@example.invalid")  # fmt: skip
        stop(own_redis["process"])  # Redis goes away
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            client.get("/admin/login/")
            client.post("/admin/login/", data={"username": "ops", "password": PASSWORD,
                        "csrfmiddlewaretoken": client.cookies["csrftoken"], "next": "/"})  # fmt: skip
            started = time.monotonic()
            response = client.post(
                "/runs/", json={"days": 1, "batch_size": 10, "source": "recent"},
                headers={"Accept": "application/json", "X-CSRFToken": client.cookies["csrftoken"]},
            )  # fmt: skip
            assert response.status_code == 202, response.text
            assert time.monotonic() - started < 10
            assert "channel layer is down" in response.json()["note"]
            run_id = response.json()["run_id"]
        result = manage(env, "load_historical_tokens", "--days", "1", "--source", "trending", "--enqueue", "--json")
        assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
        # The idle worker survived the outage and runs the page's run from the database queue.
        final = until(lambda: (row := run_row(env, run_id))["status"] == "succeeded" and row, what="the page's run")
        assert final["fetched"] == COUNT and idle.poll() is None
        # A command-line load during the outage finishes and prints its JSON line.
        local = manage(env, "load_historical_tokens", "--days", "1", "--source", "hybrid", "--json", timeout=180)
        assert local.returncode == 0, local.stderr
        assert json.loads(local.stdout.strip().splitlines()[-1])["status"] == "succeeded"
        assert local.stderr.count("channel layer is not taking messages") <= 1
    finally:
        stop(idle)
        stop(web)
