"""Answers of the token API kept for a second, keyed by the view asked for and the board cursor.

Every change to what the board shows (a batch, a detail, a re-judged filter) takes a new board
cursor, so an answer kept under the current cursor is exactly what the database would give; the
second bounds relative filters (`max_age`). Django's cache framework holds them (the `api` cache):
in this process's memory on the embedded default, at most its MAX_ENTRIES answers; in Redis, shared
by every web process, when REDIS_URL is set, each answer expiring after the second. Only answers up
to API_CACHE_MAX_BYTES are kept, so memory is bounded by entries times that size. The key is the
parsed view, hashed: a reader who varies the raw query string (order, unknown parameters) gets no
new entry for it. A cache that is down is a miss, never an error.
"""

import hashlib
import logging

import orjson
from django.conf import settings
from django.core.cache import caches

from tokens.live.outage import Outage

logger = logging.getLogger(__name__)
RETRY_SECONDS = 5.0  # while the cache is down, how long requests skip it before one tries again
_cache = Outage("the API answer cache", log=logger, meanwhile="answers come from the database meanwhile")


def key_for(*, view: dict[str, str], paging: dict[str, str], cursor: int) -> str:
    material = orjson.dumps([sorted(view.items()), sorted(paging.items()), cursor])
    return "tokens:" + hashlib.sha256(material).hexdigest()


def cached(key: str) -> bytes | None:
    if _cache.resting(RETRY_SECONDS):
        return None  # down a moment ago: a miss at once, not a timeout per request
    try:
        body = caches["api"].get(key)
    except Exception as exc:
        _cache.failed(exc)
        return None
    _cache.ok()
    return body if isinstance(body, bytes) else None


def keep(key: str, body: bytes) -> None:
    if len(body) > settings.API_CACHE_MAX_BYTES or _cache.resting(RETRY_SECONDS):
        return
    try:
        caches["api"].set(key, body, timeout=settings.API_CACHE_SECONDS)
    except Exception as exc:
        _cache.failed(exc)
