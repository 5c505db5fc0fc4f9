"""Per-address limits, in this process: anonymous API reads (HTTP 429 with Retry-After) and failed
admin logins (a 15-minute pause per address and username). Staff are not limited. Several web
processes each keep their own count: put the front proxy's limit in front of them for a global one."""

import time
from collections import defaultdict, deque

from asgiref.sync import iscoroutinefunction
from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.decorators import sync_and_async_middleware

WINDOW = 60.0  # seconds
LOCKOUT = 15 * 60.0
_requests: dict[str, deque[float]] = defaultdict(deque)
_failures: dict[tuple[str, str], deque[float]] = defaultdict(deque)


def client_address(request: HttpRequest) -> str:
    return request.META.get("REMOTE_ADDR") or "unknown"


def _over(events: deque[float], *, limit: int, window: float, now: float) -> float | None:
    """Seconds until the oldest event leaves the window when `limit` are in it, else None."""
    while events and events[0] <= now - window:
        events.popleft()
    if len(events) >= limit:
        return events[0] + window - now
    return None


def api_wait(request: HttpRequest) -> float | None:
    """Counts this request; the wait when the address is over its limit."""
    now = time.monotonic()
    events = _requests[client_address(request)]
    wait = _over(events, limit=settings.API_REQUESTS_PER_MINUTE, window=WINDOW, now=now)
    if wait is None:
        events.append(now)
    return wait


@sync_and_async_middleware
def api_rate_limit(get_response):
    def refused(wait: float) -> HttpResponse:
        response = JsonResponse({"error": "too many requests from this address; slow down"}, status=429)
        response["Retry-After"] = str(max(1, round(wait)))
        return response

    if iscoroutinefunction(get_response):

        async def middleware(request: HttpRequest) -> HttpResponse:
            if request.path.startswith("/api/") and not _staff(await request.auser()):
                wait = api_wait(request)
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
    """After LOGIN_FAILURES_ALLOWED wrong passwords for one username from one address, that pair
    waits 15 minutes, whatever password it tries."""

    def clean(self):
        key = (client_address(self.request), (self.data.get("username") or "").lower()[:150])
        failures = _failures[key]
        now = time.monotonic()
        wait = _over(failures, limit=settings.LOGIN_FAILURES_ALLOWED, window=LOCKOUT, now=now)
        if wait is not None:
            minutes = max(1, round(wait / 60))
            raise ValidationError(f"Too many failed logins; try again in {minutes} minutes.", code="throttled")
        try:
            return super().clean()
        except ValidationError:
            failures.append(now)
            raise
