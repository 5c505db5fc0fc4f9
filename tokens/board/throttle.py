"""Per-address limits: anonymous API reads (HTTP 429 with Retry-After) and failed admin logins (a
pause of up to 15 minutes per address and username). Staff are not limited.

The counting is the `limits` library's moving windows, in `LIMITS_STORAGE_URI`: Redis with REDIS_URL,
so every web process shares one count per address; this process's memory on the embedded default
(one process). Entries expire with their window, so nothing grows without bound. A store that does
not answer lets requests through (said once in the log) rather than refuse everyone.
"""

import logging
import time
from functools import cache

from asgiref.sync import iscoroutinefunction, sync_to_async
from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.decorators import sync_and_async_middleware
from limits import RateLimitItem, RateLimitItemPerMinute
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from tokens.live.outage import Outage

logger = logging.getLogger(__name__)
LOCKOUT_MINUTES = 15
STORE_RETRY_SECONDS = 5.0  # while the store is down, how long requests skip it before one tries again
_store = Outage("the rate-limit store", log=logger, meanwhile="nobody is held back meanwhile")


@cache
def _limiter(uri: str) -> MovingWindowRateLimiter:
    # A store that accepts and never answers must cost a request a moment, not redis-py's 5 s.
    timeout = settings.SHARED_STORE_TIMEOUT
    return MovingWindowRateLimiter(storage_from_string(uri, socket_timeout=timeout, socket_connect_timeout=timeout))


def limiter() -> MovingWindowRateLimiter:
    return _limiter(settings.LIMITS_STORAGE_URI)


def reset() -> None:
    """Forget every count (tests start from none)."""
    limiter().storage.reset()


def client_address(request: HttpRequest) -> str:
    return request.META.get("REMOTE_ADDR") or "unknown"


def api_wait(request: HttpRequest) -> float | None:
    """Counts this request; the seconds to wait when the address is over its limit."""
    item = RateLimitItemPerMinute(settings.API_REQUESTS_PER_MINUTE)
    return _hit_or_wait(item, "api", client_address(request))


def _hit_or_wait(item: RateLimitItem, *key: str) -> float | None:
    if _store.resting(STORE_RETRY_SECONDS):
        return None  # down a moment ago: not every request waits out the timeout again
    try:
        if limiter().hit(item, *key):
            _store.ok()
            return None
        return max(1.0, limiter().get_window_stats(item, *key).reset_time - time.time())
    except Exception as exc:  # the store is away: nobody is held back meanwhile
        _store.failed(exc)
        return None


@sync_and_async_middleware
def api_rate_limit(get_response):
    def refused(wait: float) -> HttpResponse:
        response = JsonResponse({"error": "too many requests from this address; slow down"}, status=429)
        response["Retry-After"] = str(max(1, round(wait)))
        return response

    if iscoroutinefunction(get_response):

        async def middleware(request: HttpRequest) -> HttpResponse:
            if request.path.startswith("/api/") and not _staff(await request.auser()):
                # In a thread: a store across the network must never hold the server's event loop.
                wait = await sync_to_async(api_wait, thread_sensitive=False)(request)
                if wait is not None:
                    return refused(wait)
            return await get_response(request)

    else:

        def middleware(request: HttpRequest) -> HttpResponse:
            if request.path.startswith("/api/") and not _staff(getattr(request, "user", None)):
                wait = api_wait(request)
                if wait is not None:
                    return refused(wait)
            return get_response(request)

    return middleware


def _staff(user) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_staff)


class ThrottledAdminAuthenticationForm(AdminAuthenticationForm):
    """After LOGIN_FAILURES_ALLOWED wrong passwords for one username from one address within 15
    minutes, that pair waits until the oldest of them is 15 minutes old, whatever password it tries."""

    def clean(self):
        # Counted before the password is checked, so attempts sent at once cannot all slip in
        # under the limit; a login that succeeds forgets the pair's failures.
        key = ("admin-login", client_address(self.request), (self.data.get("username") or "").lower()[:150])
        item = RateLimitItemPerMinute(settings.LOGIN_FAILURES_ALLOWED, LOCKOUT_MINUTES)
        wait = _hit_or_wait(item, *key)
        if wait is not None:
            minutes = max(1, round(wait / 60))
            raise ValidationError(f"Too many failed logins; try again in {minutes} minutes.", code="throttled")
        cleaned = super().clean()
        try:
            limiter().clear(item, *key)
        except Exception as exc:
            _store.failed(exc)
        return cleaned
