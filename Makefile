# The two commands: `make run` and `make test`. Everything they need, they install.
PYTHON ?= python3.11
VENV ?= .venv
PORT ?= 8000
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip

.PHONY: run test install install-dev lint typecheck imports format check clean bench-intake bench-escalation bench-review bench-replay bench-ledger bench-soak bench-scale-out bench-longpoll

$(VENV)/.installed: pyproject.toml clients/python/pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -e '.[dev]'
	$(PIP) install --quiet -e './clients/python[mcp,langgraph,openai-agents]'
	touch $@

install: $(VENV)/.installed

install-dev: install

## make run: migrate, seed the demo SOC (and, once, 60 days of decision history), start web + Celery worker + beat on the embedded defaults, supervised by honcho (Procfile): one exits, all stop.
## The web server runs with DEBUG off (the friendly error pages, never a debug page); DEBUG=true make run for a developer.
run: install
	mkdir -p var
	$(PY) manage.py migrate --noinput
	$(PY) manage.py ledger_keygen --if-missing
	$(PY) manage.py seed_demo
	$(PY) manage.py seed_history --decisions 2000 --days 60 --if-empty
	$(PY) manage.py collectstatic --noinput --verbosity 0
	@echo ""
	@echo "Countersign is starting: analysts http://127.0.0.1:$(PORT)/decisions/  governance http://127.0.0.1:$(PORT)/admin/"
	@$(PY) manage.py demo_logins
	@echo ""
	DEBUG=$${DEBUG:-false} PATH="$(abspath $(VENV))/bin:$$PATH" $(VENV)/bin/honcho start -f Procfile -p $(PORT)

## make test: install dev dependencies if missing, then run the whole suite.
test: install
	DJANGO_SETTINGS_MODULE=portal.settings.test $(PY) -m pytest $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(MAKE) --no-print-directory typecheck
	$(MAKE) --no-print-directory imports

## make typecheck: mypy (django-stubs, djangorestframework-stubs, celery-types) over the apps, and over the Python client.
typecheck: install
	$(VENV)/bin/mypy governance decisions portal
	$(VENV)/bin/mypy clients/python/src

## make imports: the import-linter contracts in pyproject.toml (the floor plan's layers).
imports: install
	$(VENV)/bin/lint-imports

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

check: install
	$(PY) manage.py makemigrations --check --dry-run
	SECRET_KEY=$$($(PY) -c 'import secrets; print(secrets.token_urlsafe(64))') \
	  LEDGER_SIGNING_KEY=$$($(PY) -c 'import base64, os; print(base64.b64encode(os.urandom(32)).decode())') \
	  SECRET_ENCRYPTION_KEYS=$$($(PY) -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())') \
	  DJANGO_SETTINGS_MODULE=portal.settings.production $(PY) manage.py check --deploy --fail-level WARNING

clean:
	rm -rf var .pytest_cache .ruff_cache .mypy_cache

## make bench-intake: 2,000 submissions through gunicorn + PostgreSQL + Redis, against a baseline.
bench-intake: install
	$(PY) -m bench.intake

## make bench-escalation: lateness, duplicates and misses with one worker + beat (PostgreSQL, Redis).
bench-escalation: install
	$(PY) -m bench.escalation

## make bench-scale-out: the intake and escalation benches on two of everything (two gunicorns, two workers, two beats; one PostgreSQL, one Redis).
bench-scale-out: install
	$(PY) -m bench.intake --topology double
	$(PY) -m bench.escalation --topology double

## make bench-longpoll: intake and sign-off latency with 200 long-poll waiters vs none (gunicorn gthread, PostgreSQL).
bench-longpoll: install
	$(PY) -m bench.longpoll

## make bench-review: the review figures over 100,000 seeded decisions (PostgreSQL), against a plain COUNT.
bench-review: install
	$(PY) -m bench.review

## make bench-replay: the what-if replay of a draft approval policy over 100,000 seeded decisions (PostgreSQL), against a plain COUNT.
bench-replay: install
	$(PY) -m bench.replay

## make bench-ledger: the record at a million events (PostgreSQL): sequencing, full and incremental verification, the evidence pack.
bench-ledger: install
	$(PY) -m bench.ledger

## make bench-soak: the demo load (submissions, sign-offs, escalations, webhooks, notifications) on the embedded defaults for MINUTES (30): worker crashes, lost tasks.
MINUTES ?= 30
bench-soak: install
	$(PY) -m bench.soak --minutes $(MINUTES)
