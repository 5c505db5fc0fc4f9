"""The API's OpenAPI description stays true: it names every API route, real answers from a board
loaded from both upstreams fit it (every status the views give), and schemathesis, against a live
Daphne server on the same database, finds no server error and no answer outside it."""

import asyncio
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jsonschema_rs
import pytest
from django.db import connection
from django.test import Client

from tests.fakes.chain import Launch, history, key_for, signature_for
from tests.fakes.coins import make_coin, now_ms
from tests.fakes.trades import Curve, TradeTx
from tests.helpers import record_trades, run_load
from tests.live import serve_app, server_env
from tokens.board import openapi, urls
from tokens.board.throttle import reset as reset_limits

pytestmark = pytest.mark.django_db(transaction=True)
SPEC = openapi.description()


@pytest.fixture
def loaded_board(pumpfun, solana):
    """A board from both upstreams: chain launches (one with a USDC curve) and web API coins with
    unknown, graduated and linked ones; one run of each."""
    solana.add(*history(9), Launch(index=50, block_time=int(now_ms() / 1000) - 30, quote="USDC"))
    newest = now_ms() - 2_000
    coins = [
        make_coin(100 + i, created_ms=newest - i * 60_000, complete=i % 4 == 0, twitter=f"https://x.com/c{i}")
        for i in range(12)
    ]
    coins[1]["usd_market_cap"] = None
    coins[2]["reply_count"] = None
    pumpfun.coins = coins
    asyncio.run(run_load(days=1, batch_size=4, source="recent", upstream="chain"))
    asyncio.run(run_load(days=1, batch_size=5, source="recent", upstream="api"))
    # Trades of two chain coins, as the stream stores them.
    at = int(now_ms() / 1000) - 90
    for launch in history(2):
        curve = Curve(mint=launch.mint, creator=launch.creator)
        trades = [curve.buy(key_for(f"w{i}"), (i + 1) * 10**8, at=at + 30 * i) for i in range(4)]
        trades.append(curve.sell(key_for("w0"), trades[0].token_amount, at=at + 150))
        record_trades(
            *(TradeTx(signature_for(f"t-{launch.index}-{i}"), t.timestamp, [t]) for i, t in enumerate(trades))
        )


def schema_for(path: str, status: int, media: str) -> dict[str, Any]:
    answer = SPEC["paths"][path]["get"]["responses"][str(status)]
    if "$ref" in answer:
        answer = SPEC["components"]["responses"][answer["$ref"].rsplit("/", 1)[1]]
    return answer["content"][media]["schema"]


def assert_fits(response, path: str) -> Any:
    if 300 <= response.status_code < 400:
        assert "content" not in SPEC["paths"][path]["get"]["responses"][str(response.status_code)]
        return response
    media = response["Content-Type"].split(";")[0].strip()
    schema = schema_for(path, response.status_code, media)
    if media != "application/json":  # CSV, or a redirect without a body
        return response
    body = response.json()
    validator = jsonschema_rs.Draft202012Validator({**schema, "components": SPEC["components"]}, validate_formats=True)
    problems = [f"{error.instance_path}: {error.message}" for error in validator.iter_errors(body)]
    assert problems == [], f"{response.status_code} from {path} breaks the schema: {problems[:5]}"
    return body


def test_every_api_route_is_described():
    routes = {
        "/" + str(pattern.pattern).replace("<str:mint>", "{mint}").replace("<int:run_id>", "{run_id}")
        for pattern in urls.urlpatterns
        if str(pattern.pattern).startswith("api/")
    }
    assert routes == set(SPEC["paths"])
    assert Client().get("/api/openapi.json").json() == SPEC


def test_real_answers_fit_the_description(loaded_board, admin_client):
    tokens = "/api/tokens/"
    client = Client()
    page = assert_fits(client.get(tokens, {"limit": 4}), tokens)
    assert len(page["tokens"]) == 4 and page["next_cursor"] and page["count"] == 22
    assert {token["quote"] for token in page["tokens"]} <= {"SOL", "USDC", ""}
    following = assert_fits(client.get(tokens, {"limit": 4, "cursor": page["next_cursor"]}), tokens)
    assert following["tokens"][0]["mint"] not in {token["mint"] for token in page["tokens"]}
    by_offset = assert_fits(client.get(tokens, {"limit": 30, "offset": 20, "sort": "-holders"}), tokens)
    assert by_offset["next_offset"] is None and len(by_offset["tokens"]) == 2
    assert_fits(client.get(tokens, {"stage": "graduated", "socials": "yes", "max_age": "1d"}), tokens)
    catch_up = assert_fits(client.get("/api/changes/", {"after": 0}), "/api/changes/")
    assert catch_up["more"] is False and len(catch_up["tokens"]) == 22
    moved = assert_fits(client.get(tokens, {"after": 0, "after_mint": "abc"}), tokens)
    assert (moved.status_code, moved["Location"]) == (308, "/api/changes/?after=0&after_mint=abc")
    assert_fits(client.get(tokens, {"format": "csv"}), tokens)
    assert assert_fits(client.get(tokens, {"since": "0001-01-01T00:00:00+01:00"}), tokens)["error"]

    detail = "/api/tokens/{mint}/"
    usdc = next(token for token in catch_up["tokens"] if token["quote"] == "USDC")
    assert assert_fits(client.get(f"/api/tokens/{usdc['mint']}/"), detail)["signature"]
    assert client.get(f"/api/tokens/{'1' * 44}/").status_code == 404
    assert_fits(client.get(f"/api/tokens/{'1' * 44}/"), detail)
    assert_fits(client.get("/api/tokens/not%00a%20mint/"), detail)

    traded = history(2)[0].mint
    trades_path, candles_path = "/api/tokens/{mint}/trades/", "/api/tokens/{mint}/candles/"
    first = assert_fits(client.get(f"/api/tokens/{traded}/trades/", {"limit": 3}), trades_path)
    assert [t["side"] for t in first["trades"]] == ["sell", "buy", "buy"] and first["next_cursor"]
    rest = assert_fits(client.get(f"/api/tokens/{traded}/trades/", {"cursor": first["next_cursor"]}), trades_path)
    assert len(rest["trades"]) == 2 and rest["next_cursor"] is None  # five trades, each once
    candles = assert_fits(client.get(f"/api/tokens/{traded}/candles/", {"interval": "1m"}), candles_path)
    assert sum(c["buys"] + c["sells"] for c in candles["candles"]) == 5
    assert [c["time"] for c in candles["candles"]] == sorted(c["time"] for c in candles["candles"])
    for path, bad in ((trades_path, {"cursor": "nonsense"}), (candles_path, {"interval": "5m"})):
        assert assert_fits(client.get(path.replace("{mint}", traded), bad), path)["error"]
    assert_fits(client.get(f"/api/tokens/{'1' * 44}/trades/"), trades_path)
    sorted_by_volume = assert_fits(client.get(tokens, {"sort": "-volume_5m", "min_buys_5m": "1"}), tokens)
    assert len(sorted_by_volume["tokens"]) == 2 and sorted_by_volume["tokens"][0]["volume_5m_usd"] > 0

    runs = assert_fits(client.get("/api/runs/"), "/api/runs/")["runs"]
    assert {run["upstream"] for run in runs} == {"chain", "api"}
    assert all("executed_by" in run for run in assert_fits(admin_client.get("/api/runs/"), "/api/runs/")["runs"])
    one = "/api/runs/{run_id}/"
    assert assert_fits(client.get(f"/api/runs/{runs[0]['run_id']}/"), one)["progress"]["batches"] >= 1
    for missing in (999_999, 10**30):
        assert client.get(f"/api/runs/{missing}/").status_code == 404
        assert_fits(client.get(f"/api/runs/{missing}/"), one)


def test_the_limit_answer_fits_the_description(settings):
    settings.API_REQUESTS_PER_MINUTE = 1
    reset_limits()
    client = Client()
    assert client.get("/api/runs/").status_code == 200
    refused = client.get("/api/runs/")
    assert refused.status_code == 429 and int(refused["Retry-After"]) >= 1
    assert_fits(refused, "/api/runs/")


def database_url() -> str:
    """The test database, for a server process beside this one."""
    config = connection.settings_dict
    if config["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{config['NAME']}"
    login = quote(config["USER"], safe="") + (f":{quote(config['PASSWORD'], safe='')}" if config["PASSWORD"] else "")
    return f"postgres://{login}@{config['HOST'] or '127.0.0.1'}:{config['PORT'] or 5432}/{config['NAME']}"


def fuzzing_config(path: Path) -> Path:
    """Stored mints, run ids and cursors for half the generated values, so the fuzzer reaches the
    views' work and not only their 404s and 400s."""
    client = Client()
    sorts = ("-created", "holders", "symbol")
    pages = [client.get("/api/tokens/", {"limit": 3, "sort": sort}).json() for sort in sorts]
    mints = [token["mint"] for token in client.get("/api/tokens/").json()["tokens"]]
    run_ids = [run["run_id"] for run in client.get("/api/runs/").json()["runs"]]
    cursors = [page["next_cursor"] for page in pages]
    lines = [
        f"[dictionaries.mints]\nvalues = {json.dumps(mints)}",
        f"[dictionaries.runs]\nvalues = {json.dumps(run_ids)}",
        f"[dictionaries.cursors]\nvalues = {json.dumps(cursors)}",
        "[parameters]",
        '"path.mint" = { dictionary = "mints", probability = 0.5 }',
        '"path.run_id" = { dictionary = "runs", probability = 0.5 }',
        '"query.cursor" = { dictionary = "cursors", probability = 0.5 }',
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_fuzzer_finds_no_server_error_and_no_answer_outside_the_schema(loaded_board, tmp_path):
    config = fuzzing_config(tmp_path / "schemathesis.toml")
    env = server_env(DATABASE_URL=database_url(), STATIC_ROOT=str(tmp_path / "static"))
    if os.environ.get("REDIS_URL"):  # the production pass: the answer cache and the limits in Redis
        env["REDIS_URL"] = os.environ["REDIS_URL"]
    checks = (
        "not_a_server_error,status_code_conformance,content_type_conformance,"
        "response_headers_conformance,response_schema_conformance"
    )
    schemathesis = Path(sys.executable).parent / "schemathesis"
    with serve_app(env) as host:
        result = subprocess.run(
            [
                str(schemathesis), "--config-file", str(config), "run", f"http://{host}/api/openapi.json",
                "--checks", checks, "--max-examples", "150", "--seed", "18", "--workers", "1",
                "--request-timeout", "20", "--no-color", "--max-redirects", "0",
            ],
            capture_output=True, text=True, timeout=600, cwd=tmp_path,
        )  # fmt: skip
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "Missing test data" not in result.stdout, result.stdout[-3000:]
    tested = re.search(r"Tested: (\d+)", result.stdout)
    assert tested and int(tested.group(1)) == 7, result.stdout[-3000:]
