"""A real Daphne process serving the app on the embedded default, for tests that use it like a user."""

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.pumpfun import FakePumpFun

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "live-test-password-1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"daphne exited with {process.returncode}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise TimeoutError(f"daphne did not listen on {port}")


@pytest.fixture
def upstream():
    """A fake pump.fun with a real round trip of 150 ms."""
    fake = FakePumpFun([], latency=0.15).start()
    yield fake
    fake.stop()


@pytest.fixture
def own_redis(tmp_path):
    """A Redis of this test's own, so stopping it touches nothing else."""
    port = free_port()
    command = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
               "--dir", str(tmp_path)]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_port(port, process)
    yield {"url": f"redis://127.0.0.1:{port}/0", "process": process, "port": port, "command": command}
    stop(process)


def server_env(**overrides: str) -> dict[str, str]:
    """The environment of a production-like process (DEBUG off) speaking plain HTTP on loopback."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "project.settings",
        "SECRET_KEY": "process-test-only-key-" + "x1y2z3" * 8,
        "DEBUG": "false",
        "SECURE_SSL_REDIRECT": "false",
        "SESSION_COOKIE_SECURE": "false",
        "CSRF_COOKIE_SECURE": "false",
        "DJANGO_SUPERUSER_PASSWORD": PASSWORD,
        # Every test client connects from 127.0.0.1: the per-address limits are tested on their own.
        "WS_MAX_PER_IP": "100000",
        "API_REQUESTS_PER_MINUTE": "1000000",
    }
    for name in ("REDIS_URL", "SOLANA_RPC_URL", "HISTORICAL_BATCH_SIZE", "LOADER_WORKERS", "FOLLOW_LAUNCHES"):
        env.pop(name, None)
    env.update(overrides)
    return env


@pytest.fixture
def server(tmp_path, upstream, request):
    env = server_env(
        DATABASE_URL=f"sqlite:///{tmp_path / 'live.sqlite3'}",
        STATIC_ROOT=str(tmp_path / "static"),
        PUMPFUN_API_URL=upstream.url,
        # A real upstream's pace: 4 requests a second (read-ahead otherwise makes 7 pages instant).
        PUMPFUN_REQUESTS_PER_SECOND="4",
    )
    with serve_app(env) as host:
        yield host


@contextlib.contextmanager
def serve_app(env: dict[str, str]) -> Iterator[str]:
    """Migrate, collect static files, create the staff login `ops`, serve with Daphne; yields host:port."""
    manage = [sys.executable, str(ROOT / "manage.py")]
    superuser = ["createsuperuser", "--noinput", "--username", "ops", "--email", "ops@example.invalid"]
    for command in (["migrate", "--noinput"], ["collectstatic", "--noinput"], superuser):
        subprocess.run([*manage, *command], env=env, check=True, capture_output=True, cwd=ROOT)
    port = free_port()
    # Its log goes to a file: a pipe nobody reads fills after some hundred log lines (a warning for
    # every 400 answer) and then holds the server still in the middle of a test.
    with tempfile.TemporaryFile("w+") as log:
        daphne = subprocess.Popen(
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "project.asgi:application"],
            env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=log,
        )  # fmt: skip
        try:
            wait_for_port(port, daphne)
        except Exception as exc:
            stop(daphne)
            log.seek(0)
            raise RuntimeError(f"{exc}; its log ends:\n{log.read()[-3000:]}") from exc
        try:
            yield f"127.0.0.1:{port}"
        finally:
            stop(daphne)


def stop(process: subprocess.Popen) -> None:
    """SIGTERM, then SIGKILL: Daphne waits up to 10 s for open connections to close on their own."""
    process.terminate()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)
