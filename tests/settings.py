"""Test settings: the project's settings with test-only defaults that never reach outside 127.0.0.1."""

import os
import tempfile

os.environ.setdefault("SECRET_KEY", "tests-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz")
os.environ.setdefault("PUMPFUN_API_URL", "http://127.0.0.1:9")  # discard port: a test that forgets its fake fails fast
os.environ.pop("SOLANA_RPC_URL", None)
os.environ.pop("SOLANA_WS_URL", None)
# Metadata goes to a fake gateway a test starts; without one, the discard port fails fast.
os.environ.setdefault("IPFS_GATEWAY", "http://127.0.0.1:9/ipfs/")
# Launcher-chosen metadata links are checked in tests as in production (private hosts refused,
# ports 80/443 only); launches point at IPFS, which goes to the fake gateway a test starts.
os.environ.pop("HISTORICAL_BATCH_SIZE", None)
# The test client speaks plain HTTP; production keeps these on.
os.environ.setdefault("SECURE_SSL_REDIRECT", "false")
# Tests run loads in their own process unless a test starts workers itself.
os.environ.setdefault("LOADER_WORKERS", "false")
# Short waits, so that retry tests take milliseconds; the production defaults are in project/settings.
os.environ.setdefault("UPSTREAM_RETRY_WAIT_INITIAL", "0.01")
os.environ.setdefault("UPSTREAM_RETRY_WAIT_MAX", "0.05")
os.environ.setdefault("UPSTREAM_RETRY_JITTER", "0.01")
os.environ.setdefault("UPSTREAM_TIMEOUT", "2")
os.environ.setdefault("DETAIL_RETRY_WAIT", "0.01")
os.environ.setdefault("PUMPFUN_REQUESTS_PER_SECOND", "1000")
# One page at a time, so tests that act "at the third page" are deterministic; the pipelined
# reader has tests of its own.
os.environ.setdefault("PUMPFUN_PREFETCH_PAGES", "1")
os.environ.setdefault("SOLANA_RPC_REQUESTS_PER_SECOND", "1000")

from project.settings import *  # noqa: F403

# The embedded pass's test database is a file, not SQLite's shared in-memory database: there a lock
# conflict fails at once ("database table is locked") instead of waiting like every real database, so
# a cancelled query still finishing in asgiref's thread could break every later test.
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    DATABASES["default"]["TEST"] = {  # noqa: F405
        "NAME": os.path.join(tempfile.gettempdir(), f"pumpfun-tests-{os.getpid()}.sqlite3")
    }

# Serve static files straight from the apps, without a collectstatic step.
STATIC_ROOT = None
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
