# The two commands of the README: `make run` (the main job) and `make test` (the test suite).
# Both create the virtual environment on first use; nothing else needs installing by hand.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DATA ?=
WORKDIR ?= rruffgeo-work
RUN_ARGS ?=

.PHONY: venv run test lint bench clean

$(BIN)/rruffgeo: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(BIN)/rruffgeo

venv: $(BIN)/rruffgeo

run: venv
	$(BIN)/rruffgeo run --workdir $(WORKDIR) $(if $(DATA),--data $(DATA)) $(RUN_ARGS)

test: venv
	bash scripts/test-setup.sh
	$(BIN)/python -m pytest -q

lint: venv
	$(BIN)/ruff check src tests benchmarks

bench: venv
	for b in benchmarks/bench_*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) $(WORKDIR) .pytest_cache
