# Two commands for a new user: `make run` (the app on the embedded default) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
# The embedded default runs with DEBUG on unless you say otherwise (DEBUG=false needs SECRET_KEY).
export DEBUG ?= true

.PHONY: install run test lint admin load bench clean

$(BIN)/.installed: requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

install: $(BIN)/.installed

run: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	@echo "Serving on http://$(HOST):$(PORT)/  (create a staff login with: make admin)"
	$(BIN)/daphne -b $(HOST) -p $(PORT) project.asgi:application

test: install lint
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

admin: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py createsuperuser

DAYS ?= 1
load: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py load_historical_tokens --days $(DAYS)

bench: install
	$(BIN)/python bench/process_concurrency.py

clean:
	rm -rf $(VENV) staticfiles .pytest_cache .ruff_cache
