"""One background loop's health: a failure starts an outage, said once; its end is said once too.

The detail stage, the live refresh, the feed and the run watcher restart a failed turn after a pause
that doubles from `first_wait` up to `longest`; whoever listens (the runs of the process and their
pages) hears of a change of state, never of every failed turn. What readers see names the loop and
the kind of failure only: an exception's text can carry a database host or user, and goes to the log.
"""

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

logger = logging.getLogger(__name__)


class Outage:
    def __init__(
        self,
        what: str,
        *,
        first_wait: float = 1.0,
        longest: float = 30.0,
        on_change: Callable[[], None] | None = None,
        log: logging.Logger = logger,
        meanwhile: str = "trying again with backoff",
    ) -> None:
        self.what = what
        self.meanwhile = meanwhile
        self.first_wait = first_wait
        self.longest = longest
        self.on_change = on_change
        self.log = log
        self.since: datetime | None = None
        self.kind = ""
        self.failures = 0
        self._wait = first_wait
        self._started = 0.0
        self._last_failure = 0.0
        self._lock = threading.Lock()

    @property
    def down(self) -> bool:
        return self.since is not None

    def failed(self, exc: BaseException) -> float:
        """Record a failed turn; the seconds to wait before the next one."""
        with self._lock:  # request threads share some (the answer cache, the limits store)
            self.failures += 1
            self._last_failure = time.monotonic()
            starts = self.since is None
            if starts:
                self.since, self.kind, self._started = datetime.now(UTC), type(exc).__name__, time.monotonic()
            wait, self._wait = self._wait, min(self._wait * 2, self.longest)
        if starts:
            self.log.warning("%s is down (%s); %s", self.what, _describe(exc), self.meanwhile)
            self._changed()
        return wait

    def ok(self) -> None:
        """A turn worked: an outage, if there was one, is over."""
        with self._lock:
            self._wait = self.first_wait
            if self.since is None:
                return
            lasted, failures = time.monotonic() - self._started, self.failures
            self.since, self.kind, self.failures = None, "", 0
        self.log.warning("%s works again after %.0f s (%d failed turns)", self.what, lasted, failures)
        self._changed()

    def resting(self, seconds: float) -> bool:
        """Down, and its last failure less than `seconds` ago: callers that may skip it (a cache, a
        limit) do, instead of every one of them waiting out a dead store's timeout."""
        return self.since is not None and time.monotonic() - self._last_failure < seconds

    def for_readers(self) -> str:
        """What a page may show: the loop, since when, the kind of failure."""
        if self.since is None:
            return ""
        return f"{self.what} down since {self.since:%H:%M:%S} UTC ({self.kind}); retrying"

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change()


def _describe(exc: BaseException) -> str:
    text = " ".join(str(exc).split())[:200]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
