"""Who may open the board's websocket: a page this server served (same scheme, host and port as the
request, or a CSRF_TRUSTED_ORIGINS entry), and not more than WS_MAX_PER_IP at once from one address
(per process; over it the socket closes with 4013, "try again later").

Daphne lets an application close only with 1000 or 3000-4999, so the standard codes are sent as
4000 + the code: 4013 for 1013 (try again later), 4003 for 1003 (cannot accept this data)."""

from collections import Counter
from urllib.parse import urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import split_domain_port, validate_host

TRY_AGAIN_LATER = 4013
_DEFAULT_PORTS = {"http": "80", "https": "443"}
_open: Counter[str] = Counter()


class BoardSocketGuard:
    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "websocket":
            return await self.app(scope, receive, send)
        if not same_origin(scope):
            return await WebsocketDenier()(scope, receive, send)
        address = (scope.get("client") or ("unknown",))[0]
        if _open[address] >= settings.WS_MAX_PER_IP:
            return await _refuse_busy(receive, send)
        _open[address] += 1
        try:
            return await self.app(scope, receive, send)
        finally:
            _open[address] -= 1
            if _open[address] <= 0:
                del _open[address]


def same_origin(scope) -> bool:
    headers = {name.lower(): value for name, value in scope.get("headers", [])}
    origin = headers.get(b"origin", b"").decode("latin-1").lower()
    host = headers.get(b"host", b"").decode("latin-1").lower()
    if not origin or not host:
        return False
    parts = urlsplit(origin)
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        return False
    if origin.rstrip("/") in {entry.lower().rstrip("/") for entry in settings.CSRF_TRUSTED_ORIGINS}:
        return True
    domain, port = split_domain_port(host)
    if not domain or not validate_host(domain, settings.ALLOWED_HOSTS):
        return False
    origin_port = str(parts.port) if parts.port else _DEFAULT_PORTS[parts.scheme]
    host_port = port or _DEFAULT_PORTS[parts.scheme]
    return parts.hostname == domain.strip("[]") and origin_port == host_port


async def _refuse_busy(receive, send) -> None:
    """Accept-then-close is the only way to give a websocket a close code the browser sees."""
    message = await receive()
    if message["type"] != "websocket.connect":
        return
    await send({"type": "websocket.accept"})
    await send({"type": "websocket.close", "code": TRY_AGAIN_LATER})
