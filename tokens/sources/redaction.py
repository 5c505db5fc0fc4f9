"""Showing an endpoint without what makes it secret: RPC URLs often carry an API key."""

from urllib.parse import urlsplit


def redact_url(url: str) -> str:
    """`https://rpc.example/?api-key=abc` -> `https://rpc.example/***`; paths and queries may hold keys."""
    if not url:
        return ""
    try:
        parts = urlsplit(url)
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "***"
    secret_bits = parts.path not in ("", "/") or parts.query or parts.fragment or parts.username or parts.password
    return f"{parts.scheme}://{parts.hostname or ''}{port}{'/***' if secret_bits else ''}"
