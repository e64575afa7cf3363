# bigcommerce-ometria-sync — every entry point a newcomer needs. Works on a fresh machine:
# the virtualenv is created and the project installed on first use.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)
PYTEST_ARGS ?=
# make run's ports (override on the command line: make run BCSYNC_WEB_PORT=8000 BCSYNC_SANDBOX_BC_PORT=6101)
BCSYNC_WEB_PORT ?= 5000
BCSYNC_SANDBOX_BC_PORT ?= 5101
BCSYNC_SANDBOX_OMETRIA_PORT ?= 5102
export BCSYNC_WEB_PORT BCSYNC_SANDBOX_BC_PORT BCSYNC_SANDBOX_OMETRIA_PORT

.PHONY: install run test lint bench browser nginx clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@rm -f $(VENV)/.installed-*; touch $(STAMP)

install: $(STAMP)

## make run: web + worker + beat on the embedded default (SQLite, file-backed broker).
## Without BigCommerce credentials in the environment or .env, it runs the sandbox store too, and
## (unless ADMIN_TOKEN is set) an admin token generated for this run, printed with the admin URL.
run: install
	$(BIN)/bcsync db upgrade
	@if [ -z "$$BIGCOMMERCE_STORE_HASH" ] && ! grep -qs '^BIGCOMMERCE_STORE_HASH=.' .env && [ -z "$$STORES_FILE" ]; then \
	  admin="log in with your ADMIN_TOKEN"; \
	  if [ -z "$$ADMIN_TOKEN" ] && ! grep -qs '^ADMIN_TOKEN=.' .env; then \
	    ADMIN_TOKEN=$$($(BIN)/python -c 'import secrets; print(secrets.token_urlsafe(24))'); export ADMIN_TOKEN; \
	    admin="log in with the token $$ADMIN_TOKEN (generated for this sandbox run)"; \
	  fi; \
	  echo ""; \
	  echo "************************************************************************"; \
	  echo "  No BigCommerce credentials (BIGCOMMERCE_STORE_HASH unset):"; \
	  echo "  running against the SANDBOX store on http://127.0.0.1:$$BCSYNC_SANDBOX_BC_PORT and the"; \
	  echo "  sandbox Ometria on http://127.0.0.1:$$BCSYNC_SANDBOX_OMETRIA_PORT (see README, 'Real store')."; \
	  echo "  Admin page: http://127.0.0.1:$$BCSYNC_WEB_PORT/admin/ -- $$admin"; \
	  echo "************************************************************************"; \
	  echo ""; \
	  PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/honcho -f Procfile.sandbox start; \
	else \
	  PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/honcho -f Procfile start web worker beat; \
	fi

## make test: lint (ruff, format, mypy), then the whole suite (SQLite, PostgreSQL, Redis, RabbitMQ,
## headless Chromium).
test: lint browser nginx
	$(BIN)/pytest $(PYTEST_ARGS)

## make lint: ruff, the format check and mypy (consumer/ and workers/, strict on workers/domain/;
## configured in pyproject.toml). Each fails the target on any finding.
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

## make bench: the benchmarks of DESIGN.md, figures printed side by side.
bench: install
	$(BIN)/python -m bench

## Debian's Chromium for the admin page's browser test (skipped, saying why, where it cannot install).
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && (apt-get update -qq && apt-get install -y -qq chromium >/dev/null) || echo "chromium not installed: the browser test will skip"; }

## Debian's nginx, which the web process runs in front of gunicorn (infra/web.py); the slow-client
## and deployment tests skip, saying why, without it.
nginx:
	@command -v nginx >/dev/null 2>&1 || test -x /usr/sbin/nginx || { [ "$$(id -u)" = 0 ] && (apt-get update -qq && apt-get install -y -qq nginx >/dev/null) || echo "nginx not installed (needs root: apt-get install nginx): the web process cannot start and its tests will skip"; }

clean:
	rm -rf $(VENV) var .pytest_cache
