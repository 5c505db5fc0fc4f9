"""Coin records shaped like pump.fun's `/coins` items, with the real units."""

import hashlib
import time
from typing import Any

_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def b58encode(data: bytes) -> str:
    number = int.from_bytes(data, "big")
    out = ""
    while number:
        number, rem = divmod(number, 58)
        out = _ALPHABET[rem] + out
    return "1" * (len(data) - len(data.lstrip(b"\0"))) + out


def mint_for(index: int, *, salt: str = "mint") -> str:
    """A deterministic, valid-looking 32-byte base58 address."""
    return b58encode(hashlib.sha256(f"{salt}-{index}".encode()).digest())


def now_ms() -> int:
    return int(time.time() * 1000)


def make_coin(index: int, *, created_ms: int, **overrides: Any) -> dict[str, Any]:
    coin = {
        "mint": mint_for(index),
        "name": f"Coin {index}",
        "symbol": f"C{index}",
        "description": f"Test coin number {index}",
        "image_uri": f"https://ipfs.example/ipfs/{index}",
        "metadata_uri": f"https://ipfs.example/meta/{index}",
        "twitter": None,
        "telegram": None,
        "website": None,
        "bonding_curve": mint_for(index, salt="curve"),
        "creator": mint_for(index, salt="creator"),
        "created_timestamp": created_ms,
        "complete": False,
        "virtual_sol_reserves": 30_000_000_000 + index * 1_000_000,  # lamports
        "real_sol_reserves": index * 1_000_000,  # lamports
        "virtual_token_reserves": 1_073_000_000_000_000 - index * 1_000_000_000,  # 6 decimals
        "total_supply": 1_000_000_000_000_000,
        "market_cap": 28.0 + index / 100,  # SOL
        "usd_market_cap": 5_000.0 + index,  # USD
        "reply_count": index % 7,
        "nsfw": False,
        "last_trade_timestamp": created_ms + 1_000,
    }
    coin.update(overrides)
    return coin


def make_history(
    count: int, *, newest_ms: int | None = None, spacing_ms: int = 60_000, start_index: int = 0
) -> list[dict[str, Any]]:
    """`count` coins, the newest `newest_ms` and each older one `spacing_ms` before it."""
    newest = now_ms() - 5_000 if newest_ms is None else newest_ms
    return [make_coin(start_index + i, created_ms=newest - i * spacing_ms) for i in range(count)]
