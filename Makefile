# The two commands: `make run` serves the gateway, `make test` runs the whole suite.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python

.PHONY: run test test-pg lint migrate bench clean

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

test: $(VENV)/.dev
	$(VENV)/bin/ruff check .
	$(PY) manage.py makemigrations --check --dry-run > /dev/null
	$(PY) -m pytest; status=$$?; \
	  if [ $$status -eq 5 ]; then echo "pytest collected no tests: failing" >&2; exit 1; fi; \
	  exit $$status

# The suite again on PostgreSQL + Redis (DATABASE_URL and CACHE_URL from the environment; in CI from
# `bash scripts/ci_services.sh`). Live-server tests (e2e: their gateway picks its own database) and the
# soak (slow) do not depend on these two and ran in `make test`.
TEST_PG_MARKERS ?= not e2e and not slow
test-pg: $(VENV)/.dev
	@case "$$DATABASE_URL" in postgres*) ;; *) echo "test-pg: DATABASE_URL must be a postgres:// URL (see scripts/ci_services.sh)" >&2; exit 2;; esac
	@case "$$CACHE_URL" in redis*) ;; *) echo "test-pg: CACHE_URL must be a redis:// URL (see scripts/ci_services.sh)" >&2; exit 2;; esac
	$(PY) -m pytest -m "$(TEST_PG_MARKERS)"; status=$$?; \
	  if [ $$status -eq 5 ]; then echo "pytest collected no tests: failing" >&2; exit 1; fi; \
	  exit $$status

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check .

bench: $(VENV)/.dev
	$(PY) -m bench

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
