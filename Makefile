# kubetrail — the two commands a new user needs are `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint format bench clean help

help:
	@echo "make demo   set up .venv and run kubetrail on the bundled sample data"
	@echo "make test   set up .venv, run lint (ruff, mypy --strict) and all tests"
	@echo "make lint   ruff check, ruff format --check, mypy --strict on src/kubetrail"
	@echo "make bench  run the benchmarks in benchmarks/ (figures go to docs/benchmarks.md)"

$(STAMP): pyproject.toml
	@bash .ci/java.sh
	@bash .ci/chromium.sh
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	@bash examples/demo.sh $(BIN)/kubetrail

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

test: lint
	$(BIN)/python -m pytest -n 2 -q

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
