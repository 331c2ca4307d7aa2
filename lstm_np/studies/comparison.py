"""Vanilla RNN vs GRU vs LSTM: the adding problem, gradient flow, and cost.

Regenerate every number and plot with one command::

    lstm-np compare                 # full setting, a few minutes
    lstm-np compare --quick         # < 30 s (or LSTM_NP_QUICK=1)
    lstm-np compare --out DIR       # default runs/experiments/

It writes ``results.md`` (the tables), ``results.json`` (every number),
``adding.png`` and ``gradient_flow.png`` into the folder. From Python
(a notebook, a test), ``run(out_dir, quick=True)`` does the same and returns
the results as a dict.

The three experiments:

* **The adding problem** (``studies.adding``), for the three cells, at
  several lengths T.
* **Gradient flow.** The norm of dL/dh_t against the distance T - t from a
  loss on the last step, at initialisation and after training, obtained by
  running the sequence in chunks of one step with the state carried over
  and back-propagating through the chunks one by one.
* **Cost.** Wall-clock time of one training step (forward, backward, clip,
  Adam) at the same hidden size.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from ..losses import masked_mse
from .adding import AddingModel, _cell_backward, _cell_forward, _test_set, adding_problem, time_per_step, train_adding
from .plots import plot_adding, plot_gradient_flow
from .report import format_results
from .settings import CELLS, QUICK, get_settings
from .workers import executor as _executor
from .workers import to_json as _to_json

__all__ = ["gradient_flow", "run", "load_results"]


def gradient_flow(model, x, y):
    """Norms of dL/dh_t for a loss on the last step, by distance from the loss.

    The sequence is run in chunks of one step with the state carried over;
    back-propagating through the chunks in reverse, the ``dh0`` of each chunk
    is the gradient at the state entering it.

    Parameters
    ----------
    model : AddingModel
    x : (B, T, 2) ndarray
    y : (B,) ndarray

    Returns
    -------
    (T + 1,) ndarray
        ``norms[k]`` = ||dL/dh_{T-k}|| (Frobenius norm over the batch), from
        the last hidden state (k = 0) back to the initial one (k = T).
    """
    cell = model.cell
    state, caches = None, []
    for t in range(x.shape[1]):
        out, state, cache = _cell_forward(cell, x[:, t : t + 1], state)
        caches.append(cache)
    pred, head_cache = model.head.forward(state[0])
    _, dpred = masked_mse(pred[:, 0], y)
    dstate = (model.head.backward(dpred[:, None], head_cache),) + tuple(np.zeros_like(v) for v in state[1:])
    norms = [np.linalg.norm(dstate[0])]
    dout = np.zeros_like(out)
    for cache in reversed(caches):
        _, dstate = _cell_backward(cell, dout, cache, dstate)
        norms.append(np.linalg.norm(dstate[0]))
    return np.array(norms)



# --------------------------------------------------------------------------- the whole run


def run(out_dir="runs/experiments", quick=None, verbose=True, workers=None, settings=None):
    """Run the three experiments and write the tables and plots into ``out_dir``.

    Parameters
    ----------
    out_dir : str or Path
        Created if needed; receives results.md, results.json, adding.png,
        gradient_flow.png.
    quick : bool or None
        Use ``QUICK`` settings; None reads ``LSTM_NP_QUICK`` (``get_settings``).
    verbose : bool
        Show a progress bar.
    workers : int or None
        Processes for the training runs and the timing. 1 runs everything in
        this process; more start fresh processes whose BLAS is limited to one
        thread each (with these small matrices, BLAS threads only add
        overhead, much of it on a busy machine). None: 1 for the quick
        setting, else the number of CPUs (at most 4).
    settings : Settings, optional
        Overrides ``quick``: any other sizes.

    Returns
    -------
    dict
        ``settings``; ``baseline`` {T: MSE of always predicting 1.0 on the
        test set}; ``adding`` {cell: {T: [test MSE per seed]}}; ``curves``
        {cell: training losses at ``flow_length``, first seed};
        ``gradient_flow`` {cell: {"init": norms, "trained": norms}};
        ``cost`` {cell: {"params": count, "seconds": median per step}};
        ``elapsed_s``.
    """
    s = get_settings(quick) if settings is None else settings
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()

    baseline = {T: float(np.mean((_test_set(T, s)[1] - 1.0) ** 2)) for T in s.lengths}
    if workers is None:
        workers = 1 if s == QUICK else min(4, os.cpu_count() or 1)
    jobs = [(c, T, seed) for T in sorted(s.lengths, reverse=True) for seed in s.seeds for c in CELLS]
    with _executor(workers) as ex:
        runs = ex.map(_train_job, jobs, [s] * len(jobs))
        if verbose:
            from tqdm import tqdm

            runs = tqdm(runs, total=len(jobs), desc="adding problem")
        runs = list(runs)
        # Timing last, one cell at a time, when nothing else of ours is running.
        seconds = {c: ex.submit(time_per_step, c, s.flow_length, s).result() for c in CELLS}

    adding = {c: {T: [] for T in s.lengths} for c in CELLS}
    curves, trained = {}, {}
    for (c, T, seed), (params, losses, mse) in zip(jobs, runs):
        adding[c][T].append(mse)
        if T == s.flow_length and seed == s.seeds[0]:
            curves[c] = losses
            trained[c] = AddingModel(c, s.hidden_size, seed)
            for k, v in params.items():
                trained[c].params[k][...] = v

    x, y = adding_problem(s.batch_size, s.flow_length, np.random.default_rng(7))
    flow = {
        c: {
            "init": gradient_flow(AddingModel(c, s.hidden_size, s.seeds[0]), x, y),
            "trained": gradient_flow(trained[c], x, y),
        }
        for c in CELLS
    }
    cost = {
        c: {
            "params": sum(v.size for k, v in trained[c].params.items() if k.startswith("cell.")),
            "seconds": seconds[c],
        }
        for c in CELLS
    }
    results = {
        "settings": asdict(s),
        "baseline": baseline,
        "adding": adding,
        "curves": curves,
        "gradient_flow": flow,
        "cost": cost,
        "elapsed_s": time.perf_counter() - start,
    }

    (out / "results.md").write_text(format_results(results))
    (out / "results.json").write_text(json.dumps(results, indent=1, default=_to_json))
    plot_adding(results).savefig(out / "adding.png", dpi=120)
    plot_gradient_flow(results).savefig(out / "gradient_flow.png", dpi=120)
    return results


def _train_job(job, s):
    """One training run, returning plain arrays (picklable across processes)."""
    cell, T, seed = job
    model, losses, mse = train_adding(cell, T, seed, s)
    return model.params, losses, mse


def load_results(path):
    """Read a ``results.json`` written by ``run`` back into the dict ``run`` returned
    (lengths as int keys, curves and norms as arrays), e.g. to re-plot without training.

    Parameters
    ----------
    path : str or Path
        The ``results.json`` file, or the folder holding it.
    """
    path = Path(path)
    r = json.loads((path / "results.json" if path.is_dir() else path).read_text())
    r["settings"] = {k: tuple(v) if isinstance(v, list) else v for k, v in r["settings"].items()}
    r["baseline"] = {int(T): v for T, v in r["baseline"].items()}
    r["adding"] = {c: {int(T): v for T, v in d.items()} for c, d in r["adding"].items()}
    r["curves"] = {c: np.asarray(v) for c, v in r["curves"].items()}
    r["gradient_flow"] = {c: {k: np.asarray(v) for k, v in d.items()} for c, d in r["gradient_flow"].items()}
    return r
