"""A share of the fan-out benchmark's pages, in a process of its own (bench/run_bench.py starts several).

Each page connects as the board's own page does (`?frames=bundle`: messages that waited for the same
delivery round come in one frame). A thousand pages are a thousand browsers, each parsing in its own
process; a thousand sockets in one Python thread measured that thread (one core at 100 % reading
760 MB) more than the server. Each process connects its pages, says READY, and when every page has
seen the run end prints what they received.

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
# Where each message of a frame begins: every message is a JSON object whose first key is "type", and
# no object inside one starts so (a quote inside a string is escaped, so no name can fake one).
MESSAGE_START = re.compile(r'\{"type": ?"(\w+)"')


def message_starts(raw: str) -> list[tuple[int, str]]:
    """Where each message of a frame begins, and its type. A bundle's messages are orjson's text (no
    spaces): `str.find` walks them much faster than a regular expression would."""
    first = MESSAGE_START.match(raw)
    if first is None:
        return []
    if first.group(1) != "bundle":
        return [(0, first.group(1))]
    starts, position = [], raw.find('{"type":"', 1)
    while position != -1:
        kind = MESSAGE_START.match(raw, position)
        starts.append((position, kind.group(1)))
        position = raw.find('{"type":"', kind.end())
    return starts


async def main(hosts: list[str], pages: int, offset: int) -> None:
    gate = asyncio.Semaphore(50)  # connect in waves: the listen backlog is finite

    async def connect(host: str):
        async with gate:
            return await websockets.connect(
                f"ws://{host}/ws/tokens/?frames=bundle", origin=f"http://{host}", max_size=None
            )

    sockets = await asyncio.gather(*(connect(hosts[(offset + i) % len(hosts)]) for i in range(pages)))
    latencies: list[float] = []
    received: list[int] = []

    async def listen(ws) -> None:
        # Only what is measured is read: the arrival time, the sender's stamp, the rows.
        count = 0
        while True:
            raw = await asyncio.wait_for(ws.recv(), timeout=300)
            arrived = time.time()
            starts = message_starts(raw)
            for index, (start, kind) in enumerate(starts):
                end = starts[index + 1][0] if index + 1 < len(starts) else len(raw)
                if kind == "batch":
                    latencies.append(arrived - float(SENT_AT.search(raw, start, end).group(1)))
                    count += raw.count('"mint":', start, end)
                elif kind == "run" and not RUNNING.search(raw, start, end):
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
