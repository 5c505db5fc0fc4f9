"""Links chosen by strangers (a launch's `uri`, its image and socials): which are usable http(s) URLs.

Django's `URLValidator` does the heavy lifting (schemes, host names and IDN, IP literals, lengths);
what it lets through and this module refuses: ports out of range (its pattern accepts any five
digits, and `connect()` then raises), control, format and surrogate characters (bidi overrides,
zero-width spaces, lone surrogates the database cannot encode), and links longer than a column.
Nothing here raises anything but `BadLink`.
"""

import re
import unicodedata
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

MAX_URL = 500
DEFAULT_PORTS = {"http": 80, "https": 443}
_validate = URLValidator(schemes=["http", "https"])
_REFUSED_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}
# A CID, then plain path segments (never "." or ".."): what may be asked of an IPFS gateway.
_IPFS_PATH = re.compile(r"[A-Za-z0-9]{16,128}(?:/(?!\.\.?(?:/|$))[A-Za-z0-9._~-]{1,128}){0,8}/?", re.ASCII)

# Most launches' links are this plain (`https://ipfs.io/ipfs/<cid>`): lowercase DNS labels, a letter
# TLD, no port, user or query, a plain path. Every such link is one the full check accepts as it is
# (tests/sources/test_links.py checks that on generated ones), and taking it at once saves a launch the
# validator's regular expressions.
_PLAIN_URL = re.compile(
    r"https?://(?=[a-z0-9.-]{4,253}(?:/|$))(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.){1,8}[a-z]{2,24}(?:/[A-Za-z0-9._~-]*)*",
    re.ASCII,
)


class BadLink(ValueError):
    """Not a usable http(s) link; the message says why."""


@dataclass(frozen=True, slots=True)
class Link:
    url: str
    scheme: str  # http or https
    host: str  # lowercase; an IPv6 literal without its brackets
    port: int  # as written, or the scheme's default
    target: str  # path and query, "/" at least

    @property
    def origin(self) -> tuple[str, str, int]:
        return (self.scheme, self.host, self.port)


def prepare() -> None:
    """Compile the validator's pattern now: Django compiles it on first use (~50 ms), which a
    process about to load would otherwise pay inside its first batch."""
    _validate.regex.search("")


def parse_link(value: Any, *, max_length: int = MAX_URL) -> Link:
    if not isinstance(value, str):
        raise BadLink(f"a link is text, not {type(value).__name__}")
    url = value.strip()
    if not url:
        raise BadLink("empty")
    if len(url) > max_length:
        raise BadLink(f"longer than {max_length} characters")
    # Printable ASCII without a space holds none of the refused characters: only other text is read
    # character by character (the per-character check was most of a launch's validation).
    plain = url.isascii() and url.isprintable() and " " not in url
    if not plain and any(ch.isspace() or unicodedata.category(ch) in _REFUSED_CATEGORIES for ch in url):
        raise BadLink("contains spaces, control or invisible characters")
    try:
        _validate(url)
        parts = urlsplit(url)
        port = parts.port
    except (ValidationError, ValueError) as exc:
        reason = exc.messages[0] if isinstance(exc, ValidationError) else str(exc)
        raise BadLink(f"not a usable http(s) URL ({reason})") from None
    if port == 0 or not parts.hostname:
        raise BadLink("not a usable http(s) URL (no host or port 0)")
    scheme = parts.scheme.lower()
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Link(url=url, scheme=scheme, host=parts.hostname, port=port or DEFAULT_PORTS[scheme], target=target)


def safe_link(value: Any) -> str:
    """The link if it is a usable http(s) URL, else blank."""
    if not value:  # none at all (a launch read from the chain has four): blank, as parse_link refuses it
        return ""
    if isinstance(value, str) and len(value) <= MAX_URL and _PLAIN_URL.fullmatch(value):
        return value
    try:
        return parse_link(value).url
    except BadLink:
        return ""


def ipfs_path(value: Any) -> str | None:
    """The plain `<cid>/<path>` of an IPFS link (`ipfs://…`, or `…/ipfs/…` on any http(s) host),
    or None when the value is not one or its path is not plain (`..`, escapes, a query are not)."""
    if not isinstance(value, str):
        return None
    if value.startswith("ipfs://"):
        rest = re.split(r"[?#]", value[len("ipfs://") :], maxsplit=1)[0]
    else:
        try:
            parts = urlsplit(value)
        except ValueError:
            return None
        if parts.scheme.lower() not in DEFAULT_PORTS or not parts.path.startswith("/ipfs/"):
            return None
        rest = parts.path[len("/ipfs/") :]
    return rest if _IPFS_PATH.fullmatch(rest) else None


def safe_document_link(value: Any) -> str:
    """A link to fetch a document from: a usable http(s) link, or an `ipfs://` link with a plain path
    (fetched from the operator's gateway); else blank."""
    if isinstance(value, str) and value.startswith("ipfs://"):
        return value if ipfs_path(value) is not None else ""
    return safe_link(value)
