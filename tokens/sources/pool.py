"""httpcore's connection pool, managed in linear time per request.

Hand-written because no library offers it: httpcore 1.0.9 (pinned) re-checks its whole pool
whenever a request comes or goes. It asks every idle connection whether the server closed it (anyio
builds a table of socket attributes for each question, then polls the socket), and for each idle
connection it counts the pool again, so a pool of 16 costs hundreds of calls a request. A backfill
keeps 16 connections open for its read-ahead and is bound by this process's CPU: the RPC client
spent a fifth of its time there.

The rules are httpcore's, applied when they matter: closed connections leave the pool; a surplus
of idle connections beyond the keep-alive limit is closed; an idle connection is asked whether it
expired (its keep-alive, or a server that closed it) when it is about to take a request, and one
that has is closed and the next one tried. An expired connection nobody picks waits in the pool,
holding its slot until a request needs it or the room; a full pool closes an idle connection for a
new one as before.
"""

import httpcore
import httpx

PINNED_HTTPCORE = "1.0.9"  # the version whose pool this one's bookkeeping replaces


class LinearConnectionPool(httpcore.AsyncConnectionPool):
    """httpcore's pool; only `_assign_requests_to_connections`, which it calls whenever a request
    comes or goes, is this module's."""

    def _assign_requests_to_connections(self) -> list:
        """Drop closed connections, close idle ones beyond the keep-alive limit, then give each
        waiting request a usable connection, a new one, or one made room for; returns the
        connections to close (httpcore closes them outside its lock)."""
        closing = []
        kept = []
        count = len(self._connections)
        for connection in self._connections:
            if connection.is_closed():
                count -= 1
            elif count > self._max_keepalive_connections and connection.is_idle():
                count -= 1
                closing.append(connection)
            else:
                kept.append(connection)
        self._connections = kept
        for pool_request in [request for request in self._requests if request.is_queued()]:
            connection = self._usable_connection(origin=pool_request.request.url.origin, closing=closing)
            if connection is None:
                if len(self._connections) >= self._max_connections:
                    idle = next((c for c in self._connections if c.is_idle()), None)
                    if idle is None:
                        continue  # every connection is busy: the request waits for one
                    self._connections.remove(idle)
                    closing.append(idle)
                connection = self.create_connection(pool_request.request.url.origin)
                self._connections.append(connection)
            pool_request.assign_to_connection(connection)
        return closing

    def _usable_connection(self, *, origin: httpcore.Origin, closing: list):
        """The first connection that can take a request to `origin` now; expired ones found on the
        way are closed."""
        for connection in list(self._connections):
            if not (connection.can_handle_request(origin) and connection.is_available()):
                continue
            if connection.is_idle() and connection.has_expired():
                self._connections.remove(connection)
                closing.append(connection)
                continue
            return connection
        return None


def use_linear_pool(client: httpx.AsyncClient) -> httpx.AsyncClient:
    """The client, its default transport's pool managed by `LinearConnectionPool`. A transport
    behind a proxy (or mounted for one by the environment) keeps its own, and so does every pool of
    an httpcore other than the one this was written against."""
    transport = client._transport
    pool = getattr(transport, "_pool", None)
    if httpcore.__version__ != PINNED_HTTPCORE:
        return client
    if isinstance(transport, httpx.AsyncHTTPTransport) and type(pool) is httpcore.AsyncConnectionPool:
        pool.__class__ = LinearConnectionPool  # no state of its own: the pool as configured
    return client
