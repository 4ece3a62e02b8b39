# cur_nlp: `make run` sets up .venv and starts the classify service on 127.0.0.1:8000 with the embedded model;
# `make test` sets up .venv and runs the test suite; `make predict` classifies examples/posts.jsonl.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup run predict test test-slow data baseline train distill qat evaluate clean

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

test: setup
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q

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
	$(BIN)/python -m training.distill --teacher models/default --layers 6 --out runs/student
	$(BIN)/cur-nlp evaluate --model runs/student --baseline artifacts/baseline

# a copy of the default model trained to keep its labels in ONNX Runtime's int8 (docs/speed.md, seventh round: two
# epochs, about 45 minutes on 2 cores), exported with its int8 file and compared with the default model on dev
qat: data
	$(BIN)/python -m training.qat train --teacher models/default --out runs/qat8
	$(BIN)/python -m training.qat train --teacher models/default --init runs/qat8 --lr 1e-6 --out runs/qat8b
	$(BIN)/cur-nlp export-onnx runs/qat8b --data artifacts/data --fp32-nodes 0
	$(BIN)/python -m training.qat compare --teacher models/default --model runs/qat8b --backend onnx-int8 --split dev

evaluate: setup
	$(BIN)/cur-nlp evaluate --model models/default --baseline artifacts/baseline --out reports/default

clean:
	rm -rf $(VENV) artifacts out runs
