"""Transactions read straight from the RPC's JSON (`transactions.TypedTransaction`, msgspec) decode
exactly as the same transactions read as JSON objects do: every real recording, hostile variations
of them, and a backfill page with a hostile transaction in it. The typed read either refuses a
transaction (the page is then read as JSON) or gives the same `DecodedTransaction`."""

import copy
import json
import time

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fakes.chain import Launch, history, transaction_json
from tests.fakes.http import FakeServer, Reply
from tests.real_samples import REAL, load
from tokens.sources.chain.events import decode_transaction, decode_view
from tokens.sources.chain.lists import get_chain_recent_tokens
from tokens.sources.chain.source import _FULL_PAGE, _FullPage
from tokens.sources.chain.transactions import TypedTransaction, typed_view
from tokens.sources.clients import chain_source, solana_rpc
from tokens.sources.resilience import RetryPolicy
from tokens.sources.rpc import RpcCallError, RpcError, SolanaRpc


def typed(tx) -> TypedTransaction | None:
    """The typed read of `tx` as the RPC's JSON text, or None where it refuses it."""
    try:
        return msgspec.json.decode(json.dumps(tx).encode(), type=TypedTransaction)
    except msgspec.DecodeError:
        return None


def signature_of(tx) -> str:
    """The signature the backfill hands the decoders beside a transaction (source._signature_of)."""
    try:
        return tx["transaction"]["signatures"][0]
    except (KeyError, IndexError, TypeError):
        return "?"


def assert_read_alike(tx) -> bool:
    """Whether the typed read took `tx`; where it did, its events are the JSON read's."""
    found = typed(tx)
    if found is None:
        return False
    signature = signature_of(tx)
    assert decode_view(typed_view(found, signature=signature)) == decode_transaction(tx, signature=signature)
    return True


def real_transactions() -> list[tuple[str, dict]]:
    """Every object of the recordings with a `transaction` in it, wherever it sits: transactions in every
    encoding, and the gRPC updates that wrap one."""
    found = []

    def walk(where: str, value) -> None:
        if isinstance(value, dict):
            if "transaction" in value:
                found.append((where, value))
            for key, inner in value.items():
                walk(f"{where}.{key}", inner)
        elif isinstance(value, list):
            for index, inner in enumerate(value):
                walk(f"{where}[{index}]", inner)

    for path in sorted(REAL.rglob("*.json")):
        try:
            document = json.loads(path.read_text())
        except ValueError:
            continue  # two decoders' printed outputs (decoded_*_tx): values to compare with, no transaction
        walk(f"{path.relative_to(REAL)}#", document)
    return found


REAL_TRANSACTIONS = real_transactions()
JSON_CREATE = "chainstack/create_tx_getTransaction_slot435946190__a33f4fd.json"


@pytest.mark.parametrize(("where", "tx"), REAL_TRANSACTIONS, ids=[where for where, _ in REAL_TRANSACTIONS])
def test_every_real_transaction_reads_alike_or_is_left_to_the_json_read(where, tx):
    assert_read_alike(tx)


def test_the_typed_read_takes_the_json_encoded_recordings():
    taken = {where for where, tx in REAL_TRANSACTIONS if assert_read_alike(tx)}
    # getTransaction's `json` and `jsonParsed` answers, and the transaction inside a gRPC update; the
    # update itself (its transaction wraps another) and base64 wire bytes are the JSON read's.
    assert {f"{JSON_CREATE}#.result", "chainstack/create_tx_getTransaction_jsonParsed_2024-08-20__dcd8475.json#.result",
            "vixen/pumpswap_buy_grpc_txupdate_4pCgZ28W__30bc2394.json#.transaction"} <= taken  # fmt: skip
    assert "vixen/pumpswap_buy_grpc_txupdate_4pCgZ28W__30bc2394.json#" not in taken
    assert not any("base64" in where for where in taken)
    decoded = decode_view(typed_view(typed(load(JSON_CREATE)["result"])))
    assert len(decoded.events) == 1 and decoded.invalid == []


@pytest.mark.parametrize("logs", [["Log truncated"], [], None])
def test_logs_that_fall_short_send_both_reads_to_the_inner_instructions(logs):
    tx = copy.deepcopy(load(JSON_CREATE)["result"])
    tx["meta"]["logMessages"] = logs
    assert assert_read_alike(tx)
    found = typed(tx)
    assert len(decode_view(typed_view(found)).events) == 1  # from the self-CPI event


TAKEN_VARIATIONS = {
    "no block time": lambda tx: tx.pop("blockTime"),
    "a null slot": lambda tx: tx.update(slot=None),
    "a failed transaction": lambda tx: tx["meta"].update(err={"InstructionError": [2, {"Custom": 6003}]}),
    "no meta": lambda tx: tx.update(meta=None),
    "no signature": lambda tx: tx["transaction"].update(signatures=[]),
    "an empty signature, one beside": lambda tx: (tx["transaction"].update(signatures=[""]), tx.update(signature="x")),
    "keys that are not keys": lambda tx: tx["transaction"]["message"].update(accountKeys=[1, None, {"a": 2}]),
    "no keys, truncated logs": lambda tx: (
        tx["transaction"]["message"].pop("accountKeys"),
        tx["meta"].update(logMessages=["Log truncated"]),
    ),
    "inner instructions of every wrong kind": lambda tx: tx["meta"].update(
        innerInstructions=[1, {"instructions": "x"}, {"instructions": [None, {"programIdIndex": True}]}],
        logMessages=[],
    ),
    "lookup tables as gRPC names": lambda tx: tx["meta"].update(
        loadedAddresses=None, loadedWritableAddresses=["x"], loadedReadonlyAddresses=7
    ),
}


@pytest.mark.parametrize("variation", sorted(TAKEN_VARIATIONS))
def test_variations_the_typed_read_takes_read_alike(variation):
    tx = copy.deepcopy(load(JSON_CREATE)["result"])
    TAKEN_VARIATIONS[variation](tx)
    assert assert_read_alike(tx)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)
PLACES = [
    ("slot",), ("blockTime",), ("signature",), ("meta",), ("meta", "err"), ("meta", "logMessages"),
    ("meta", "logMessages", 0), ("meta", "innerInstructions"), ("meta", "innerInstructions", 0),
    ("meta", "loadedAddresses"), ("meta", "loadedAddresses", "writable"), ("meta", "loadedWritableAddresses"),
    ("meta", "loadedReadonlyAddresses"), ("transaction",), ("transaction", "message", "header"),
    ("transaction", "signatures"), ("transaction", "signatures", 0), ("transaction", "message"),
    ("transaction", "message", "accountKeys"), ("transaction", "message", "accountKeys", 3), ("transaction", "meta"),
]  # fmt: skip


@settings(max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(
    changes=st.lists(
        st.tuples(st.sampled_from(PLACES), st.one_of(st.just("delete"), st.just("truncate"), JSON_VALUES)),
        min_size=1,
        max_size=3,
    ),
    base=st.sampled_from(["real", "fake"]),
)
def test_hostile_variations_read_alike_or_are_left_to_the_json_read(changes, base):
    if base == "real":
        tx = copy.deepcopy(load(JSON_CREATE)["result"])
    else:
        tx = transaction_json(Launch(index=7, block_time=1_700_000_000), slot=10**8)
    for place, value in changes:
        *path, last = place
        holder = tx
        for step in path:
            holder = holder[step] if isinstance(holder, dict | list) and _has(holder, step) else None
        if holder is None or not isinstance(holder, dict | list) or not _fits(holder, last):
            continue
        if value == "delete":
            if _has(holder, last):
                del holder[last]
        elif value == "truncate":
            if isinstance(holder, dict) and isinstance(holder.get("logMessages"), list):
                holder["logMessages"] = [*holder["logMessages"][:5], "Log truncated"]
        else:
            holder[last] = value
    assert_read_alike(tx)


def _has(holder, step) -> bool:
    return step in holder if isinstance(holder, dict) else isinstance(step, int) and step < len(holder)


def _fits(holder, last) -> bool:
    return isinstance(holder, dict) or (isinstance(last, int) and last < len(holder))


async def test_a_page_with_a_hostile_transaction_is_read_as_json_and_loses_nothing(solana):
    """One transaction of the page has a block height that is text, and a log line that is a
    number: the typed read refuses the page, the JSON read takes it, and every launch is delivered."""
    solana.offer_transactions_for_address = True
    launches = history(30, newest_s=int(time.time()) - 5, spacing_s=60)
    solana.add(*launches, notify=False)
    hostile = launches[4].signature
    made = solana._whole

    def whole(entry):
        tx = made(entry)
        if entry.launch.signature == hostile:
            tx = {**tx, "slot": "twelve", "meta": {**tx["meta"], "logMessages": [*tx["meta"]["logMessages"], 7]}}
        return tx

    solana._whole = whole
    delivered = []

    async def on_batch(batch):
        delivered.extend(batch)

    async with solana_rpc() as rpc:
        await get_chain_recent_tokens(1, source=chain_source(rpc), batch_callback=on_batch, batch_size=100)
    assert sorted(record.mint for record in delivered) == sorted(launch.mint for launch in launches)
    entry = solana.entries[solana.by_signature[hostile]]
    assert typed(whole(entry)) is None and typed(made(entry)) is not None  # the page was refused for it


class Canned(FakeServer):
    """Answers every call with the next of `bodies` (the last one again once they run out)."""

    def __init__(self, *bodies: bytes) -> None:
        super().__init__()
        self.bodies = list(bodies)
        self.calls = 0

    def handle(self, method, path, query, body, headers) -> Reply:
        self.calls += 1
        return Reply(raw=self.bodies.pop(0) if len(self.bodies) > 1 else self.bodies[0])


PAGE = {"data": [transaction_json(Launch(index=7, block_time=1_700_000_000), slot=10**8)], "paginationToken": "next"}


def answer(**fields) -> bytes:
    return json.dumps({"jsonrpc": "2.0", "id": 1, **fields}, ensure_ascii=False).encode()


async def typed_call(*bodies: bytes):
    server = Canned(*bodies).start()
    try:
        async with SolanaRpc(url=server.url, retry=RetryPolicy(attempts=2, wait_initial=0, wait_jitter=0)) as rpc:
            return await rpc.call("getTransactionsForAddress", [], typed=_FULL_PAGE), server.calls
    finally:
        server.stop()


async def test_a_page_of_its_type_comes_back_typed():
    page, calls = await typed_call(answer(result=PAGE))
    assert isinstance(page, _FullPage) and page.paginationToken == "next" and calls == 1
    assert decode_view(typed_view(page.data[0])) == decode_transaction(PAGE["data"][0])


@pytest.mark.parametrize(
    "body",
    [
        answer(result=PAGE).replace(
            b"Program log: Instruction: Buy", b"Program log: Instruction: \xff"
        ),  # a read string
        answer(result=PAGE).replace(b'"data": "', b'"data": "\xff', 1),  # a skipped string
    ],
    ids=["bad UTF-8 in the logs", "bad UTF-8 in an inner instruction"],
)
async def test_bad_utf8_anywhere_is_refused_and_asked_again_as_before(body):
    page, calls = await typed_call(body, answer(result=PAGE))
    assert calls == 2 and isinstance(page, _FullPage)


async def test_answers_of_another_shape_are_read_as_json_as_before():
    hostile = {**PAGE, "data": [{**PAGE["data"][0], "slot": "twelve"}]}
    result, _ = await typed_call(answer(result=hostile))
    assert result == json.loads(json.dumps(hostile))  # the JSON read: the page's JSON as it came
    assert (await typed_call(answer(result=None)))[0] is None


async def test_error_answers_are_errors_as_before():
    with pytest.raises(RpcCallError, match="-32602"):
        await typed_call(answer(result=PAGE, error={"code": -32602, "message": "bad params"}))
    with pytest.raises(RpcError, match="rate limited"):
        await typed_call(answer(error={"code": -32429, "message": "slow down"}))
