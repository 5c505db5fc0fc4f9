"""`load_historical_tokens` as a person or a script runs it: a real process with its output piped
(not a terminal), Ctrl-C on a tail, and `kill -9` followed at once by `--resume`."""

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.fakes.coins import make_history
from tests.fakes.http import Reply
from tests.fakes.pumpfun import FakePumpFun
from tests.live import server_env

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def fake():
    server = FakePumpFun([]).start()
    yield server
    server.stop()


@pytest.fixture
def database(tmp_path, fake) -> dict[str, str]:
    env = server_env(
        DATABASE_URL=f"sqlite:///{tmp_path / 'cli.sqlite3'}", PUMPFUN_API_URL=fake.url,
        UPSTREAM_RETRY_WAIT_INITIAL="0.05", UPSTREAM_RETRY_JITTER="0",
    )  # fmt: skip
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True, timeout=120)
    env["DB_FILE"] = str(tmp_path / "cli.sqlite3")
    return env


def manage(env: dict[str, str], *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    command = [sys.executable, "manage.py", "load_historical_tokens", *args]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


def run_row(env: dict[str, str], run_id: int) -> tuple[str, str, int]:
    with sqlite3.connect(env["DB_FILE"]) as db:
        return db.execute("SELECT status, error, fetched FROM tokens_loadrun WHERE id = ?", (run_id,)).fetchone()


def test_off_a_terminal_a_failure_is_said_once_per_channel_and_nothing_else(fake, database):
    fake.fault_plan = lambda n: Reply(503, {"message": "Service Unavailable"})
    result = manage(database, "--days", "1", "--batch-size", "5")
    assert result.returncode == 1
    expected = f"pump.fun at offset 0: answered HTTP 503 (gave up after 6 attempts); PUMPFUN_API_URL is {fake.url}"
    assert result.stderr.strip().splitlines() == [f"CommandError: run 1 failed: {expected}"]
    out = result.stdout.strip().splitlines()
    assert len(out) == 2 and out[0].startswith("Run 1: loading hybrid") and out[1].startswith("Run 1 failed: 0 fetched")


def test_asked_for_more_every_retry_is_one_readable_line(fake, database):
    fake.fault_plan = lambda n: Reply(503, {"message": "Service Unavailable"}) if n <= 3 else None
    fake.coins = make_history(4)
    result = manage(database, "--days", "1", "--source", "recent", "-v", "2")
    assert result.returncode == 0, result.stderr
    retries = [line for line in result.stderr.splitlines() if "retrying" in line]
    assert len(retries) == 3
    for attempt, line in enumerate(retries, start=2):
        pattern = (
            r"\S+ \S+ INFO tokens\.sources\.resilience: retrying pump\.fun at offset 0: answered HTTP 503; "
            rf"attempt {attempt} of 6 in \d+\.\d s"
        )
        assert re.fullmatch(pattern, line), line
    assert "Traceback" not in result.stderr


def test_ctrl_c_on_a_tail_ends_it_succeeded_with_exit_0(fake, database):
    fake.coins = make_history(6)
    command = [sys.executable, "manage.py", "load_historical_tokens", "--days", "1", "--source", "recent",
               "--follow", "--json"]  # fmt: skip
    # A shell without job control starts background jobs (`make test &`, many CI wrappers) with SIGINT
    # ignored, and children inherit that: the command gets a terminal's Ctrl-C, whoever started us.
    process = subprocess.Popen(
        command, cwd=ROOT, env=database, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with sqlite3.connect(database["DB_FILE"]) as db:
                row = db.execute("SELECT checkpoint FROM tokens_loadrun WHERE id = 1").fetchone()
            if row and row[0] and json.loads(row[0]).get("phase") == "tail":
                break
            time.sleep(0.1)
        else:
            pytest.fail("the run never reached its tail")
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
    assert process.returncode == 0, err
    assert json.loads(out.strip().splitlines()[-1])["status"] == "succeeded"
    assert run_row(database, 1)[:2] == ("succeeded", "")


def test_after_kill_9_the_run_is_seen_interrupted_at_once_and_resumes(fake, database):
    fake.coins = make_history(40)
    fake.latency = 0.3  # slow pages: the process is killed mid-backfill
    command = [sys.executable, "manage.py", "load_historical_tokens", "--days", "1", "--source", "recent",
               "--batch-size", "10"]  # fmt: skip
    process = subprocess.Popen(command, cwd=ROOT, env=database, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while run_row_or_none(database) is None or run_row(database, 1)[2] == 0:
        assert time.monotonic() < deadline, "the run stored nothing"
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert run_row(database, 1)[0] == "running"  # nobody recorded anything: the process is gone
    fake.latency = 0
    result = manage(database, "--resume", "1")  # no waiting for the heartbeat to go stale
    assert result.returncode == 0, result.stderr
    assert run_row(database, 1)[0] == "succeeded"
    with sqlite3.connect(database["DB_FILE"]) as db:
        assert db.execute("SELECT count(*) FROM tokens_token").fetchone()[0] == 40


def run_row_or_none(env: dict[str, str]):
    try:
        return run_row(env, 1)
    except sqlite3.OperationalError:
        return None
