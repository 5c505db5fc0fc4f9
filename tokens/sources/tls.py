"""One TLS context for every upstream client of the process.

Building a context (loading the CA bundle) costs tens of milliseconds; a run creates its clients
when it starts, and that time would come before its first batch.
"""

import ssl

import certifi
import httpx

SHARED_CONTEXT = ssl.create_default_context(cafile=certifi.where())


def pool_limits(concurrency: int) -> httpx.Limits:
    """As many connections as requests a client has in flight: httpcore scans every pooled connection
    for every request, so an oversized pool costs CPU on each call."""
    return httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
