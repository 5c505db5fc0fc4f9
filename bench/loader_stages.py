"""The loader's CPU per launch, stage by stage, in one process: what a chain backfill spends on each
launch between the RPC's answer and the page's message.

    python bench/loader_stages.py [--launches 20000]

N create transactions as `getTransactionsForAddress` hands them over (a page's JSON answer, read as
the RPC client reads it: straight into the fields the decoders use) are decoded, made into launch
records, processed (validated, filtered), stored 100 a batch into a fresh SQLite database and made
into the page's batch messages, each stage timed
in CPU seconds (`time.process_time`): steadier than a wall clock on a machine shared with the
processes `chain_bench.py` starts, and it names the stage. HTTP, the curves' reads and the channel
layer are not in it (chain_bench.py measures the whole). Writes bench/results/loader_stages.md.
"""

import argparse
import os
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
WORKDIR = Path(tempfile.mkdtemp(prefix="loader-stages-"))
os.environ.update(
    DJANGO_SETTINGS_MODULE="project.settings",
    SECRET_KEY="benchmark-only-secret-" + "b3nch" * 10,
    DEBUG="false",
    DATABASE_URL=f"sqlite:///{WORKDIR / 'stages.sqlite3'}",
    SOLANA_RPC_URL="http://127.0.0.1:9",  # never called: the chain upstream needs one set
    COUNT_HOLDERS="false",
    FETCH_METADATA="false",
    LOG_LEVEL="WARNING",
)
os.environ.pop("REDIS_URL", None)

import django  # noqa: E402

django.setup()

import orjson  # noqa: E402
from django.core.management import call_command  # noqa: E402

from tests.fakes.chain import Launch as FakeLaunch  # noqa: E402
from tests.fakes.chain import transaction_json  # noqa: E402
from tokens.live.messages import batch_message, encode  # noqa: E402
from tokens.models import BotSettings, LoadRun  # noqa: E402
from tokens.runs.loader import claim_run  # noqa: E402
from tokens.runs.requests import create_run, plan_run  # noqa: E402
from tokens.runs.warm import warm_up  # noqa: E402
from tokens.sources.chain.events import decode_view  # noqa: E402
from tokens.sources.chain.launches import launch_records  # noqa: E402
from tokens.sources.chain.source import _FULL_PAGE  # noqa: E402
from tokens.sources.chain.transactions import typed_view  # noqa: E402
from tokens.store.batches import store_batch  # noqa: E402
from tokens.store.filters import rules_from  # noqa: E402
from tokens.store.processing import NO_DETAILS, process_batch  # noqa: E402

BATCH = 100
from run_bench import save_report  # noqa: E402

STAGES = ("read JSON", "decode", "records", "process", "store", "message")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--launches", type=int, default=20_000)
    count = parser.parse_args().launches
    call_command("migrate", verbosity=0)
    warm_up()
    now = int(time.time())
    # One page's answer at a time, as the RPC client receives it.
    pages = [
        orjson.dumps({"jsonrpc": "2.0", "id": 1, "result": {"data": [
            transaction_json(FakeLaunch(index=i, block_time=now - 30 * i), slot=10**8 - i)
            for i in range(start, min(start + BATCH, count))]}})
        for start in range(0, count, BATCH)
    ]  # fmt: skip
    plan = plan_run(stored=BotSettings.get_solo(), days="30", batch_size=str(BATCH), source="recent", upstream="chain")
    run = claim_run(create_run(plan=plan, origin=LoadRun.Origin.COMMAND).pk)
    rules = rules_from(BotSettings.get_solo(), cutoff=run.created_at.replace(year=run.created_at.year - 1))
    spent = dict.fromkeys(STAGES, 0.0)

    @contextmanager
    def stage(name: str):
        started = time.process_time()
        yield
        spent[name] += time.process_time() - started

    for index, page in enumerate(pages):
        with stage("read JSON"):
            transactions = _FULL_PAGE.decode(page).result.data  # as ChainSource reads a page
        with stage("decode"):
            decoded = [decode_view(typed_view(tx)) for tx in transactions]
        with stage("records"):
            launches = [record for transaction in decoded for record in launch_records(transaction)]
        with stage("process"):
            outcome = process_batch(launches, rules=rules, now_ms=now * 1000, plan=NO_DETAILS)
        with stage("store"):
            stored = store_batch(
                run_id=run.pk, lease_epoch=run.lease_epoch, records=outcome.records, invalid=0, failed=0,
                estimated_total=count, checkpoint={"page": index}, rules=rules,
            )  # fmt: skip
        with stage("message"):
            encode(batch_message(run=stored.run, cursor=stored.cursor, tokens=stored.accepted,
                                 removed=stored.rejected_mints, stored=stored.stored))  # fmt: skip
    assert LoadRun.objects.get(pk=run.pk).accepted == count, "every launch is stored"
    report(count, spent)


def report(count: int, spent: dict[str, float]) -> None:
    total = sum(spent.values())
    lines = [
        f"The loader's CPU per launch by stage, in one process (`python bench/loader_stages.py`): {count:,} create "
        f"transactions of the fake chain, batches of {BATCH}, SQLite (WAL). HTTP, the curves' reads and the channel "
        "layer are not in it: `chain_bench.py` measures the whole loader.",
        "",
        "| stage | CPU / launch (µs) | share |",
        "|---|---:|---:|",
        *(f"| {name} | {1e6 * spent[name] / count:.1f} | {100 * spent[name] / total:.0f} % |" for name in STAGES),
        f"| all | {1e6 * total / count:.1f} | 100 % |",
    ]
    save_report("loader_stages.md", lines)


if __name__ == "__main__":
    main()
