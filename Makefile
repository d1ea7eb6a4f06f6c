# Two commands: `make run` and `make test`. Both set themselves up.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test stack lint system-packages stack-packages vendor

run: $(VENV)/.app
	APP_ENV=$${APP_ENV:-development} $(BIN)/python wsgi.py

test: $(VENV)/.dev system-packages
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest

# The production shape on this machine: nginx (TLS) -> gunicorn -> the app, and
# coturn, on https://127.0.0.1:8443 (STACK_PORT). Ctrl-C stops it all.
stack: $(VENV)/.app stack-packages
	$(BIN)/python -m scripts.stack

lint: $(VENV)/.dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Debian's Chromium for the browser tests (Playwright cannot download one here),
# coturn for the TURN tests, nginx for the proxy tests, systemd to check the unit file,
# redis-server for the Store and several processes.
system-packages:
	scripts/ensure-packages.sh /usr/bin/chromium=chromium /usr/bin/turnserver=coturn /usr/sbin/nginx=nginx \
		/usr/bin/systemd-analyze=systemd /usr/bin/redis-server=redis-server postgresql

stack-packages:
	scripts/ensure-packages.sh /usr/bin/turnserver=coturn /usr/sbin/nginx=nginx /usr/bin/redis-server=redis-server openssl

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV) || { scripts/ensure-packages.sh python3-venv && $(PYTHON) -m venv $(VENV); }

$(VENV)/.app: requirements.txt | $(VENV)/bin/python
	$(BIN)/pip install -q --disable-pip-version-check -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(VENV)/bin/python
	$(BIN)/pip install -q --disable-pip-version-check -r requirements-dev.txt
	touch $@ $(VENV)/.app

# Refresh the front-end files served by the app from their npm packages.
vendor:
	scripts/vendor.sh

# Benchmarks (docs/benchmarks.md): the app under gunicorn eventlet and gevent against a
# minimal Node.js socket.io relay, server on CPU 0 and load generator on CPU 1.
# `make bench-quick` is a smoke run of about a minute and a half. Options go in BENCH_ARGS,
# e.g. `make bench BENCH_ARGS="--modes gevent --skip-browser"`. The load generator
# (benchmarks/loadgen/) has no npm dependencies; the baseline's are installed by npm ci.
# `make bench-records` times the durable records (join, sign-in, history) on SQLite and PostgreSQL.
.PHONY: bench bench-quick bench-records bench-packages
BENCH_NODE_MODULES := benchmarks/baseline/node_modules/.package-lock.json

bench: $(VENV)/.bench $(BENCH_NODE_MODULES)
	$(BIN)/python -m benchmarks.run $(BENCH_ARGS)

bench-quick: $(VENV)/.bench $(BENCH_NODE_MODULES)
	$(BIN)/python -m benchmarks.run --quick $(BENCH_ARGS)

bench-records: $(VENV)/.bench
	$(BIN)/python -m benchmarks.records $(BENCH_ARGS)

bench-packages:
	scripts/ensure-packages.sh /usr/bin/node=nodejs /usr/bin/npm=npm /usr/bin/chromium=chromium /usr/bin/redis-server=redis-server \
		/usr/bin/turnserver=coturn postgresql

$(VENV)/.bench: requirements.txt requirements-dev.txt requirements-bench.txt | $(VENV)/bin/python bench-packages
	$(BIN)/pip install -q --disable-pip-version-check -r requirements-bench.txt
	touch $@ $(VENV)/.dev $(VENV)/.app

# Reinstalled when missing or older than the lock file.
$(BENCH_NODE_MODULES): benchmarks/baseline/package-lock.json | bench-packages
	cd benchmarks/baseline && npm ci --no-audit --no-fund
	touch $@
