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

# The suite on SQLite, then again on PostgreSQL (skipped where Debian's postgresql is not installed).
test: install-dev
	$(BIN)/python -m pytest -q
	POLICYBOT_TEST_DATABASE=postgres $(BIN)/python -m pytest -q

SHARED ?= ../shared
# Retrieval and answer quality on ../shared/eval and the held-out sample sets
# (slow the first time: embeds each corpus with the default model; re-runs reuse it).
eval: install
	$(BIN)/policybot eval $(SHARED)/eval/seed_dev.jsonl --corpus $(SHARED)/corpus/seeds
	$(BIN)/policybot eval $(SHARED)/eval/ncp/questions.jsonl --corpus $(SHARED)/eval/ncp/docs
	$(BIN)/policybot eval $(SHARED)/eval/stard/questions.jsonl --corpus $(SHARED)/eval/stard/laws
	$(BIN)/policybot eval samples/questions_blind.jsonl --corpus samples
	$(BIN)/policybot eval samples/questions_blind2.jsonl --corpus samples

bench: install-dev
	$(BIN)/python bench/bench_knowledge.py

clean:
	rm -rf $(VENV) var build *.egg-info
