# Two commands for a new user: `make run` (the app on the embedded default) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
# The embedded default runs with DEBUG on unless you say otherwise (DEBUG=false needs SECRET_KEY).
export DEBUG ?= true

.PHONY: vendor install run test test-embedded test-production services lint admin load bench clean
# The production pass of the suite: PostgreSQL (trust auth) and Redis on their standard local ports.
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/pumpfun
TEST_REDIS_URL ?= redis://127.0.0.1:6379/15

$(BIN)/.installed: requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

# The browser tests drive Debian's Chromium (Playwright's own browser download does not work here).
/usr/bin/chromium:
	command -v apt-get >/dev/null || { echo "install Chromium at /usr/bin/chromium for the browser tests" >&2; exit 1; }
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null

install: $(BIN)/.installed

run: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	@echo "Serving on http://$(HOST):$(PORT)/  (create a staff login with: make admin; Ctrl-C stops it)"
	@echo "New launches are followed inside the server (FOLLOW_LAUNCHES=web; FOLLOW_LAUNCHES=off to skip)"
	FOLLOW_LAUNCHES=$${FOLLOW_LAUNCHES:-web} $(BIN)/daphne -b $(HOST) -p $(PORT) project.asgi:application

# The whole suite, twice: on the embedded default (SQLite + in-memory layer), then on PostgreSQL +
# Redis, where the multi-process tests (two Daphne processes and a loader worker) also run.
test: install lint test-embedded test-production

test-embedded: install /usr/bin/chromium
	env -u DATABASE_URL -u REDIS_URL -u FOLLOW_LAUNCHES $(BIN)/pytest -m "not production"

# The browser tests ran in the embedded pass; this pass is about the database and the channel layer.
test-production: install services
	env -u FOLLOW_LAUNCHES DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) $(BIN)/pytest -m "not browser"

services:
	bash .ci/services

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

admin: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py createsuperuser

DAYS ?= 1
load: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py load_historical_tokens --days $(DAYS)

bench: install services
	$(BIN)/python bench/run_bench.py
	$(BIN)/python bench/process_concurrency.py
	$(BIN)/python bench/chain_bench.py
	$(BIN)/python bench/chain_bench.py --quick --postgres
	$(BIN)/python bench/loader_stages.py
	$(BIN)/python bench/details_bench.py
	$(BIN)/python bench/api_bench.py
	$(BIN)/python bench/recovery_bench.py
	$(BIN)/python bench/hostile_bench.py
	$(BIN)/python bench/trades_bench.py
	$(BIN)/python bench/pools_bench.py
	$(BIN)/python bench/million_bench.py

# Front-end libraries, pinned in package.json and package-lock.json, copied into the static files
# (committed, so neither `make run` nor CI needs npm).
vendor:
	npm ci --no-audit --no-fund
	cp node_modules/lightweight-charts/dist/lightweight-charts.standalone.production.js node_modules/lightweight-charts/LICENSE tokens/static/vendor/lightweight-charts/

clean:
	rm -rf $(VENV) staticfiles .pytest_cache .ruff_cache
