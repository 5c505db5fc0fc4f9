"""The plain-link shortcut in tokens/sources/links.py: every link it takes at once is one the full
check (Django's URLValidator, the port and character rules) accepts as it is."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tokens.sources.links import _PLAIN_URL, MAX_URL, parse_link, safe_link


@settings(max_examples=500)
@given(st.from_regex(_PLAIN_URL, fullmatch=True))
def test_every_plain_link_is_one_the_full_check_accepts(url):
    if len(url) > MAX_URL:
        assert safe_link(url) == ""
        return
    assert parse_link(url).url == url
    assert safe_link(url) == url


@pytest.mark.parametrize(
    "url",
    [
        "https://ipfs.io/ipfs/QmWomAP8jJLd73ZLyJmrdJqFBhskUrJy2VpMGReNBr1gdG",
        "https://metadata.pump.fun/data/abc-1.json",
        "http://a.bc",
    ],
)
def test_common_launch_links_take_the_shortcut(url):
    assert _PLAIN_URL.fullmatch(url) and safe_link(url) == url


def test_the_shortcut_holds_hosts_to_dns_length():
    """253 characters at most (the generated links never probe the edge: hypothesis writes a
    lookahead's text into the string and keeps only what matches)."""
    longest = "https://" + ("a" * 63 + ".") * 3 + "a" * 57 + ".com/x"
    too_long = "https://" + ("a" * 63 + ".") * 3 + "a" * 58 + ".com/x"
    assert _PLAIN_URL.fullmatch(longest) and safe_link(longest) == longest
    assert not _PLAIN_URL.fullmatch(too_long) and safe_link(too_long) == ""


@pytest.mark.parametrize(
    ("url", "kept"),
    [
        ("https://ipfs.io:99999/ipfs/Qm", ""),  # a port out of range
        ("https://-bad.example/x", ""),
        ("https://" + "a" * 250 + ".example/x", ""),  # a host longer than DNS allows
        ("https://ipfs.io/ipfs/Qm x", ""),
        ("javascript://ipfs.io/x", ""),
        (" https://ipfs.io/ipfs/Qm", "https://ipfs.io/ipfs/Qm"),  # trimmed by the full check
        ("https://IPFS.io/ipfs/Qm?x=1", "https://IPFS.io/ipfs/Qm?x=1"),
    ],
)
def test_links_the_shortcut_leaves_to_the_full_check(url, kept):
    assert not _PLAIN_URL.fullmatch(url)
    assert safe_link(url) == kept
