"""`kill -9` of a chain load mid-backfill, then `--resume`: exactly the rows of a clean run."""

import os
import signal
import subprocess
import sys
import time

import pytest

from tests.fakes.chain import FakeSolana, Launch, history
from tests.fakes.metadata import FakeGateway
from tests.live import server_env
from tests.runs.test_kill_and_resume import ROOT, ROW_SQL, manage, query

CHAIN_ROW_SQL = ROW_SQL.replace(" FROM", ", creator, signature, bonding_curve, description, image_uri FROM")


@pytest.fixture
def chain():
    solana = FakeSolana(latency=0.01).start()
    gateway = FakeGateway().start()
    now = int(time.time())
    solana.add(*history(20, newest_s=now - 3 * 86_400, start=50_000), notify=False)  # the ledger is oldest first
    solana.add(*history(600, newest_s=now - 5, spacing_s=20), notify=False)
    yield solana, gateway
    solana.stop()
    gateway.stop()


@pytest.fixture
def environment(tmp_path, chain):
    solana, gateway = chain
    env = server_env(
        DATABASE_URL=f"sqlite:///{tmp_path / 'chain-kill.sqlite3'}",
        SOLANA_RPC_URL=solana.url + "/?api-key=test-secret-key",
        SOLANA_WS_URL=solana.ws_url,
        IPFS_GATEWAY=gateway.url + "/ipfs/",
        METADATA_ALLOW_PRIVATE_HOSTS="true",
        PUMPFUN_API_URL="http://127.0.0.1:9",
        RUN_STALE_AFTER="1",
        SOLANA_RPC_REQUESTS_PER_SECOND="1000",
    )
    manage(env, "migrate", "--noinput")
    return env, tmp_path / "chain-kill.sqlite3"


def test_kill_9_mid_chain_backfill_then_resume_stores_exactly_a_clean_run(environment, chain):
    solana, _ = chain
    env, db = environment
    load = ("load_historical_tokens", "--days", "1", "--batch-size", "25", "--source", "recent", "--upstream", "chain")
    manage(env, *load)
    clean = set(query(db, CHAIN_ROW_SQL))
    assert len(clean) == 600
    query(db, "DELETE FROM tokens_token")
    [(clean_run,)] = query(db, "SELECT max(id) FROM tokens_loadrun")

    process = subprocess.Popen(
        [sys.executable, str(ROOT / "manage.py"), *load], env=env, cwd=ROOT,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        batches = query(db, "SELECT batches FROM tokens_loadrun WHERE id > ?", clean_run)
        if batches and batches[0][0] >= 5:
            break
        time.sleep(0.02)
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=10)
    [(run_id, status, stored_batches, upstream)] = query(
        db, "SELECT id, status, batches, upstream FROM tokens_loadrun ORDER BY id DESC LIMIT 1"
    )
    assert status == "running" and 5 <= stored_batches < 24 and upstream == "chain"

    time.sleep(1.2)  # RUN_STALE_AFTER=1: its heartbeat is now stale
    # Launches after the run started are at the head, outside its backfill.
    solana.add(*[Launch(index=80_000 + i, block_time=int(time.time())) for i in range(10)], notify=False)
    output = manage(env, "load_historical_tokens", "--resume", str(run_id)).stdout

    assert f"Run {run_id} succeeded: 600 fetched, 600 accepted" in output
    assert set(query(db, CHAIN_ROW_SQL)) == clean
