"""One load flow, in a process of its own so that its peak RSS is its own.

    python bench/flows.py --flow project|strict|fetch_all --days 1 --batch-size 50

- project:   the loader as shipped (pages read ahead while batches are processed).
- strict:    the seed's flow: fetch a page, process it, only then fetch the next
             (the same loader with PUMPFUN_PREFETCH_PAGES=1, set by the caller).
- fetch_all: fetch every page first, then process the whole list batch by batch.
Prints one JSON line: the run id, status and accepted count.
"""

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")

import django

django.setup()

from asgiref.sync import sync_to_async  # noqa: E402

from tokens.models import BotSettings, LoadRun  # noqa: E402
from tokens.runs.loader import claim_run, end_run, execute_run  # noqa: E402
from tokens.runs.pipeline import batch_handler  # noqa: E402
from tokens.runs.requests import create_run, plan_run  # noqa: E402
from tokens.runs.warm import warm_up  # noqa: E402
from tokens.sources.clients import pumpfun_client  # noqa: E402
from tokens.sources.pumpfun_api.client import get_recent_pump_tokens  # noqa: E402
from tokens.store.lease import lease_of  # noqa: E402


async def fetch_everything_then_process(run_id: int) -> LoadRun:
    run = await sync_to_async(claim_run)(run_id)
    stored = await sync_to_async(BotSettings.get_solo)()
    async with pumpfun_client() as client:
        everything = await get_recent_pump_tokens(run.days, client=client, now_ms=run.window_end_ms)
    handle = batch_handler(run, stored)
    for start in range(0, len(everything), run.batch_size):
        await handle(everything[start : start + run.batch_size])
    return await end_run(lease_of(run), status=LoadRun.Status.SUCCEEDED)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--flow", choices=["project", "strict", "fetch_all"], required=True)
    parser.add_argument("--days", default="1")
    parser.add_argument("--batch-size", default="50")
    parser.add_argument("--upstream", default="api", choices=["api", "chain"])
    args = parser.parse_args()
    plan = plan_run(
        stored=BotSettings.get_solo(),
        days=args.days,
        batch_size=args.batch_size,
        source="recent",
        upstream=args.upstream,
    )
    run = create_run(plan=plan, origin=LoadRun.Origin.COMMAND)
    warm_up()  # as a loader worker is, at its start: the time measured is a Load on a running worker
    print(json.dumps({"started_at": time.time()}), flush=True)
    cpu_at_start = time.process_time()  # the run's own CPU, this process's start-up left out
    if args.flow == "fetch_all":
        final = asyncio.run(fetch_everything_then_process(run.pk))
    else:
        final = asyncio.run(execute_run(run_id=run.pk))
    print(
        json.dumps(
            {
                "run_id": final.pk,
                "status": final.status,
                "accepted": final.accepted,
                "error": final.error,
                "warning": final.warning,
                "cpu_seconds": time.process_time() - cpu_at_start,
            }
        )
    )


if __name__ == "__main__":
    main()
