# `make demo` and `make test` each set up a local virtual environment on first use.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

# NumPy's BLAS threads cost more than they bring on this project's small
# matrices (one epoch of the recommender's LSTM: about 0.25 s with 1 thread
# on a quiet 2-core machine, several times that when it is busy). Override
# with `make demo OPENBLAS_NUM_THREADS=2`.
OPENBLAS_NUM_THREADS ?= 1
export OPENBLAS_NUM_THREADS

.PHONY: demo test venv gradcheck notebooks clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

venv: $(STAMP)

test: $(STAMP)
	$(PY) -m pytest -q

gradcheck: $(STAMP)
	$(VENV)/bin/lstm-np gradcheck

# The main job: next-item recommendation on MovieLens-100K (every baseline and the LSTM under the
# leave-one-out protocol), then user 1's list beside the most popular movies. The rating model:
# `lstm-np train` (see the README).
demo: $(STAMP)
	$(VENV)/bin/lstm-np train --task next-item --workers 2 --out runs/next-item --no-progress
	$(VENV)/bin/lstm-np recommend runs/next-item --user 1 --top 10

# JupyterLab comes from the "notebooks" extra, installed on first use.
notebooks: $(STAMP)
	$(PY) -c "import jupyterlab" 2>/dev/null || $(PY) -m pip install --quiet -e ".[dev,notebooks]"
	$(VENV)/bin/jupyter lab notebooks/

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .hypothesis
