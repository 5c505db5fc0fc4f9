"""`kill -9` while a run's details are being fetched, then `--resume`: every token ends with its
details, and none is written twice."""

import os
import signal
import subprocess
import sys
import time

import pytest

from tests.fakes.chain import FakeSolana, history
from tests.fakes.metadata import FakeGateway
from tests.live import server_env
from tests.runs.test_kill_and_resume import ROOT, manage, query

COUNT = 120


@pytest.fixture
def chain():
    solana = FakeSolana().start()
    solana.holder_latency = 0.1
    gateway = FakeGateway().start()
    launches = history(COUNT, spacing_s=30)
    solana.add(*launches, notify=False)
    for index, launch in enumerate(launches):
        solana.accounts_by_mint[launch.mint] = [(f"owner-{n}", 1) for n in range(index % 5 + 1)]
    yield solana, gateway, launches
    solana.stop()
    gateway.stop()


def test_kill_9_during_details_then_resume_fetches_the_rest_once(tmp_path, chain):
    solana, gateway, launches = chain
    db = tmp_path / "details-kill.sqlite3"
    env = server_env(
        DATABASE_URL=f"sqlite:///{db}", SOLANA_RPC_URL=solana.url, SOLANA_WS_URL=solana.ws_url,
        IPFS_GATEWAY=gateway.url + "/ipfs/", METADATA_ALLOW_PRIVATE_HOSTS="true", RUN_STALE_AFTER="1",
        SOLANA_RPC_REQUESTS_PER_SECOND="12",
    )  # fmt: skip
    manage(env, "migrate", "--noinput")
    load = [sys.executable, str(ROOT / "manage.py"), "load_historical_tokens", "--days", "1", "--upstream", "chain"]
    process = subprocess.Popen(load, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    progress = []
    while time.monotonic() < deadline:
        progress = query(db, "SELECT fetched, details_done, details_queued FROM tokens_loadrun")
        if progress and progress[0][0] == COUNT and progress[0][1] <= progress[0][2] - 40:
            break
        time.sleep(0.02)
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=10)
    [(fetched, done, queued)] = query(db, "SELECT fetched, details_done, details_queued FROM tokens_loadrun")
    assert fetched == COUNT and done < queued  # every row stored, details half way
    # Holders and metadata for each; a curve read for the first page's only (later pages came with theirs).
    assert 2 * COUNT < queued < 3 * COUNT
    holders_asked_before = len(surveys(solana))

    time.sleep(1.2)  # RUN_STALE_AFTER=1
    output = manage(env, "load_historical_tokens", "--resume", "1").stdout
    assert "Run 1 succeeded" in output and f"details {queued} of {queued}" in output
    rows = query(db, "SELECT mint, holders, image_uri, usd_market_cap FROM tokens_token")
    expected = {launch.mint: index % 5 + 1 for index, launch in enumerate(launches)}
    assert {mint: holders for mint, holders, _, _ in rows} == expected
    assert all(image and cap for _, _, image, cap in rows)
    assert query(db, "SELECT count(*) FROM tokens_detailtask") == [(0,)]
    # The counts in flight when the process died were asked again; none was asked a third time.
    asked = surveys(solana)
    assert max(asked.count(mint) for mint in expected) <= 2
    assert len(asked) - holders_asked_before <= COUNT


def surveys(solana) -> list[str]:
    """The mint of each holder survey started: its first page (a survey reads pages until an empty one)."""
    return [call["params"]["mint"] for call in solana.calls if not call["params"].get("cursor")]
