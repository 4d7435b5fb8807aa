# Two commands on a fresh clone: `make run` and `make test`. Only Python 3.11+ and make needed.
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
            command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null && { echo $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The certified OpenID Provider the interoperability tests run against (Node, from npm).
INTEROP := tests/interop/oidc_provider
INTEROP_STAMP := $(INTEROP)/node_modules/.installed


.PHONY: run test lint typecheck test-sqlite test-postgresql bench clean interop-deps

$(STAMP): pyproject.toml constraints.txt
	@test -n "$(PYTHON)" || { echo "Python 3.11 or newer is needed"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

# The demo's secret key is made once and kept in var/: keys sealed by `portti migrate`, client
# secrets hashed by `portti clients register` and sessions must survive a restart of `make run`.
# localhost, not 127.0.0.1: browsers offer WebAuthn (fingerprint, Face ID) only at a named host.
DEMO_ENV = PORTTI_MODE=demo PORTTI_BASE_URL=http://localhost:8000 PORTTI_DATABASE_URL=sqlite:///var/portti.db PORTTI_SECRET_KEY="$$(cat var/secret_key)"

run: $(STAMP)
	mkdir -p var
	@test -s var/secret_key || (umask 077 && $(BIN)/python -c 'import secrets; print(secrets.token_urlsafe(48))' > var/secret_key)
	$(DEMO_ENV) $(BIN)/portti migrate
	$(DEMO_ENV) $(BIN)/portti demo
	@test -f var/example-client.json || $(DEMO_ENV) $(BIN)/portti clients register \
	  --name "Numerot accounting (example)" --redirect-uri http://127.0.0.1:8001/callback \
	  --post-logout-redirect-uri http://127.0.0.1:8001/ \
	  --backchannel-logout-uri http://127.0.0.1:8001/backchannel-logout --json-out var/example-client.json
	@test -f var/example-machine.json || $(DEMO_ENV) $(BIN)/portti clients register-machine \
	  --name "Numerot accounting (example)" --scope companies:write --scope members:read \
	  --scope members:write --all-companies --json-out var/example-machine.json
	@echo "Portti is at http://localhost:8000 (dev mailbox: http://localhost:8000/dev/mailbox)"
	@echo "A business application that logs in through Portti: http://127.0.0.1:8001 (examples/business_app.py)"
	$(BIN)/uvicorn --app-dir examples business_app:app --host 127.0.0.1 --port 8001 --log-level warning & \
	  trap "kill $$! 2>/dev/null" EXIT INT TERM; \
	  $(DEMO_ENV) $(BIN)/portti serve --port 8000

# panva's openid-client for the OpenID Provider interop tests (tests/e2e/test_openid_client_interop.py);
# skipped loudly without Node (failed under CI=true).
NODE_STAMP := tests/interop/openid_client/node_modules/.installed

$(NODE_STAMP): tests/interop/openid_client/package.json tests/interop/openid_client/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
	  cd tests/interop/openid_client && npm ci --no-audit --no-fund --silent && touch node_modules/.installed; \
	else echo "npm not found: the openid-client interop tests will be skipped"; fi

$(INTEROP_STAMP): $(INTEROP)/package.json $(INTEROP)/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
	  cd $(INTEROP) && npm ci --no-audit --no-fund --loglevel=error && touch node_modules/.installed; \
	else \
	  echo "npm not found: the interoperability tests will be skipped (under CI=true they fail)"; \
	fi

# oidc-client-ts for the single-page app test (tests/e2e/test_oidc_client_ts_spa.py).
SPA_STAMP := tests/interop/oidc_client_ts/node_modules/.installed

$(SPA_STAMP): tests/interop/oidc_client_ts/package.json tests/interop/oidc_client_ts/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
	  cd tests/interop/oidc_client_ts && npm ci --no-audit --no-fund --loglevel=error && touch node_modules/.installed; \
	else echo "npm not found: the oidc-client-ts single-page app test will be skipped"; fi

interop-deps: $(INTEROP_STAMP) $(NODE_STAMP) $(SPA_STAMP)

# The floors first (docs/architecture.md): the import contract in .importlinter, module length
# and imports inside functions; a break of the floors is told as such, not as a style error.
lint: $(STAMP)
	$(BIN)/lint-imports --no-cache
	$(BIN)/python scripts/structure_check.py
	$(BIN)/ruff check src tests benchmarks scripts
	$(BIN)/ruff format --check src tests benchmarks scripts
	$(BIN)/python scripts/requirements_map.py --check
	$(BIN)/python scripts/i18n_check.py

typecheck: $(STAMP)
	$(BIN)/mypy src/portti src/portti_app

# The suite runs on one pytest-xdist worker per core (PYTEST_WORKERS=0 runs it in this process).
# Tests sharing a server or a module fixture stay on one worker (--dist loadgroup). pytest's exit
# status 5 (no test ran) fails the target as any other failure does.
PYTEST_WORKERS ?= $(shell nproc 2>/dev/null || echo 2)
PYTEST := $(BIN)/python -m pytest -p no:cacheprovider -n $(PYTEST_WORKERS) --dist loadgroup

test-sqlite: $(STAMP) $(INTEROP_STAMP) $(NODE_STAMP) $(SPA_STAMP)
	PORTTI_TEST_DATABASE=sqlite $(PYTEST) $(PYTEST_ARGS)

test-postgresql: $(STAMP) $(INTEROP_STAMP) $(NODE_STAMP) $(SPA_STAMP)
	PORTTI_TEST_DATABASE=postgresql $(PYTEST) $(PYTEST_ARGS)

# The two passes run side by side: most of their time is waiting (servers starting, browsers,
# SMTP, Node), and each has its own databases, ports and temporary files. Each pass's output is
# printed whole when it ends; either failing (pytest's exit status 5 included) fails the target.
test: lint typecheck $(INTEROP_STAMP) $(NODE_STAMP) $(SPA_STAMP)
	@$(MAKE) --no-print-directory -j2 --output-sync=target test-sqlite test-postgresql

bench: $(STAMP)
	$(BIN)/python benchmarks/users_list.py
	$(BIN)/python benchmarks/invitations.py
	$(BIN)/python benchmarks/qr_login.py

clean:
	rm -rf $(VENV) var
