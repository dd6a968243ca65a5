# PriceHub: `make run` starts the app with sample data, `make test` runs the suite.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test install setup samples check-deploy clean collector-test

# Local development settings (DEBUG=true, a generated SECRET_KEY), written once and never
# overwritten; git-ignored. Settings read it, so every manage.py command works in a new shell.
ENV_FILE := .env

$(ENV_FILE): | $(VENV)/.installed
	$(PY) -m pricehub.env $(ENV_FILE)

$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

# The WhatsApp collector (collector/, Node 20): its packages exactly as package-lock.json pins them.
COLLECTOR_INSTALLED := collector/node_modules/.installed

$(COLLECTOR_INSTALLED): collector/package.json collector/package-lock.json
	cd collector && npm ci --no-audit --no-fund --loglevel=error
	touch $@

install: $(VENV)/.installed $(COLLECTOR_INSTALLED)

# Local runs use the embedded default: SQLite, local storage, django-q2 on the ORM broker.
run: $(VENV)/.installed $(ENV_FILE)
	$(PY) manage.py migrate --noinput
	$(PY) manage.py createcachetable
	$(PY) manage.py ensure_local_admin --url http://$(HOST):$(PORT)/admin/
	$(MAKE) --no-print-directory samples
	@echo "Starting the web app on http://$(HOST):$(PORT)/ and the django-q2 worker (Ctrl+C stops both)."
	@$(PY) manage.py qcluster & qpid=$$!; \
	trap 'kill $$qpid 2>/dev/null; wait $$qpid 2>/dev/null' EXIT INT TERM; \
	$(PY) manage.py runserver $(HOST):$(PORT)

samples: $(VENV)/.installed $(ENV_FILE)
	$(PY) manage.py ingest_samples

test: install
	$(PY) -m pytest -q
	$(MAKE) --no-print-directory collector-test

collector-test: $(COLLECTOR_INSTALLED)
	cd collector && npm test

check-deploy: install
	PRICEHUB_ENV_FILE=none DEBUG=false SECRET_KEY=$$($(PY) -c "import secrets; print(secrets.token_urlsafe(50))") \
	ALLOWED_HOSTS=pricehub.example.com CSRF_TRUSTED_ORIGINS=https://pricehub.example.com \
	$(PY) manage.py check --deploy --fail-level WARNING

clean:
	rm -rf $(VENV) .pytest_cache collector/node_modules
