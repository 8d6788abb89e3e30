# HFMRS: `make run` serves the bundled catalog; `make test` runs the test suite. Both bootstrap .venv.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: run test lint build evaluate report screenshots clean-home help venv

help:
	@echo "make run   - build the bundled catalog on first use, then start every service (URLs printed)"
	@echo "make test  - lint and run the test suite"

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# torch first, pinned: a CPU build of 2.13.0 is on local disk; a looser pin pulls a CUDA build.
	$(BIN)/pip install --quiet "torch==2.13.*"
	$(BIN)/pip install --quiet -e ".[dev]"
	@touch $(STAMP)

venv: $(STAMP)

run: $(STAMP)
	$(BIN)/hfmrs up

build: $(STAMP)
	$(BIN)/hfmrs build

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

evaluate: $(STAMP)
	$(BIN)/hfmrs evaluate --out reports/

report: $(STAMP)
	$(BIN)/hfmrs report --out reports/

# With `make run` serving in another terminal: the README's UI screenshots, and the render timing.
screenshots: $(STAMP)
	$(BIN)/python benchmarks/ui_render.py --screenshots docs/screenshots

clean-home:
	rm -rf .hfmrs
