# The two commands (README): `make run` starts Necto on the sandbox network; `make test` runs every test.
# Both create or update .venv from uv.lock first, so they work on a fresh machine and are idempotent.
PYTHON ?= python3
VENV := .venv
UV := $(VENV)/bin/uv
STAMP := $(VENV)/.synced

.PHONY: run test venv lint protos contracts devnet bench bench-skypilot bench-sdl-ts clean

$(UV):
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check "uv==0.13.9"

$(STAMP): pyproject.toml uv.lock | $(UV)
	UV_PROJECT_ENVIRONMENT=$(VENV) $(UV) sync --frozen --python $(VENV)/bin/python
	touch $(STAMP)

venv: $(STAMP)

run: $(STAMP)
	$(VENV)/bin/necto serve --port 8000

test: $(STAMP)
	$(VENV)/bin/python -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check .

protos: $(STAMP)
	$(VENV)/bin/python -m tools.akash.proto.generate

devnet: $(STAMP)
	$(VENV)/bin/necto devnet

# Recompile the ComputeRouter artifact (contracts/build/ComputeRouter.json) with the pinned solc-js.
contracts:
	cd contracts && npm ci --no-audit --no-fund && node compile.mjs

bench: $(STAMP)
	$(VENV)/bin/python -m bench.run
	$(MAKE) bench-skypilot
	$(MAKE) bench-sdl-ts

# Necto's SDL compiler vs Akash's TypeScript reference (node), same SDLs, one process each.
bench-sdl-ts: $(STAMP)
	$(VENV)/bin/python -m bench.sdl_vs_ts

# Necto vs SkyPilot's own catalog functions (SkyPilot installed in a scratch venv, never a dependency).
bench-skypilot: $(STAMP)
	$(VENV)/bin/python -m bench.skypilot_compare --out bench/SKYPILOT.md

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
