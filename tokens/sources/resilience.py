"""Retries with backoff and jitter, Retry-After, and one request-rate limit per upstream per process.

Knows nothing of Django: callers pass a `RetryPolicy` and the upstream's name and rate.
"""

import asyncio
import contextvars
import email.utils
import logging
import time
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import httpx
import stamina
from aiolimiter import AsyncLimiter

T = TypeVar("T")
logger = logging.getLogger(__name__)
# What is being retried, for the one line a retry logs (stamina's own line names no upstream).
_CALL: contextvars.ContextVar[tuple[str, int] | None] = contextvars.ContextVar("upstream_call", default=None)


# Who else hears of a retry while it happens (a run shows it on the page), in this context.
RETRY_LISTENER: contextvars.ContextVar[Callable[[str], None] | None] = contextvars.ContextVar(
    "retry_listener", default=None
)


def _log_retry(details: stamina.instrumentation.RetryDetails) -> None:
    what, attempts = _CALL.get() or (details.name, 0)
    cause = details.caused_by
    reason = str(cause) if str(cause) else type(cause).__name__
    attempt = details.retry_num + 1
    logger.info("retrying %s: %s; attempt %d of %d in %.1f s", what, reason, attempt, attempts, details.wait_for)
    listener = RETRY_LISTENER.get()
    if listener is not None:
        listener(f"retrying {what} ({attempt}/{attempts}), next in {max(1, round(details.wait_for))} s: {reason}")


stamina.instrumentation.set_on_retry_hooks([_log_retry])


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 6
    wait_initial: float = 0.5
    wait_max: float = 30.0
    wait_jitter: float = 1.0
    # A Retry-After longer than this is not waited out: the call fails at once and says so.
    max_retry_after: float = 120.0
    # Seconds one request may take in all (connect, send, the whole body): a server that trickles a
    # byte at a time never trips a per-read timeout, only this.
    deadline: float | None = 60.0
    # After this many calls in a row failed (each after its retries), the upstream is not called for
    # `circuit_cooldown` seconds: its calls fail at once, and what they would have filled stays unknown.
    circuit_failures: int = 5
    circuit_cooldown: float = 30.0


class TransientError(Exception):
    """A failure worth another try: timeouts, dropped connections, 429, 5xx, rate-limit replies."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RetriesExhausted(Exception):
    """Every attempt failed; the message carries the last failure."""


class CircuitOpen(RetriesExhausted):
    """The upstream failed too often in a row; it is left alone until its cool-down ends."""


class CircuitBreaker:
    """Consecutive failures of one upstream in this process. Open after `failures` in a row; after
    the cool-down one call goes through (half-open) while every other still fails at once: the probe's
    success closes the circuit, its failure opens it again for another cool-down.

    Written here rather than taken from purgatory or aiobreaker: it is consulted inside stamina's
    retry loop, once per try, and must tell that loop which try is the probe and how long the
    circuit stays open (the run's retry line says it); those libraries wrap a whole call instead."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.failures = 0
        self.opened_at: float | None = None
        self.probing = False

    def check(self, *, policy: RetryPolicy, what: str) -> bool:
        """Raise `CircuitOpen` unless this call may go; True when it goes as the half-open probe."""
        if self.opened_at is None:
            return False
        remaining = self.opened_at + policy.circuit_cooldown - time.monotonic()
        if remaining > 0 or self.probing:
            wait = f"trying it again in {remaining:.0f} s" if remaining > 0 else "one call is trying it now"
            raise CircuitOpen(f"{what}: not called, {self.name} failed {self.failures} times in a row; {wait}")
        self.probing = True
        return True

    def record(self, *, ok: bool, policy: RetryPolicy, probe: bool = False) -> None:
        """A call's outcome. Any success closes the circuit; only the probe's own end lets the next
        call probe (a call that started before the circuit opened may end while the probe runs)."""
        if ok:
            if self.failures >= policy.circuit_failures:
                logger.warning("%s answers again; its circuit is closed", self.name)
            self.failures, self.opened_at, self.probing = 0, None, False
            return
        if probe:
            self.probing = False
        self.failures += 1
        if self.failures >= policy.circuit_failures:
            if self.opened_at is None:
                logger.warning(
                    "%s failed %d times in a row; not calling it for %g s", self.name, self.failures,
                    policy.circuit_cooldown,
                )  # fmt: skip
            self.opened_at = time.monotonic()

    def release(self, *, probe: bool) -> None:
        """The call ended without an answer either way (cancelled): the next call may probe."""
        if probe:
            self.probing = False


_breakers: dict[str, CircuitBreaker] = {}


def circuit(name: str) -> CircuitBreaker:
    """The process-wide breaker of an upstream."""
    return _breakers.setdefault(name, CircuitBreaker(name))


async def send_or_transient(request: Awaitable[httpx.Response], *, deadline: float | None = None) -> httpx.Response:
    """Await an HTTP request within its deadline; what is worth another try comes out as a
    `TransientError`."""
    try:
        response = await asyncio.wait_for(request, deadline)
    except TimeoutError as exc:
        raise TransientError(f"no whole answer within {deadline:g} s") from exc
    except httpx.TimeoutException as exc:
        raise TransientError("timed out") from exc
    except httpx.TransportError as exc:
        raise TransientError(f"connection failed ({type(exc).__name__})") from exc
    transient_status(response.status_code, retry_after=response.headers.get("Retry-After"))
    return response


def transient_status(status: int, *, retry_after: str | None) -> None:
    """429 and 5xx are worth another try, after the server's Retry-After when it gives one."""
    if status == 429 or status >= 500:
        raise TransientError(f"answered HTTP {status}", retry_after=retry_after_seconds(retry_after))


def json_or_transient(response: httpx.Response) -> object:
    """A garbled body (a proxy's HTML page, a cut-off answer) is worth another try."""
    try:
        return response.json()
    except ValueError as exc:
        raise TransientError("sent a body that is not JSON") from exc


def retry_after_seconds(header: str | None, *, now: float | None = None) -> float | None:
    """`Retry-After` as seconds: either a number of seconds or an HTTP date."""
    if not header:
        return None
    value = header.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


# One limiter per upstream name per event loop: every concurrent call of the process shares it.
_limiters: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[str, float], AsyncLimiter]]"
_limiters = weakref.WeakKeyDictionary()


def shared_limiter(name: str, *, per_second: float) -> AsyncLimiter:
    per_loop = _limiters.setdefault(asyncio.get_running_loop(), {})
    key = (name, per_second)
    if key not in per_loop:
        # A bucket of one second's worth: at most `per_second` requests start in any second. Below one
        # a second, one request per period (aiolimiter refuses to hand out less than one).
        per_loop[key] = (
            AsyncLimiter(max_rate=per_second, time_period=1)
            if per_second >= 1
            else AsyncLimiter(max_rate=1, time_period=1 / per_second)
        )
    return per_loop[key]


async def acquire_calls(limiter: AsyncLimiter | None, calls: int) -> None:
    """Room for `calls` requests: a JSON-RPC batch costs as many as it holds."""
    if limiter is None:
        return
    step = max(1, int(limiter.max_rate))
    while calls > 0:
        await limiter.acquire(min(step, calls))
        calls -= step


async def call_with_retries(
    call: Callable[[], Awaitable[T]],
    *,
    policy: RetryPolicy,
    limiter: AsyncLimiter | None,
    what: str,
    breaker: CircuitBreaker | None = None,
) -> T:
    """Run `call` until it succeeds, is refused for good, or the attempts run out; with a breaker,
    not at all while the upstream's circuit is open."""
    if breaker is None:
        return await _with_retries(call, policy=policy, limiter=limiter, what=what)
    probe = breaker.check(policy=policy, what=what)
    try:
        result = await _with_retries(call, policy=policy, limiter=limiter, what=what)
    except RetriesExhausted:
        breaker.record(ok=False, policy=policy, probe=probe)
        raise
    except Exception:
        breaker.record(ok=True, policy=policy, probe=probe)  # it answered, with a final error: it is up
        raise
    except BaseException:
        breaker.release(probe=probe)
        raise
    breaker.record(ok=True, policy=policy, probe=probe)
    return result


async def _with_retries(
    call: Callable[[], Awaitable[T]], *, policy: RetryPolicy, limiter: AsyncLimiter | None, what: str
) -> T:

    def backoff(exc: Exception) -> bool | float:
        if not isinstance(exc, TransientError):
            return False
        if exc.retry_after is None:
            return True
        if exc.retry_after > policy.max_retry_after:
            return False
        return exc.retry_after

    token = _CALL.set((what, policy.attempts))
    try:
        async for attempt in stamina.retry_context(
            on=backoff,
            attempts=policy.attempts,
            timeout=None,
            wait_initial=policy.wait_initial,
            wait_max=policy.wait_max,
            wait_jitter=policy.wait_jitter,
        ):
            with attempt:
                if limiter is None:
                    return await call()
                async with limiter:
                    return await call()
    except TransientError as exc:
        if exc.retry_after is not None and exc.retry_after > policy.max_retry_after:
            raise RetriesExhausted(f"{what}: {exc}; asked to wait {exc.retry_after:.0f} s") from exc
        raise RetriesExhausted(f"{what}: {exc} (gave up after {policy.attempts} attempts)") from exc
    finally:
        _CALL.reset(token)
    raise AssertionError("unreachable: stamina either returns or raises")
