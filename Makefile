# hetspace: `make demo` sets up and runs the main job, `make test` sets up and runs the tests.
# Both create .venv (Python >= 3.11) if it is missing and (re)install the package when
# pyproject.toml changed since the last install (stamp file .venv/.installed).

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO_SPEC ?= configs/sweeps/quickstart.yaml

.PHONY: demo test lint install clean distclean

# The quickstart sweep: prints progress, the robustness table, and where the plots, maps,
# report.html and the MLflow store are (out/sweeps/quickstart/). Re-running resumes.
demo: $(STAMP)
	$(BIN)/hetspace sweep $(DEMO_SPEC)

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .

install: $(STAMP)

$(BIN)/python:
	@test -n "$(PYTHON)" || { echo "no python3.11 or python3 on PATH" >&2; exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
		|| { echo "$(PYTHON) is older than Python 3.11; run: make PYTHON=/path/to/python3.11" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --disable-pip-version-check -e ".[dev]"
	-$(BIN)/python -m hetspace.sweeps.mlflow_template  # an empty MLflow store to copy (start-up)
	-$(BIN)/python -m hetspace.sweeps.warm $(DEMO_SPEC)  # numba's cache, compiled once (~45 s)
	touch $(STAMP)

clean:
	rm -rf build dist out .pytest_cache .ruff_cache *.egg-info
	find . -path ./$(VENV) -prune -o -type d -name __pycache__ -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)
