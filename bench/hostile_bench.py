"""A 7-day chain backfill in which one launch in 37 carries a hostile `uri` (bench/fake_solana.py's
HOSTILE_URIS: bad ports, broken IPv6 literals, other schemes, 300-character hosts, links to this
machine, fake IPFS paths, blanks), with holder counts and metadata on, as a new user would run it:
`manage.py load_historical_tokens --days 7 --upstream chain`. It must end succeeded with every launch
stored and the hostile ones counted as metadata errors. Writes bench/results/hostile.md.

    python bench/hostile_bench.py [--launches 2000] [--every 37]
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from chain_bench import chain_env, start_fake_solana
from fake_solana import HOSTILE_URIS
from run_bench import RESULTS, ROOT, fresh_db, migrated_template


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--launches", type=int, default=2_000)
    parser.add_argument("--every", type=int, default=37)
    args = parser.parse_args()
    hostile = args.launches // args.every
    with tempfile.TemporaryDirectory() as workdir:
        db = fresh_db(migrated_template(Path(workdir)), Path(workdir), "hostile")
        fake, url, ws, gateway = start_fake_solana(
            args.launches, 0.005, 2_000, gtfa=False, extra=["--hostile-every", str(args.every)]
        )
        try:
            env = chain_env(db, url, ws, 2_000)
            env.update(COUNT_HOLDERS="true", FETCH_METADATA="true", IPFS_GATEWAY=gateway + "/ipfs/", LOG_LEVEL="ERROR")
            started = time.monotonic()
            done = subprocess.run(
                [sys.executable, str(ROOT / "manage.py"), "load_historical_tokens", "--days", "7", "--upstream",
                 "chain", "--source", "recent", "--batch-size", "100", "--json"],
                env=env, cwd=ROOT, capture_output=True, text=True, timeout=3_600,
            )  # fmt: skip
            seconds = time.monotonic() - started
        finally:
            fake.terminate()
            fake.wait(timeout=10)
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    progress = summary["progress"]
    # Blank and whitespace-only uris name no document: unknown, nothing to count.
    blanks = sum(1 for i in range(hostile) if not HOSTILE_URIS[i % len(HOSTILE_URIS)].strip())
    lines = [
        "# A 7-day chain backfill with hostile launches",
        "",
        f"`python bench/hostile_bench.py --launches {args.launches} --every {args.every}`: {args.launches:,} "
        f"launches over 7 days, one in {args.every} ({hostile}) with a hostile `uri` ({len(HOSTILE_URIS)} kinds), "
        "holder counts and metadata on, SQLite, the command as a user runs it.",
        "",
        "| what | value |",
        "|---|---:|",
        f"| status | {summary['status']} |",
        f"| launches stored (accepted) | {progress['accepted']:,} of {args.launches:,} |",
        f"| invalid / failed | {progress['invalid']} / {progress['failed']} |",
        f"| metadata errors (hostile uris counted) | {progress['metadata_errors']} (expected {hostile - blanks}) |",
        f"| holder errors | {progress['holder_errors']} |",
        f"| details fetched | {progress['details_done']:,} of {progress['details_queued']:,} |",
        f"| wall time | {seconds:.1f} s |",
        "",
    ]
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "hostile.md").write_text("\n".join(lines))
    print("\n".join(lines))
    ok = (summary["status"] == "succeeded" and progress["accepted"] == args.launches
          and progress["metadata_errors"] == hostile - blanks)  # fmt: skip
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
