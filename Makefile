# Two commands for a newcomer: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8000


.PHONY: demo test test-swapped-page test-scaleout lint bench install browser clean

# The scale-out run: PostgreSQL and Redis on this machine (see .ci/run).
SCALEOUT_ENV := DATABASE_URL=postgres://postgres@127.0.0.1:5432/livechat REDIS_URL=redis://127.0.0.1:6379/15

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(BIN)/.installed

demo: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py load_demo
	@echo
	@echo "  Site:   http://127.0.0.1:$(PORT)/"
	@echo "  Admin:  http://127.0.0.1:$(PORT)/admin/   (user admin, password admin)"
	@echo "  Inbox:  http://127.0.0.1:$(PORT)/admin/livechat/"
	@echo
	# DEBUG off: bad requests get 400/404 as in production, not a debug 500
	# (--insecure: runserver still serves the static files).
	DEBUG=0 $(BIN)/python manage.py runserver --insecure 127.0.0.1:$(PORT)

# Debian's Chromium drives the browser tests (Playwright cannot download one here).
browser:
	@test -x /usr/bin/chromium || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: install browser lint
	DJANGO_SETTINGS_MODULE=example_site.settings.dev $(BIN)/python manage.py makemigrations --check --dry-run
	DJANGO_SETTINGS_MODULE=example_site.settings.dev $(BIN)/python manage.py check
	$(BIN)/python -m pytest -q -m "not scaleout"
	$(MAKE) test-swapped-page
	$(MAKE) test-scaleout

# A site whose page model is its own (Wagtail 8's WAGTAIL_PAGE_MODEL): chosen
# when Django starts and migrated differently, so a process of its own.
test-swapped-page: install
	$(BIN)/python -m pytest -q tests/swapped_page --ds=tests.swapped_page.settings

# Several daphne processes on PostgreSQL + Redis, and the protocol and config
# tests again on that stack.
test-scaleout: install
	$(SCALEOUT_ENV) $(BIN)/python -m pytest -q tests/test_scaleout.py tests/test_consumers.py tests/test_query_budget.py tests/test_config_endpoint.py
	$(SCALEOUT_ENV) $(BIN)/python -m pytest -q tests/test_faults.py

# Embedded (SQLite, in-memory layer), then scale-out (PostgreSQL, Redis);
# then the load on both, beside a bare Channels relay (benchmarks/README.md).
bench: install
	$(BIN)/python benchmarks/run.py
	psql -q -h 127.0.0.1 -U postgres -c "DROP DATABASE IF EXISTS livechat_bench" -c "CREATE DATABASE livechat_bench"
	DATABASE_URL=postgres://postgres@127.0.0.1:5432/livechat_bench REDIS_URL=redis://127.0.0.1:6379/14 \
		$(BIN)/python benchmarks/run.py
	$(BIN)/python benchmarks/load.py --bench

clean:
	rm -rf $(VENV) db.sqlite3 static_collected
