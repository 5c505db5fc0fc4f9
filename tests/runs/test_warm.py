"""A process that executes runs is warmed once at its start: what it keeps for life is frozen out of
the collector's reach, and the youngest generation is collected less often (tokens/runs/warm.py)."""

import subprocess
import sys
from pathlib import Path

from tests.live import server_env

ROOT = Path(__file__).resolve().parents[2]
PROBE = """
import gc
import django
django.setup()
from tokens.runs.warm import warm_up
before = gc.get_threshold()
warm_up()
after = gc.get_threshold()
gc.set_threshold(700, *after[1:])
warm_up()  # once per process: a second call changes nothing
print(before, after, gc.get_threshold(), gc.get_freeze_count() > 0)
"""


def test_warm_up_freezes_and_collects_the_young_generation_less_often(tmp_path):
    env = server_env(DATABASE_URL=f"sqlite:///{tmp_path / 'warm.sqlite3'}")
    answer = subprocess.run([sys.executable, "-c", PROBE], env=env, cwd=ROOT, capture_output=True, text=True,
                            timeout=60, check=True)  # fmt: skip
    assert answer.stdout.split("\n")[0] == "(700, 10, 10) (10000, 10, 10) (700, 10, 10) True", answer.stderr
