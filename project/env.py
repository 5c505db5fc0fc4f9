"""Tiny readers for settings that come from the environment."""

import os
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, got {raw!r}")


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_ports(name: str, default: list[int]) -> list[int]:
    """A comma-separated list of TCP ports, each from 1 to 65535."""
    items = env_list(name, [str(port) for port in default])
    if not all(item.isascii() and item.isdigit() and 1 <= int(item) <= 65535 for item in items):
        raise ImproperlyConfigured(f"{name} must list ports from 1 to 65535, separated by commas")
    return [int(item) for item in items]


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def env_number(name: str, default: float, *, minimum: float = 0) -> float:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, got {raw!r}") from None
    if not value >= minimum or value == float("inf"):
        raise ImproperlyConfigured(f"{name} must be a finite number of at least {minimum:g}, got {raw!r}")
    return value


def env_int(name: str, default: int, *, minimum: int = 0) -> int:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    if not raw.strip().lstrip("-").isdigit() or int(raw) < minimum:
        raise ImproperlyConfigured(f"{name} must be a whole number of at least {minimum}, got {raw!r}")
    return int(raw)


def env_url(name: str, default: str = "", *, schemes: tuple[str, ...] = ("http", "https")) -> str:
    """A URL setting that a client can use: a known scheme, a host, a port from 1 to 65535. The error
    names the setting (never the value's secrets: only the part that is wrong)."""
    raw = env_str(name, default)
    if not raw:
        return raw
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} is not a usable URL: {exc}") from None
    if parts.scheme not in schemes:
        raise ImproperlyConfigured(f"{name} must start with {' or '.join(s + '://' for s in schemes)}")
    if not parts.hostname:
        raise ImproperlyConfigured(f"{name} has no host")
    if port == 0:
        raise ImproperlyConfigured(f"{name} has port 0; give a port from 1 to 65535")
    return raw
