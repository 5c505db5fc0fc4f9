"""The house: `tokens/` is a handful of rooms (sources, store, details, trades, live, runs, board) whose imports
run one way, with no cycle anywhere; the contracts are in pyproject.toml ([tool.importlinter])."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_imports_run_one_way_and_no_room_has_a_cycle():
    linter = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(linter), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "Contracts: 3 kept, 0 broken." in result.stdout


def test_tokens_holds_rooms_not_a_flat_list_of_modules():
    top = sorted(path.stem for path in (ROOT / "tokens").glob("*.py") if path.stem != "__init__")
    # Django's own entry points, the models and their helpers; everything else lives in a room.
    assert top == ["admin", "age_filters", "apps", "bot_settings", "cancellation", "checks", "liveness", "models"]
    rooms = sorted(path.name for path in (ROOT / "tokens").iterdir() if (path / "__init__.py").exists())
    assert rooms == [
        "board", "details", "live", "management", "migrations", "runs", "sources", "store", "templatetags", "trades",
    ]  # fmt: skip
