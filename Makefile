# Two commands: `make demo` and `make test`. Each creates .venv when missing.
PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
# Where the torch wheel comes from: the public index's Linux torch is the CUDA build, so
# by default the CPU build is taken from PyTorch's CPU index (pip's --extra-index-url).
# Set TORCH_INDEX= (empty) for the public default, or a CUDA index such as
# https://download.pytorch.org/whl/cu128. An index that does not answer within 5 s is
# left out (with a note), so an offline machine installs from its configured pip mirror.
TORCH_INDEX ?= https://download.pytorch.org/whl/cpu
BIN := $(VENV)/bin
PIP_INSTALL ?= $(BIN)/python -m pip install --quiet --disable-pip-version-check
STAMP := $(VENV)/.inkface-installed
DEMO_DIR ?= runs/demo

.PHONY: demo test lint format install clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@extra=""; \
	if [ -n "$(TORCH_INDEX)" ]; then \
	  if $(BIN)/python -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=5)' \
	      "$(TORCH_INDEX)/" >/dev/null 2>&1; then \
	    extra="--extra-index-url $(TORCH_INDEX)"; \
	  else \
	    echo "note: $(TORCH_INDEX) does not answer; torch comes from pip's configured index"; \
	  fi; \
	fi; \
	echo "$(PIP_INSTALL) $$extra \"$(TORCH_SPEC)\""; \
	$(PIP_INSTALL) $$extra "$(TORCH_SPEC)"
	$(PIP_INSTALL) -e ".[dev,ray]"
	touch $(STAMP)

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

demo: $(STAMP)
	$(BIN)/inkface demo --out $(DEMO_DIR)

clean:
	rm -rf $(VENV) runs .pytest_cache
