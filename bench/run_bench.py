"""The benchmark: the project's loader against the two naive flows, and fan-out to many pages.

Everything runs on this machine: a fake pump.fun with a fixed latency and rate limit, Redis, two
Daphne processes, websocket clients. Writes bench/results/latest.md and bench/results/latest.png.

    python bench/run_bench.py                 # N = 1k, 10k, 100k; 1, 100, 1000 clients
    python bench/run_bench.py --quick         # N = 1k, 10k; 1, 100 clients
"""

import argparse
import asyncio
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import redis
import websockets

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
REDIS_URL = "redis://127.0.0.1:6379/13"
FLOWS = {
    "project": "loader as shipped (read-ahead)",
    "strict": "fetch -> process -> fetch, strictly in turn (the seed)",
    "fetch_all": "fetch everything, then process",
}


def base_env(db: Path, upstream: str, rate: float) -> dict[str, str]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "project.settings",
        "SECRET_KEY": "benchmark-only-secret-" + "b3nch" * 10,
        "DEBUG": "false",
        "SECURE_SSL_REDIRECT": "false",
        "DATABASE_URL": f"sqlite:///{db}",
        "REDIS_URL": REDIS_URL,
        "LOADER_WORKERS": "false",
        "PUMPFUN_API_URL": upstream,
        # A client paces itself a little under the upstream's limit: the two clocks never agree exactly,
        # and each 429 costs a Retry-After second.
        "PUMPFUN_REQUESTS_PER_SECOND": str(rate * 0.95),
        "LOG_LEVEL": "WARNING",
        # A thousand benchmark clients share 127.0.0.1: the per-address limits are not what is measured.
        "WS_MAX_PER_IP": "100000",
        "API_REQUESTS_PER_MINUTE": "1000000",
    }
    env.pop("SOLANA_RPC_URL", None)
    env.pop("HISTORICAL_BATCH_SIZE", None)
    return env


def start_upstream(tokens: int, latency: float, rate: float) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "bench" / "fake_upstream.py"), "--tokens", str(tokens),
         "--latency", str(latency), "--rate", str(rate)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    line = process.stdout.readline().split()
    assert line and line[0] == "READY", "the fake upstream did not start"
    return process, line[1]


def start_web(env: dict[str, str], port: int) -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "project.asgi:application"],
        env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    import socket

    for _ in range(200):
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return process
        time.sleep(0.05)
    raise RuntimeError("daphne did not start")


def lower_bound(tokens: int, latency: float, rate: float) -> float:
    """The fastest any client could read the window: ceil((N+1)/50) pages (one must reach past the
    window), the first `rate` at once (the bucket), then `rate` a second, plus one round trip."""
    pages = math.ceil((tokens + 1) / 50)
    return latency + max(0, pages - rate) / rate


async def watch_flow(host: str, command: list[str], env: dict[str, str], *, first_batch_only: bool = False) -> dict:
    """Run a load flow while a websocket client watches the page's messages; with `first_batch_only`,
    stop the load once its first batch is on the socket."""
    async with websockets.connect(f"ws://{host}/ws/tokens/", origin=f"http://{host}", max_size=None) as ws:
        process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.PIPE, text=True)
        started = json.loads(await asyncio.to_thread(process.stdout.readline))["started_at"]
        first_batch = finished = None
        tokens = 0
        while finished is None:
            message = json.loads(await asyncio.wait_for(ws.recv(), timeout=900))
            if message["type"] == "batch":
                first_batch = first_batch or time.time()
                tokens += len(message["tokens"])
                if first_batch_only:
                    process.kill()
                    process.wait()
                    return {"first_batch": first_batch - started, "first_batch_rows": tokens}
            elif message["type"] == "run" and message["status"] not in ("queued", "running"):
                finished = time.time()
        outcome = json.loads(await asyncio.to_thread(process.stdout.readline))
        _, _status, usage = await asyncio.to_thread(os.wait4, process.pid, 0)
    return {
        "first_batch": first_batch - started,
        "total": finished - started,
        "tokens_on_socket": tokens,
        "accepted": outcome["accepted"],
        "status": outcome["status"],
        "warning": outcome.get("warning", ""),
        "peak_rss_mb": usage.ru_maxrss / 1024,
        "cpu_seconds": outcome.get("cpu_seconds"),  # the loader's, during the run (all its threads)
    }


def fan_out(
    hosts: list[str], clients: int, command: list[str], env: dict[str, str], expected: int, processes: int
) -> dict:
    """Pages in `processes` client processes (bench/fan_pages.py), then one load; every page reports
    each batch's delivery time (arrival - the loader's `sent_at`) and the rows it received."""
    shares = [clients // processes + (1 if i < clients % processes else 0) for i in range(processes)]
    readers = []
    for index, share in enumerate(s for s in shares if s):
        readers.append(subprocess.Popen(
            [sys.executable, str(ROOT / "bench" / "fan_pages.py"), "--pages", str(share), "--offset", str(index),
             *hosts],
            stdout=subprocess.PIPE, text=True,
        ))  # fmt: skip
    for reader in readers:
        assert reader.stdout.readline().strip() == "READY", "a page process did not connect"
    process = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True)
    assert process.returncode == 0, process.stderr[-500:]
    latencies: list[float] = []
    received: list[int] = []
    for reader in readers:
        report = json.loads(reader.stdout.readline())
        reader.wait(timeout=60)
        latencies += report["latencies"]
        received += report["received"]
    latencies.sort()
    return {
        "clients": clients,
        "client_processes": len(readers),
        "p50_ms": 1000 * statistics.median(latencies),
        "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))],
        "lost": sum(expected - count for count in received),
        "messages": len(latencies),
    }


def save_report(name: str, lines: list[str]) -> None:
    """Write a benchmark's report to bench/results/<name> and print it."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / name).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def migrated_template(workdir: Path) -> Path:
    template = workdir / "template.sqlite3"
    env = base_env(template, "http://127.0.0.1:9", 1)
    subprocess.run([sys.executable, str(ROOT / "manage.py"), "migrate", "--noinput"], env=env, cwd=ROOT, check=True,
                   capture_output=True)  # fmt: skip
    return template


def fresh_db(template: Path, workdir: Path, name: str) -> Path:
    db = workdir / f"{name}.sqlite3"
    shutil.copy(template, db)
    return db


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[1_000, 10_000, 100_000])
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 100, 1000])
    parser.add_argument("--latency", type=float, default=0.05, help="seconds per upstream request")
    parser.add_argument("--rate", type=float, default=40, help="upstream requests per second")
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument(
        "--fanout-rates", type=float, nargs="+", default=[40, 5],
        help="upstream paces for the fan-out runs (5/s is the loader's shipped default)",
    )  # fmt: skip
    parser.add_argument(
        "--page-processes", type=int, default=4,
        help="client processes the fan-out's pages are spread over (1: all in one Python thread)",
    )  # fmt: skip
    parser.add_argument("--quick", action="store_true", help="N = 1k and 10k; 1 and 100 clients")
    args = parser.parse_args()
    if args.quick:
        args.sizes, args.clients = [1_000, 10_000], [1, 100]

    redis.Redis.from_url(REDIS_URL).flushdb()
    workdir = Path(tempfile.mkdtemp(prefix="loader-bench-"))
    template = migrated_template(workdir)
    web_env = base_env(fresh_db(template, workdir, "web"), "http://127.0.0.1:9", args.rate)
    ports = [18765, 18766]
    webs = [start_web(web_env, port) for port in ports]
    hosts = [f"127.0.0.1:{port}" for port in ports]
    rows, fanout = [], []
    try:
        for size in args.sizes:
            upstream, url = start_upstream(size, args.latency, args.rate)
            try:
                for flow in FLOWS:
                    env = base_env(fresh_db(template, workdir, f"{flow}-{size}"), url, args.rate)
                    env["PUMPFUN_PREFETCH_PAGES"] = "1" if flow in ("strict", "fetch_all") else "4"
                    command = [sys.executable, str(ROOT / "bench" / "flows.py"), "--flow", flow,
                               "--batch-size", str(args.batch_size)]  # fmt: skip
                    result = asyncio.run(watch_flow(hosts[0], command, env))
                    result.update(flow=flow, tokens=size, bound=lower_bound(size, args.latency, args.rate))
                    rows.append(result)
                    print(json.dumps(result), flush=True)
            finally:
                upstream.terminate()
        fan_size = 1_000
        for rate in args.fanout_rates:
            upstream, url = start_upstream(fan_size, args.latency, rate)
            try:
                for clients in args.clients:
                    env = base_env(fresh_db(template, workdir, f"fanout-{rate}-{clients}"), url, rate)
                    command = [sys.executable, str(ROOT / "bench" / "flows.py"), "--flow", "project",
                               "--batch-size", str(args.batch_size)]  # fmt: skip
                    result = fan_out(hosts, clients, command, env, expected=fan_size,
                                     processes=min(clients, args.page_processes))  # fmt: skip
                    result["rate"] = rate
                    fanout.append(result)
                    print(json.dumps(result), flush=True)
            finally:
                upstream.terminate()
    finally:
        for web in webs:
            web.terminate()
        shutil.rmtree(workdir, ignore_errors=True)
    write_report(rows, fanout, args)


def write_report(rows: list[dict], fanout: list[dict], args) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    lines = [
        f"Fake pump.fun: {args.latency * 1000:.0f} ms per request, {args.rate:g} requests/s (server-side 429 past it); "
        f"batch size {args.batch_size}; SQLite (WAL) per flow; Redis channel layer; websocket client on a Daphne "
        f"process. Machine: {os.cpu_count()} cores. Command: `make bench`.",
        "",
        "| N | flow | first batch on websocket (s) | total (s) | lower bound (s) | total / bound | tokens/s "
        "| peak RSS (MB) |",
        "|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row['tokens']:,} | {FLOWS[row['flow']]} | {row['first_batch']:.2f} | {row['total']:.2f} | "
            f"{row['bound']:.2f} | {row['total'] / row['bound']:.2f} | {row['tokens'] / row['total']:,.0f} | "
            f"{row['peak_rss_mb']:.0f} |"
        )
    lines += [
        "",
        "Fan-out: one load of 1,000 tokens (20 batches) to clients split over two Daphne processes, at the",
        "benchmark's upstream pace and at the loader's shipped default of 5 requests/s; the pages are read by",
        f"{args.page_processes} client processes on the same cores (bench/fan_pages.py).",
        "",
        "| upstream req/s | clients | batch messages received | p50 delivery (ms) | p99 delivery (ms) | tokens lost |",
        "|---:|---:|---:|---:|---:|---:|",
        *(
            f"| {f['rate']:g} | {f['clients']} | {f['messages']:,} | {f['p50_ms']:.0f} | {f['p99_ms']:.0f} "
            f"| {f['lost']} |"
            for f in fanout
        ),
    ]
    save_report("latest.md", lines)
    chart(rows, fanout)


def chart(rows: list[dict], fanout: list[dict]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = sorted({row["tokens"] for row in rows})
    figure, (left, middle, right) = plt.subplots(1, 3, figsize=(15, 4.5))
    width = 0.25
    for index, flow in enumerate(FLOWS):
        picked = [next(r for r in rows if r["tokens"] == size and r["flow"] == flow) for size in sizes]
        positions = [i + (index - 1) * width for i in range(len(sizes))]
        left.bar(positions, [r["first_batch"] for r in picked], width, label=flow)
        middle.bar(positions, [r["total"] for r in picked], width, label=flow)
    middle.plot(range(len(sizes)), [lower_bound_row(rows, size) for size in sizes], "k_", markersize=30,
                label="lower bound")  # fmt: skip
    for axis, title in ((left, "first batch on a websocket (s)"), (middle, "total time (s)")):
        axis.set_xticks(range(len(sizes)), [f"{size:,}" for size in sizes])
        axis.set_yscale("log")
        axis.set_title(title)
        axis.set_xlabel("tokens in the window")
        axis.legend()
    for rate in sorted({f["rate"] for f in fanout}, reverse=True):
        runs = [f for f in fanout if f["rate"] == rate]
        right.plot([f["clients"] for f in runs], [f["p50_ms"] for f in runs], "o-", label=f"p50, {rate:g} req/s")
        right.plot([f["clients"] for f in runs], [f["p99_ms"] for f in runs], "o--", label=f"p99, {rate:g} req/s")
    right.set_xscale("log")
    right.set_title("delivery latency per batch (ms)")
    right.set_xlabel("connected pages (two Daphne processes)")
    right.legend()
    figure.tight_layout()
    figure.savefig(RESULTS / "latest.png", dpi=110)


def lower_bound_row(rows: list[dict], size: int) -> float:
    return next(r["bound"] for r in rows if r["tokens"] == size)


if __name__ == "__main__":
    main()
