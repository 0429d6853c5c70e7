# Two commands for a newcomer: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8000
export DJANGO_SETTINGS_MODULE ?= example_site.settings.dev

.PHONY: demo test lint bench install browser clean

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
	$(BIN)/python manage.py runserver 127.0.0.1:$(PORT)

# Debian's Chromium drives the browser tests (Playwright cannot download one here).
browser:
	@test -x /usr/bin/chromium || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: install browser lint
	DJANGO_SETTINGS_MODULE=example_site.settings.dev $(BIN)/python manage.py makemigrations --check --dry-run
	DJANGO_SETTINGS_MODULE=example_site.settings.dev $(BIN)/python manage.py check
	$(BIN)/python -m pytest -q

bench: install
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) db.sqlite3 static_collected
