# Two commands for a new user: `make demo` and `make test`. Both create .venv and install what they need.
# python3 resolves to 3.12 through pyenv's .python-version in this directory (DESIGN §7).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test lint format lock clean

$(STAMP): requirements/lock.txt requirements/opa.txt pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else "Wardgate needs Python >= 3.12; got " + sys.version.split()[0])'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --require-hashes -r requirements/lock.txt
	# OPA's evaluator (opa-golib-python-bindings) says Requires-Python >= 3.14 in its metadata, but the wheel is
	# a Go c-shared library behind a stdlib-only ctypes wrapper and runs on 3.12 (DESIGN §7): install it alone,
	# hash-pinned, ignoring that one claim.
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps --ignore-requires-python --require-hashes -r requirements/opa.txt
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

install: $(STAMP)

demo: install
	$(BIN)/wardgate demo

test: install lint
	$(BIN)/wardgate policy test policies
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check proxy tests bench
	$(BIN)/ruff format --check proxy tests bench
	$(BIN)/mypy proxy/wardgate

format: install
	$(BIN)/ruff format proxy tests bench
	$(BIN)/ruff check --fix proxy tests bench

# Re-resolve the lock file (needs the registry); commit the result.
lock: install
	$(BIN)/pip install --quiet pip-tools
	$(BIN)/pip-compile --quiet --strip-extras --extra test --generate-hashes --allow-unsafe -o requirements/lock.txt pyproject.toml

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
