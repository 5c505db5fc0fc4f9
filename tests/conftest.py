import asyncio
import contextlib
import gc
import os
import sys
import threading
from collections.abc import Iterator

import pytest
import redis
from channels.layers import channel_layers
from django.conf import settings as django_settings
from django.core.cache import caches
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

from tests.fakes.chain import FakeSolana
from tests.fakes.coins import make_history
from tests.fakes.das import FakeDas
from tests.fakes.metadata import FakeGateway
from tests.fakes.pumpfun import FakePumpFun
from tokens.board import throttle
from tokens.sources import resilience

# Fixtures for the tests that drive a real Daphne process.
pytest_plugins = ["tests.live"]

# Property-based tests draw the same examples on every run (a failure found once is found every time,
# never a flaky pass), keep no example database between runs, and are judged on what they find, not on
# how long an example takes on a busy machine.
hypothesis_settings.register_profile(
    "project", derandomize=True, database=None, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
hypothesis_settings.load_profile("project")


# pytest-timeout (pytest.ini) ends the run when a test takes five minutes, with every thread's stack;
# a test waiting in an event loop shows there as a select(). Before that, say where each task waits,
# on the terminal's own stderr (pytest captures the process's while a test runs, and a run that ends
# that way never shows what it captured).
HANG_REPORT_SECONDS = 270
_terminal: list = []


def pytest_configure(config) -> None:
    with contextlib.suppress(OSError):  # capturing is paused here: descriptor 2 is the terminal's
        _terminal.append(os.fdopen(os.dup(2), "w", buffering=1))


def _print_waiting_tasks(nodeid: str) -> None:
    out = _terminal[0] if _terminal else sys.__stderr__
    print(f"\n{nodeid} still runs after {HANG_REPORT_SECONDS} s; its asyncio tasks wait at:", file=out)
    # By type, not isinstance: that reads __class__, which sets up a lazy object (a page's user).
    for each in [each for each in gc.get_objects() if issubclass(type(each), asyncio.Task)]:
        try:
            if not each.done() and not each.get_loop().is_closed():
                each.print_stack(file=out)
        except Exception as exc:  # one task that cannot say where it is must not hide the others
            print(f"(a task could not print its stack: {exc!r})", file=out)
    out.flush()


@pytest.fixture(autouse=True)
def report_a_hang(request) -> Iterator[None]:
    timer = threading.Timer(HANG_REPORT_SECONDS, _print_waiting_tasks, args=(request.node.nodeid,))
    timer.daemon = True
    timer.start()
    yield
    timer.cancel()


@pytest.fixture(autouse=True)
def fresh_channel_layer() -> Iterator[None]:
    """Each test gets its own layer (the in-memory layer's queues belong to one event loop), and
    with Redis an empty database (tests use their own Redis database number)."""
    channel_layers.backends.clear()
    resilience._breakers.clear()  # each test starts with every upstream's circuit closed
    caches["api"].clear()
    throttle.reset()  # per-address limits start from no count
    if django_settings.REDIS_URL:
        redis.Redis.from_url(django_settings.REDIS_URL).flushdb()
    yield
    channel_layers.backends.clear()


@pytest.fixture
def pumpfun(settings) -> Iterator[FakePumpFun]:
    """A fake pump.fun, empty until a test gives it coins; the loader is pointed at it."""
    server = FakePumpFun([]).start()
    settings.PUMPFUN_API_URL = server.url
    yield server
    server.stop()


@pytest.fixture
def das(settings) -> Iterator[FakeDas]:
    server = FakeDas().start()
    settings.SOLANA_RPC_URL = server.url + "/?api-key=test-secret-key"
    yield server
    server.stop()


@pytest.fixture
def solana(settings) -> Iterator[FakeSolana]:
    """A fake Solana RPC (HTTP and websocket) with a fake IPFS gateway; the loader is pointed at both."""
    server = FakeSolana().start()
    gateway = FakeGateway().start()
    settings.SOLANA_RPC_URL = server.url + "/?api-key=test-secret-key"
    settings.SOLANA_WS_URL = server.ws_url
    settings.IPFS_GATEWAY = gateway.url + "/ipfs/"
    server.gateway = gateway
    yield server
    server.stop()
    gateway.stop()


@pytest.fixture
def history():
    return make_history


@pytest.fixture(scope="session", autouse=True)
def close_loader_thread_connections(django_db_setup, django_db_blocker):
    """The loader's ORM calls run in asgiref's single worker thread, whose connection outlives the
    tests; close it before the test database is dropped (PostgreSQL refuses while it is open)."""
    yield
    from asgiref.sync import SyncToAsync
    from django.db import connections

    with django_db_blocker.unblock():
        SyncToAsync.single_thread_executor.submit(connections.close_all).result()
