"""Production shape: two Daphne processes, a loader worker, Redis and PostgreSQL, real sockets.

Runs started from the command line (directly or handed to the worker) and from a page all stream to
pages connected to both web processes.
"""

import asyncio
import json
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import psycopg
import pytest
import redis
import websockets

from tests.fakes.coins import make_coin, make_history, now_ms
from tests.fakes.pumpfun import FakePumpFun
from tests.live import PASSWORD, free_port, server_env, stop, wait_for_port

pytestmark = pytest.mark.production
ROOT = Path(__file__).resolve().parent.parent
POSTGRES = "postgres://postgres@127.0.0.1:5432"
REDIS = "redis://127.0.0.1:6379/14"
FINAL = ("succeeded", "failed", "cancelled", "interrupted")


def services_reachable() -> bool:
    try:
        redis.Redis.from_url(REDIS, socket_connect_timeout=1).ping()
        psycopg.connect(f"{POSTGRES}/postgres", connect_timeout=2).close()
    except Exception:
        return False
    return True


@pytest.fixture
def database():
    if not services_reachable():
        pytest.fail("PostgreSQL (127.0.0.1:5432) and Redis (127.0.0.1:6379) must run: `bash .ci/services`")
    name = f"loader_mp_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(f"{POSTGRES}/postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    redis.Redis.from_url(REDIS).flushdb()
    yield f"{POSTGRES}/{name}"
    with psycopg.connect(f"{POSTGRES}/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def upstream():
    now = now_ms()
    coins = make_history(200, newest_ms=now - 1_000, spacing_ms=10_000)
    coins += [make_coin(7_000 + i, created_ms=now - 3 * 86_400_000 - i) for i in range(60)]
    fake = FakePumpFun(coins, latency=0.03).start()
    yield fake
    fake.stop()


def start_web(env: dict[str, str], *, logs: Path) -> tuple[subprocess.Popen, str]:
    """A Daphne web process on a free port, its log in `logs`; with its host:port once it listens."""
    port = free_port()
    web = subprocess.Popen(
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "project.asgi:application"],
        env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=(logs / f"web{port}.log").open("w"),
    )  # fmt: skip
    try:
        wait_for_port(port, web)
    except Exception:
        stop(web)
        raise
    return web, f"127.0.0.1:{port}"


@pytest.fixture
def cluster(database, upstream, tmp_path):
    env = server_env(
        DATABASE_URL=database,
        REDIS_URL=REDIS,
        LOADER_WORKERS="true",
        PUMPFUN_API_URL=upstream.url,
        PUMPFUN_REQUESTS_PER_SECOND="1000",
    )
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "--noinput"], env=env, check=True, capture_output=True, cwd=ROOT)
    subprocess.run(
        [*manage, "createsuperuser", "--noinput", "--username", "ops", "--email", "ops@example.invalid"],
        env=env, check=True, capture_output=True, cwd=ROOT,
    )  # fmt: skip
    processes, hosts = [], []
    try:
        for _ in range(2):
            web, host = start_web(env, logs=tmp_path)
            processes.append(web)
            hosts.append(host)
        worker = subprocess.Popen(
            [*manage, "runworker", "token-loader"], env=env, cwd=ROOT,
            stdout=subprocess.DEVNULL, stderr=(tmp_path / "worker.log").open("w"),
        )  # fmt: skip
        processes.append(worker)
        yield {"env": env, "hosts": hosts, "worker_pid": worker.pid, "manage": manage}
    finally:
        for process in processes:
            stop(process)


async def watch(hosts: list[str], clients_per_host: int, start, runs: int) -> list[dict[str, dict]]:
    """Connect the clients, start the runs, and gather per client the tokens of each run by mint."""
    sockets = []
    for host in hosts:
        for _ in range(clients_per_host):
            sockets.append(await websockets.connect(f"ws://{host}/ws/tokens/", origin=f"http://{host}"))

    async def gather(ws) -> dict[int, dict]:
        seen: dict[int, dict] = {}
        finished: set[int] = set()  # the database is this test's own: every run is one we started
        while len(finished) < runs:
            message = json.loads(await asyncio.wait_for(ws.recv(), timeout=60))
            if message["type"] == "batch":
                seen.setdefault(message["run_id"], {}).update({t["mint"]: t for t in message["tokens"]})
            elif message["status"] in FINAL:
                finished.add(message["run_id"])
        return seen

    listeners = [asyncio.create_task(gather(ws)) for ws in sockets]
    await asyncio.to_thread(start)
    results = await asyncio.gather(*listeners)
    for ws in sockets:
        await ws.close()
    return results


def run_ids(db_url: str) -> list[int]:
    with psycopg.connect(db_url) as connection:
        return [row[0] for row in connection.execute("SELECT id FROM tokens_loadrun ORDER BY id")]


def test_runs_from_the_command_the_worker_and_a_page_stream_to_pages_on_both_web_processes(cluster, upstream, database):
    env, hosts, manage = cluster["env"], cluster["hosts"], cluster["manage"]
    expected = {c["mint"] for c in upstream.coins[:200]}

    def start_runs() -> None:
        enqueue = subprocess.run(
            [*manage, "load_historical_tokens", "--days", "1", "--batch-size", "20", "--source", "recent", "--enqueue"],
            env=env, cwd=ROOT, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert enqueue.returncode == 0, enqueue.stderr
        direct = subprocess.run(
            [*manage, "load_historical_tokens", "--days", "1", "--batch-size", "25", "--source", "trending"],
            env=env, cwd=ROOT, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert direct.returncode == 0, direct.stderr
        session = httpx.Client(base_url=f"http://{hosts[1]}", timeout=10)
        session.get("/admin/login/")
        session.post(
            "/admin/login/",
            data={"username": "ops", "password": PASSWORD, "csrfmiddlewaretoken": session.cookies["csrftoken"]},
        )
        page = session.post(
            "/runs/",
            data={"days": "1", "batch_size": "40", "source": "hybrid"},
            headers={"Accept": "application/json", "X-CSRFToken": session.cookies["csrftoken"]},
        )
        assert page.status_code == 202, page.text

    # 60 pages per web process: more than redis-py 8's default pool of 100 allows in all.
    results = asyncio.run(watch(hosts, 60, start_runs, runs=3))

    enqueued, direct, from_page = run_ids(database)
    for seen in results:
        assert set(seen[enqueued]) == expected
        assert set(seen[direct]) == expected
        assert set(seen[from_page]) == expected
    with psycopg.connect(database) as connection:
        rows = dict(connection.execute("SELECT id, executed_by FROM tokens_loadrun").fetchall())
        statuses = {row[0] for row in connection.execute("SELECT status FROM tokens_loadrun")}
        stored = connection.execute("SELECT count(*) FROM tokens_token").fetchone()[0]
    worker = f":{cluster['worker_pid']}"
    assert rows[enqueued].endswith(worker) and rows[from_page].endswith(worker)
    assert not rows[direct].endswith(worker)  # the command ran it itself, and pages still saw it
    assert statuses == {"succeeded"} and stored == 200


def test_per_address_limits_hold_across_web_processes(database, tmp_path):
    """Anonymous API reads are counted in Redis: an address spread over two web processes gets the
    limit once, not once per process."""
    env = server_env(DATABASE_URL=database, REDIS_URL=REDIS, API_REQUESTS_PER_MINUTE="6")
    subprocess.run([sys.executable, str(ROOT / "manage.py"), "migrate", "--noinput"], env=env, check=True,
                   capture_output=True, cwd=ROOT)  # fmt: skip
    processes, hosts = [], []
    try:
        for _ in range(2):
            web, host = start_web(env, logs=tmp_path)
            processes.append(web)
            hosts.append(host)
        codes = [httpx.get(f"http://{hosts[i % 2]}/api/tokens/?limit=1", timeout=10).status_code for i in range(6)]
        assert codes == [200] * 6  # three on each process
        refused = httpx.get(f"http://{hosts[0]}/api/tokens/?limit=1", timeout=10)
        assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1  # the 4th on this one
    finally:
        for process in processes:
            stop(process)
