# Two commands: `make run` serves the app, `make test` runs the whole suite.
# Both set everything up first (virtualenv, packages, migrations).

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
# The PostgreSQL pass of `make test`; override to point at another server.
TEST_POSTGRES_URL ?= postgres://postgres@127.0.0.1:5432/advisor

.PHONY: run serve serve-user user test test-sqlite test-postgres test-topology test-deps serve-deps runtime-deps migrate lint format bench clean

$(VENV)/.installed: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

# System libraries the app needs (Pango and fonts for the PDF report);
# installed only when missing.
runtime-deps:
	scripts/ensure-runtime-deps

# The settings are production ones unless DJANGO_DEBUG=1: the local server
# (and the migrate it runs first) are development. `make run DJANGO_DEBUG=0`
# overrides it, with DJANGO_SECRET_KEY and DJANGO_ALLOWED_HOSTS set.
run migrate user: export DJANGO_DEBUG := 1

migrate: $(VENV)/.installed
	$(PY) manage.py migrate --noinput

run: runtime-deps migrate
	$(PY) manage.py runserver $(HOST):$(PORT)

# The production topology on this machine (docs/deploy.md): nginx with TLS and
# HTTP/2 on https://127.0.0.1:$(HTTPS_PORT)/ in front of APP_PROCESSES daphne
# processes under supervisor, on PostgreSQL (database advisor_serve) and
# Redis. Ctrl-C stops nginx and the app processes (not PostgreSQL or Redis).
HTTPS_PORT ?= 8443
APP_PROCESSES ?= 2
serve-deps:
	scripts/ensure-serve-deps

serve: runtime-deps serve-deps $(VENV)/.installed
	HTTPS_PORT=$(HTTPS_PORT) APP_PROCESSES=$(APP_PROCESSES) $(PY) -m serving.topology

# A local account to sign in with on `make run` (anonymous mode needs none):
# `make user USERNAME=alice` asks for a password and makes alice the owner of
# the workspace WORKSPACE (created if missing); ROLE gives another role, and
# EMAIL an email address (where the decision emails go; none without it).
WORKSPACE ?= demo
ROLE ?= owner
EMAIL ?=
user: SHELL := /bin/bash
user: migrate
	@test -n "$(USERNAME)" || { echo "usage: make user USERNAME=alice [WORKSPACE=demo] [ROLE=owner] [EMAIL=alice@example.com]"; exit 2; }
	@$(PY) manage.py workspace list | cut -f1 | grep -qx "$(WORKSPACE)" || \
		$(PY) manage.py workspace create "$(WORKSPACE)" --name "$(WORKSPACE)"
	@read -r -s -p "Password for $(USERNAME): " password && echo && \
		ADVISOR_NEW_USER_PASSWORD="$$password" $(PY) manage.py workspace add-member \
		"$(WORKSPACE)" "$(USERNAME)" --role "$(ROLE)" --create-user \
		$(if $(EMAIL),--email "$(EMAIL)")

# The same for `make serve`, whose processes run with production settings on
# their own database (advisor_serve): an account made by `make user` lives in
# development's database and cannot sign in there. Same prompts and variables.
SERVE_MANAGE = HTTPS_PORT=$(HTTPS_PORT) $(PY) -m serving.topology manage
serve-user: SHELL := /bin/bash
serve-user: $(VENV)/.installed
	@test -n "$(USERNAME)" || { echo "usage: make serve-user USERNAME=alice [WORKSPACE=demo] [ROLE=owner] [EMAIL=alice@example.com]"; exit 2; }
	@$(SERVE_MANAGE) workspace list | cut -f1 | grep -qx "$(WORKSPACE)" || \
		$(SERVE_MANAGE) workspace create "$(WORKSPACE)" --name "$(WORKSPACE)"
	@read -r -s -p "Password for $(USERNAME): " password && echo && \
		ADVISOR_NEW_USER_PASSWORD="$$password" $(SERVE_MANAGE) workspace add-member \
		"$(WORKSPACE)" "$(USERNAME)" --role "$(ROLE)" --create-user \
		$(if $(EMAIL),--email "$(EMAIL)")

# System packages and services the suite needs (Chromium for the browser
# tests, a running PostgreSQL); installed or started only when missing.
test-deps: $(VENV)/.installed-dev runtime-deps
	scripts/ensure-test-deps

# The suite sets DJANGO_DEBUG=1 itself (tests/settings.py), so a bare pytest
# works as well as these.
test-sqlite: test-deps
	env -u DATABASE_URL $(PY) -m pytest

test-postgres: test-deps
	DATABASE_URL=$(TEST_POSTGRES_URL) $(PY) -m pytest

# The fault tests (tests/topology/): the topology of `make serve` on its own
# PostgreSQL and Redis (private ports), with processes killed and restarted.
# Not collected by the two passes above: they run once, here.
test-topology: test-deps serve-deps
	ADVISOR_TOPOLOGY_TESTS=1 $(PY) -m pytest tests/topology -p no:cacheprovider

test: lint test-sqlite test-postgres test-topology

# Benchmarks are run by hand; their figures go to docs/benchmarks.md. The
# reference servers, charts and profilers they use are installed for them only.
$(VENV)/.installed-bench: $(VENV)/.installed-dev requirements-bench.txt
	$(PY) -m pip install --quiet -r requirements-bench.txt
	touch $@

# `make bench` runs every scenario; `make bench-fanout` (and so on) runs one.
BENCHES := scoring report cache advisor fanout idle storm references handshake decisions upstream topology capacity
bench: runtime-deps serve-deps $(addprefix bench-,$(BENCHES))

bench-%: $(VENV)/.installed-bench
	$(PY) bench/bench_$*.py

lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache staticfiles .serve
