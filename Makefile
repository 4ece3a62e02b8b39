# cur_nlp: `make run` sets up .venv and starts the classify service on 127.0.0.1:8000 with the embedded model;
# `make test` sets up .venv and runs the test suite (`make test-fast`: the quick unit loop); `make predict` classifies
# examples/posts.jsonl.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup run predict incidents incidents-eval test test-fast test-slow data baseline train distill speed evaluate lock audit clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# the CPU build of torch first: a bare `torch` requirement would pull a multi-GB CUDA build
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: setup
	$(BIN)/cur-nlp serve --host 127.0.0.1 --port 8000

predict: setup
	$(BIN)/cur-nlp predict examples/posts.jsonl -o out/predictions.jsonl
	@echo "predictions written to out/predictions.jsonl"; head -c 1500 out/predictions.jsonl; echo

# the example posts through predict → incidents → report, with the example routing table (docs/incidents.md)
incidents: setup
	$(BIN)/cur-nlp predict examples/incident_posts.jsonl -o out/incident_predictions.jsonl --routes examples/routes.csv
	$(BIN)/cur-nlp incidents out/incident_predictions.jsonl -o out/incidents.jsonl --routes examples/routes.csv
	$(BIN)/cur-nlp report out/incident_predictions.jsonl --period week -o out/report.html
	@echo "incidents in out/incidents.jsonl, the weekly picture in out/report.html and out/report.md"

# incident grouping on the team's pair set (tuned on dev, scored on test) and the silver check on SPb posts
incidents-eval: setup
	HF_HUB_OFFLINE=1 $(BIN)/cur-nlp incidents-eval --out reports/incidents

test: setup
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q

# the development loop: unit tests on the tiny random model, no real model, corpora or notebooks (under a minute)
test-fast: setup
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q -m "not real"

test-slow: setup
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q --run-slow

data: setup
	$(BIN)/cur-nlp data prepare --out artifacts/data --card reports/data_card.md

baseline: data
	$(BIN)/cur-nlp baseline --config training/configs/baseline.yaml --out artifacts/baseline --report reports/baseline

train: data
	$(BIN)/cur-nlp train --config training/configs/default.yaml

# a 6-layer student of the default model (about 25 minutes on 2 cores), evaluated like any model
distill: data
	$(BIN)/python -m cur_nlp_training.distill --teacher models/default --layers 6 --out runs/student
	$(BIN)/cur-nlp evaluate --model runs/student --baseline artifacts/baseline

# speed and agreement of the backends on the SPb + Kursk test posts, side by side (docs/speed.md)
speed: data
	$(BIN)/python benchmarks/speed.py --out reports/speed/speed.json --markdown reports/speed/table.md

evaluate: setup
	$(BIN)/cur-nlp evaluate --model models/default --baseline artifacts/baseline --out reports/default

# the service image's pinned dependencies with hashes (requirements/serve.lock, read by the Dockerfile); needs uv
lock:
	uv pip compile pyproject.toml --extra serve --extra postgres --python-version 3.11 --python-platform x86_64-manylinux_2_28 \
	  --extra-index-url https://download.pytorch.org/whl/cpu --index-strategy unsafe-best-match \
	  --override requirements/torch-cpu.txt --generate-hashes --custom-compile-command "make lock" \
	  -o requirements/serve.lock

# known vulnerabilities of the locked service dependencies (pip-audit); skipped with a message when its database
# cannot be reached
audit:
	bash .ci/audit

clean:
	rm -rf $(VENV) artifacts out runs
