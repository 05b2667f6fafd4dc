# The two commands: `make run` serves the gateway, `make test` sets up and runs the whole suite.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
# pytest with the given arguments, where collecting no test at all (exit 5) fails too.
PYTEST = $(PY) -m pytest $(1); status=$$?; \
	if [ $$status -eq 5 ]; then echo "pytest collected no tests: failing" >&2; exit 1; fi; exit $$status
# The suite on SQLite and the in-process cache, whatever DATABASE_URL / CACHE_URL the shell or .env set.
SUITE_ON_SQLITE = DATABASE_URL= CACHE_URL= REDIS_URL= $(call PYTEST)
# The suite again on the PostgreSQL and Redis that scripts/ci_services.sh started. Live-server tests
# (e2e: their gateway picks its own database) and the soak (slow) do not depend on these two and ran
# on SQLite. Each run has its own test database and cache key prefix (tests/conftest.py).
TEST_PG_MARKERS ?= not e2e and not slow
SUITE_ON_PG = set -a && . .cache/ci-services.env && set +a && $(call PYTEST,-m "$(TEST_PG_MARKERS)")

.PHONY: run test test-setup services test-pg test-dates lint migrate bench bench-usage clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.runtime: requirements.txt | $(PY)
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(PY)
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(VENV)/.runtime $@

run: $(VENV)/.runtime
	$(PY) manage.py serve

migrate: $(VENV)/.runtime
	$(PY) manage.py migrate

# Lint, the migrations check, the suite on SQLite, then again on PostgreSQL + Redis; everything
# these need is set up first.
test: test-setup
	$(VENV)/bin/ruff check .
	$(PY) manage.py makemigrations --check --dry-run > /dev/null
	$(SUITE_ON_SQLITE)
	$(SUITE_ON_PG)

# What the tests need, installed and started when missing (quick when present): the pinned Claude
# Code CLI in .cache/ (end-to-end tests), Debian's Chromium (the admin browser test), Debian's HAProxy
# (the replica test), PostgreSQL and Redis on loopback (tests/scale/ and the PostgreSQL pass).
test-setup: $(VENV)/.dev services
	bash scripts/install_claude_code.sh
	bash scripts/install_chromium.sh
	bash scripts/install_haproxy.sh

services:
	bash scripts/ci_services.sh

# Only the PostgreSQL + Redis pass of `make test`.
test-pg: $(VENV)/.dev services
	$(SUITE_ON_PG)

# The fast suite on fake clocks (around midnight, a Monday the 1st, New Year's Eve): no test may
# depend on the day it runs. A few minutes; not part of `make test`.
test-dates: $(VENV)/.dev
	bash scripts/test_dates.sh

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check .

bench: $(VENV)/.dev
	$(PY) -m bench

# The admin on a large usage log (README "The usage log at scale"), on the PostgreSQL that
# scripts/ci_services.sh starts: BENCH_ROWS rows (2 million; up to 10 million) seeded, timed, removed.
BENCH_ROWS ?= 2000000
bench-usage: $(VENV)/.dev services
	set -a && . .cache/ci-services.env && set +a && $(PY) -m bench.usage_scale --rows $(BENCH_ROWS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
