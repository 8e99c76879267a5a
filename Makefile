# ServiceFlow: `make run` serves the app on SQLite with demo users; `make test` runs every test.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PORT ?= 5000
HOST ?= 127.0.0.1
PYTEST_WORKERS ?= 2

.PHONY: install run test lint services browser bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	$(VENV)/bin/pybabel -q compile -d web/translations
	touch $(STAMP)

# The editors' front-end libraries (bpmn-js, dmn-js), pinned by package-lock.json and served by the
# app from node_modules (web/vendor); installed again only when the lock file changes.
NPM_STAMP := node_modules/.installed

$(NPM_STAMP): package-lock.json
	npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	touch $(NPM_STAMP)

# The interface's translations (web/translations/<lang>/LC_MESSAGES/messages.po), compiled.
MO_FILES := $(patsubst %.po,%.mo,$(wildcard web/translations/*/LC_MESSAGES/messages.po))

%/LC_MESSAGES/messages.mo: %/LC_MESSAGES/messages.po | $(STAMP)
	$(VENV)/bin/pybabel -q compile -d web/translations

install: $(STAMP) $(MO_FILES) $(NPM_STAMP)

# Debian's chromium for the browser tests (Playwright drives it; no downloaded browser).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null) \
		|| { echo "chromium could not be installed: browser tests need it" >&2; exit 1; }; }

# The PostgreSQL the tests also run against; started when it is down.
services:
	@pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null || \
		pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql) main start 2>/dev/null || true
	@for i in 1 2 3 4 5 6 7 8 9 10; do pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null && break; sleep 1; done; true

# The server and one timer worker run side by side; Ctrl-C, a SIGTERM to make, or the server
# exiting stops both (the worker finishes the case it is on first).
run: install
	$(VENV)/bin/serviceflow setup --demo
	@$(VENV)/bin/serviceflow worker & worker=$$!; \
	$(VENV)/bin/serviceflow serve --host $(HOST) --port $(PORT) & server=$$!; \
	trap 'kill -TERM $$server $$worker 2>/dev/null' INT TERM; \
	wait $$server; status=$$?; kill -TERM $$worker 2>/dev/null; wait; exit $$status

lint: install
	$(VENV)/bin/ruff check .

test: install browser services lint
	$(VENV)/bin/pytest -n $(PYTEST_WORKERS) -q

bench: install services
	$(PY) -m bench.run

clean:
	rm -rf $(VENV) node_modules instance .pytest_cache .ruff_cache
