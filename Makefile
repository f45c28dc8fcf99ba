# `make test` is what CI runs (.ci/run): it builds .venv when missing, installs the pinned
# versions, then runs ruff, the unit tests, the figure check and nbval over the notebooks.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: test lint unit notebooks figures lab bench train evaluate clean

test: lint unit notebooks

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# torch is installed first and on its own, pinned, so pip never resolves an unpinned torch
# (which would pull the CUDA build).
$(STAMP): $(BIN)/python pyproject.toml constraints.txt
	$(BIN)/pip install --quiet -c constraints.txt torch
	$(BIN)/pip install --quiet -c constraints.txt -e ".[dev,onnx]"
	touch $@

$(VENV)/.installed-lab: $(STAMP)
	$(BIN)/pip install --quiet -c constraints.txt -e ".[dev,onnx,lab]"
	touch $@

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

unit: $(STAMP)
	$(BIN)/pytest tests

# two notebooks at a time (pytest-xdist), each notebook's cells in order on one worker
notebooks: $(STAMP)
	$(BIN)/pytest --nbval notebooks -n 2 --dist loadscope

figures: $(STAMP)
	$(BIN)/python -m samdec figures

# JupyterLab (with ipympl, for samdec.explore) serves the repository's root, so that what a notebook
# links outside notebooks/ (../figures/*.svg) resolves, and opens on notebooks/. As root (as in
# most containers) JupyterLab refuses to start without --allow-root.
lab: $(VENV)/.installed-lab
	$(BIN)/jupyter lab --ServerApp.root_dir=. --LabApp.default_url=/lab/tree/notebooks \
		$(if $(filter 0,$(shell id -u)),--allow-root)

# the shipped model (the README says how long its run took); writes samdec/weights/ at the end
# only; an interrupted run resumes from runs/train/
train: $(STAMP)
	$(BIN)/python -m samdec train

evaluate: $(STAMP)
	$(BIN)/python -m samdec evaluate

bench: $(STAMP)
	$(BIN)/python benchmarks/decoder_speed.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
