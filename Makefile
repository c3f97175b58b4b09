# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
export POLICYBOT_DATA_DIR ?= ./var

.PHONY: run test install install-dev eval bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install --quiet -e .

install-dev: $(BIN)/python
	$(BIN)/pip install --quiet -e ".[dev]"

# Install, load the sample corpus (skipped when unchanged), serve on localhost.
run: install
	$(BIN)/policybot ingest samples
	$(BIN)/policybot serve --host $(HOST) --port $(PORT)

test: install-dev
	$(BIN)/python -m pytest -q

# Retrieval quality on ../shared/eval (slow: embeds three corpora with the default model).
eval: install
	$(BIN)/python bench/run_eval.py

bench: install-dev
	$(BIN)/python bench/bench_knowledge.py

clean:
	rm -rf $(VENV) var build *.egg-info
