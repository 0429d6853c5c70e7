# Two commands for a newcomer: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8000


.PHONY: demo test test-swapped-page test-scaleout test-matrix test-matrix-ci test-wheel lint bench install browser axe clean

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

# axe-core for the accessibility checks of the browser tests, from the npm
# registry into a tests-only folder (tests/browser/axe.py injects it).
AXE := tests/browser/.axe/node_modules/axe-core/axe.min.js
$(AXE):
	npm install --prefix tests/browser/.axe --no-audit --no-fund --no-package-lock axe-core@4.14.1
axe: $(AXE)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: install browser axe lint
	DJANGO_SETTINGS_MODULE=example_site.settings.dev $(BIN)/python manage.py makemigrations --check --dry-run
	DJANGO_SETTINGS_MODULE=example_site.settings.dev $(BIN)/python manage.py check
	# A fresh basetemp of its own: two runs at once never share files.
	$(BIN)/python -m pytest -q -m "not scaleout" --basetemp="$$(mktemp -d)"
	$(MAKE) test-swapped-page
	$(MAKE) test-scaleout

# A site whose page model is its own (Wagtail 8's WAGTAIL_PAGE_MODEL): chosen
# when Django starts and migrated differently, so a process of its own.
test-swapped-page: install
	$(BIN)/python -m pytest -q tests/swapped_page --ds=tests.swapped_page.settings

# The suite (but the browser and scale-out tests) on each supported Wagtail,
# Django and Python (tox.ini). Python 3.12 and 3.13 come from pyenv where this
# machine has them; tox reports an interpreter it cannot find as skipped.
# `make test-matrix ENVS=py311-wagtail74-django52,py313-wagtail8-django61`
# runs some of it.
empty :=
space := $(empty) $(empty)
PYENV_BINS := $(wildcard $(HOME)/.pyenv/versions/3.1[1-9]*/bin)
TOX := PATH="$(subst $(space),:,$(strip $(PYENV_BINS) $(abspath $(BIN)))):$$PATH" $(BIN)/tox
ENVS ?= ALL
test-matrix: install
	$(TOX) run -e $(ENVS)

# CI's share of the matrix, within its time: the oldest supported stack
# (Wagtail 7.4, Django 5.2, Python 3.11) on the unit, view and consumer tests
# (`make test` covers Wagtail 8 on the project's virtualenv). The live-server
# suites (fuzz, protocol conformance) run there too, not here.
MATRIX_CI_ENV := py311-wagtail74-django52
MATRIX_CI_ARGS := --ignore=tests/test_fuzz.py --ignore=tests/test_protocol_live.py
test-matrix-ci: install
	$(TOX) run --skip-missing-interpreters false -e $(MATRIX_CI_ENV) -- $(MATRIX_CI_ARGS)

# The sdist and wheel (dist/), twine's check, the wheel's contents, and a
# smoke test of the wheel installed into a new virtualenv, run outside the
# source tree (.ci/wheel_smoke.py).
test-wheel: install
	rm -rf dist
	$(BIN)/python -m build --outdir dist .
	$(BIN)/twine check --strict dist/*
	$(BIN)/python .ci/wheel_smoke.py dist

# Several daphne processes on PostgreSQL + Redis, and the protocol and config
# tests again on that stack.
test-scaleout: install
	$(SCALEOUT_ENV) $(BIN)/python -m pytest -q tests/test_scaleout.py tests/test_consumers.py tests/test_query_budget.py tests/test_config_endpoint.py tests/test_search_labels.py tests/test_labels_context_consumers.py \
		tests/test_health.py tests/test_signals.py tests/test_personal_data_coverage.py tests/test_webhooks.py \
		tests/test_group_commit.py
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
