# `make demo` and `make test` each set up a local virtual environment on first use.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test venv gradcheck clean

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

demo: $(STAMP)
	$(VENV)/bin/lstm-np train --out runs/movielens
	$(VENV)/bin/lstm-np recommend runs/movielens --user 1 --top 10

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .hypothesis
