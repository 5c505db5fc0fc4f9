"""Response headers every page gets: a Content-Security-Policy without inline script, and a
Permissions-Policy that turns off what the board never uses."""

from asgiref.sync import iscoroutinefunction
from django.http import HttpRequest, HttpResponse
from django.utils.decorators import sync_and_async_middleware

# Token images come from wherever their launcher pointed (http or https); scripts, styles, sockets
# and forms only from here. The admin's inline style attributes need 'unsafe-inline' for styles.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: https: http:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
PERMISSIONS_POLICY = (
    "camera=(), microphone=(), geolocation=(), payment=(), usb=(), midi=(), magnetometer=(), gyroscope=(), "
    "accelerometer=(), clipboard-write=(self)"
)


@sync_and_async_middleware
def security_headers(get_response):
    # Both kinds, so an async view is not pushed through a thread on the way (Django adapts a
    # sync-only middleware with one).
    if iscoroutinefunction(get_response):

        async def middleware(request: HttpRequest) -> HttpResponse:
            return _with_headers(await get_response(request))

    else:

        def middleware(request: HttpRequest) -> HttpResponse:
            return _with_headers(get_response(request))

    return middleware


def _with_headers(response: HttpResponse) -> HttpResponse:
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
    return response
