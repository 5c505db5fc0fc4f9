"""A share of the fan-out benchmark's pages, in a process of its own (bench/run_bench.py starts several).

A thousand pages are a thousand browsers, each parsing in its own process; a thousand sockets in one
Python thread measured that thread (one core at 100 % reading 760 MB) more than the server. Each process
connects its pages, says READY, and when every page has seen the run end prints what they received.

    python bench/fan_pages.py --pages 250 127.0.0.1:18765 127.0.0.1:18766
"""

import argparse
import asyncio
import json
import re
import sys
import time

import websockets

SENT_AT = re.compile(r'"sent_at": ?([0-9.e+]+)')
RUNNING = re.compile(r'"status": ?"(queued|running)"')
BATCH_START = re.compile(r'\{"type": ?"batch"')
RUN_START = re.compile(r'\{"type": ?"run"')


async def main(hosts: list[str], pages: int, offset: int) -> None:
    gate = asyncio.Semaphore(50)  # connect in waves: the listen backlog is finite

    async def connect(host: str):
        async with gate:
            return await websockets.connect(f"ws://{host}/ws/tokens/", origin=f"http://{host}", max_size=None)

    sockets = await asyncio.gather(*(connect(hosts[(offset + i) % len(hosts)]) for i in range(pages)))
    latencies: list[float] = []
    received: list[int] = []

    async def listen(ws) -> None:
        # Only what is measured is read: the arrival time, the sender's stamp, the rows.
        count = 0
        while True:
            raw = await asyncio.wait_for(ws.recv(), timeout=300)
            arrived = time.time()
            if BATCH_START.match(raw):
                latencies.append(arrived - float(SENT_AT.search(raw).group(1)))
                count += raw.count('"mint":')
            elif RUN_START.match(raw) and not RUNNING.search(raw):
                received.append(count)
                return

    listeners = [asyncio.create_task(listen(ws)) for ws in sockets]
    print("READY", flush=True)
    await asyncio.gather(*listeners)
    for ws in sockets:
        await ws.close()
    print(json.dumps({"latencies": latencies, "received": received}), flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, required=True)
    parser.add_argument("--offset", type=int, default=0, help="which host the first page uses")
    parser.add_argument("hosts", nargs="+")
    args = parser.parse_args()
    asyncio.run(main(args.hosts, args.pages, args.offset))
    sys.exit(0)
