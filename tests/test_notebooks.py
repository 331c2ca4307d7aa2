"""The teaching notebooks run top to bottom, and the committed copies are clean.

``test_notebook_runs`` executes each ``notebooks/*.ipynb`` in a fresh kernel
(nbclient) in the quick setting (``LSTM_NP_QUICK=1``: shorter training, and
never the network) with a non-interactive matplotlib backend; the executed
copy stays in memory and is never written back. The other tests read the
committed files as JSON: they must have been run in full, in order, without
errors, and without leaking this machine's paths.
"""

import json
import os
import re
from pathlib import Path

import pytest

NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
CELL_TIMEOUT = 600  # seconds per cell
MAX_BYTES = 1_000_000
# Absolute paths that must not appear in committed outputs (a traceback, a
# warning or a log line that names a file of the machine it ran on).
LOCAL_PATHS = ("/work/", "/root/", "/tmp/", "/home/", "/Users/")

ids = [p.name for p in NOTEBOOKS]


def test_notebooks_exist_and_are_numbered():
    assert NOTEBOOKS, f"no notebooks in {NOTEBOOK_DIR}"
    for path in NOTEBOOKS:
        assert re.fullmatch(r"\d\d_[a-z0-9_]+\.ipynb", path.name), f"{path.name}: expected NN_name.ipynb"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_notebook_runs(path, monkeypatch):
    nbformat = pytest.importorskip("nbformat", reason="the notebook runner is in the dev extras")
    nbclient = pytest.importorskip("nbclient", reason="the notebook runner is in the dev extras")
    pytest.importorskip("ipykernel", reason="the notebook runner is in the dev extras")
    # The kernel inherits this process's environment.
    monkeypatch.setenv("LSTM_NP_QUICK", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    if "OPENBLAS_NUM_THREADS" not in os.environ:  # small GEMMs: threads only contend on a shared machine
        monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        nb,
        timeout=CELL_TIMEOUT,
        kernel_name="python3",
        record_timing=False,
        resources={"metadata": {"path": str(NOTEBOOK_DIR)}},
    )
    client.execute()  # raises CellExecutionError, naming the cell, if any cell raises
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
    from test_committed_outputs import stale_outputs  # cells tagged fresh-output print what was committed

    stale = stale_outputs(json.loads(path.read_text(encoding="utf-8")), nb)
    assert not stale, f"{path.name}: cells {stale} are tagged fresh-output but print something else now; re-execute"


def _code_cells(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    return [c for c in nb["cells"] if c["cell_type"] == "code"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_committed_notebook_was_run_in_order(path):
    cells = _code_cells(path)
    assert cells, f"{path.name} has no code cells"
    counts = [c["execution_count"] for c in cells]
    assert counts == list(range(1, len(cells) + 1)), f"{path.name}: execution counts {counts}; run it top to bottom"
    assert any(c["outputs"] for c in cells), f"{path.name} has no outputs; commit it executed"


def _strings(value):
    """Every string inside an output, except image data."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)
    elif isinstance(value, dict):
        for key, v in value.items():
            if not key.startswith("image/"):
                yield from _strings(v)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_committed_notebook_has_no_errors_or_local_paths(path):
    for k, cell in enumerate(_code_cells(path), 1):
        for out in cell["outputs"]:
            assert out["output_type"] != "error", f"{path.name}, code cell {k}: error output {out.get('ename')}"
            for text in _strings(out):
                for local in LOCAL_PATHS:
                    assert local not in text, f"{path.name}, code cell {k}: output names a local path: {text[:200]!r}"
                assert "\x1b[" not in text, f"{path.name}, code cell {k}: terminal escape codes in the output"


# A cell whose code draws: pyplot calls, Axes methods, or the package's figure helpers.
DRAWS = re.compile(r"plt\.(figure|subplots|plot|imshow|bar|hist|scatter)\(|\.(plot|imshow|bar|barh|hist|scatter|"
                   r"fill_between|axvspan|pcolormesh|matshow)\(|\bplot_\w+\(|_figure\(")


def _has_image(cell):
    return any("image/png" in o.get("data", {}) or "image/svg+xml" in o.get("data", {}) for o in cell["outputs"])


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_committed_notebook_has_every_figure(path):
    """Every cell that draws holds its image: a notebook executed under a non-inline
    matplotlib backend (MPLBACKEND=Agg) loses its figures silently."""
    lost = [k for k, c in enumerate(_code_cells(path), 1) if DRAWS.search("".join(c["source"])) and not _has_image(c)]
    assert not lost, (f"{path.name}: code cells {lost} draw but hold no image; execute the notebook with the "
                      "inline backend (no MPLBACKEND=Agg) and commit it")


def test_figure_guard_catches_a_lost_figure(tmp_path):
    """Control: a drawing cell without an image output fails the check above."""
    nb = {"cells": [{"cell_type": "code", "source": ["fig, ax = plt.subplots()\n", "ax.plot([1, 2])"],
                     "outputs": [{"output_type": "display_data", "data": {"text/plain": ["<Figure>"]}}],
                     "execution_count": 1, "metadata": {}}], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    path = tmp_path / "99_lost.ipynb"
    path.write_text(json.dumps(nb), encoding="utf-8")
    with pytest.raises(AssertionError, match=r"code cells \[1\] draw but hold no image"):
        test_committed_notebook_has_every_figure(path)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_committed_notebook_is_small(path):
    size = path.stat().st_size
    assert size < MAX_BYTES, f"{path.name} is {size:,} bytes; keep it under {MAX_BYTES:,} (lower figure dpi)"
