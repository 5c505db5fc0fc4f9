"""Where the real mainnet samples are (../shared/real, or REAL_DATA_DIR) and how to read them.

Without them a developer's run skips the modules that import this and says why; CI (CI=true)
fails instead.
"""

import base64
import json
import os
from pathlib import Path

import pytest

_PLACES = [
    os.environ.get("REAL_DATA_DIR", ""),
    Path(__file__).resolve().parents[3] / "shared" / "real",  # ../shared beside the checkout
    "/work/shared/real",  # where this workplace keeps it
]
REAL = next((Path(place) for place in _PLACES if place and Path(place).is_dir()), Path(_PLACES[1]))
if not REAL.is_dir():
    if os.environ.get("CI"):
        raise RuntimeError(f"the real mainnet samples are missing at {REAL} (set REAL_DATA_DIR)")
    pytest.skip(f"the real mainnet samples are not at {REAL} (set REAL_DATA_DIR)", allow_module_level=True)

ZERO_KEY = "11111111111111111111111111111111"


def load(relative: str):
    return json.loads((REAL / relative).read_text())


def records(relative: str, key: str) -> list[dict]:
    return load(relative)[key]


def raw(record: dict) -> bytes:
    return bytes.fromhex(record["data"]) if record["encoding"] == "hex" else base64.b64decode(record["data"])


def transaction_of(relative: str) -> dict:
    document = load(relative)
    return document.get("result", document)  # a whole JSON-RPC answer, or its result
