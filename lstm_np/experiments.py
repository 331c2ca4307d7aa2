"""Vanilla RNN vs GRU vs LSTM: the adding problem, gradient flow, and cost.

Regenerate every number and plot with one command::

    python -m lstm_np.experiments                 # full setting, a few minutes
    python -m lstm_np.experiments --quick         # < 30 s (or LSTM_NP_QUICK=1)
    python -m lstm_np.experiments --out DIR       # default runs/experiments/

It writes ``results.md`` (the tables), ``results.json`` (every number),
``adding.png`` and ``gradient_flow.png`` into the folder. From Python
(a notebook, a test), ``run(out_dir, quick=True)`` does the same and returns
the results as a dict.

The laboratory (notebook 07) compares the variants of the cell
(``lstm_np.cells.variants``) instead::

    python -m lstm_np.experiments --lab           # about 13 minutes in one process
    python -m lstm_np.experiments --lab --quick   # a few seconds

and writes ``lab.md``, ``lab.json`` and ``lab.png`` (default folder
runs/lab/); ``run_lab`` from Python. See the section "the laboratory" below.

The three experiments:

* **The adding problem** (Hochreiter and Schmidhuber, 1997). Each input
  sequence has two channels: values drawn uniformly from [0, 1], and a marker
  that is 1 at exactly two steps (one in the first half of the sequence, one
  in the second) and 0 elsewhere. The target is the sum of the two marked
  values. A linear head reads the last hidden state; the loss is the MSE.
  Always predicting 1.0 (the mean target) gives MSE = Var(sum of two
  U(0, 1)) = 1/6 ~ 0.167: a model must beat that to have learned anything.
  The first marked value must be carried across at least T/2 steps.
* **Gradient flow.** The norm of dL/dh_t against the distance T - t from a
  loss on the last step, at initialisation and after training, obtained by
  running the sequence in chunks of one step with the state carried over
  and back-propagating through the chunks one by one.
* **Cost.** Wall-clock time of one training step (forward, backward, clip,
  Adam) at the same hidden size.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import multiprocessing
import os
import platform
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .cells.variants import VARIANTS
from .sequence import GRU, LSTM, RNN
from .sequence.variants import VariantLSTM
from .feedforward import Dense
from .losses import masked_mse
from .optim import Adam, clip_grad_norm

__all__ = [
    "CELLS",
    "Settings",
    "FULL",
    "QUICK",
    "get_settings",
    "adding_problem",
    "AddingModel",
    "train_adding",
    "gradient_flow",
    "time_per_step",
    "run",
    "load_results",
    "format_results",
    "plot_adding",
    "plot_gradient_flow",
    "LAB_VARIANTS",
    "LabSettings",
    "LAB_FULL",
    "LAB_QUICK",
    "get_lab_settings",
    "train_char",
    "train_recommender",
    "run_lab",
    "format_lab",
    "plot_lab",
    "load_lab",
    "main",
]

#: The three cells compared, by display name.
CELLS = {"RNN": RNN, "GRU": GRU, "LSTM": LSTM}


@dataclass(frozen=True)
class Settings:
    """Sizes of every experiment (the same for the three cells).

    ``flow_length`` must be one of ``lengths``: the gradient-flow experiment
    uses the models trained at that length (first seed).
    """

    hidden_size: int = 32
    lengths: tuple = (10, 50, 100, 200)
    seeds: tuple = (0, 1, 2)
    steps: int = 1000          # Adam steps per run
    batch_size: int = 64
    lr: float = 1e-2
    max_norm: float = 1.0      # global gradient-norm clip
    n_test: int = 1000         # held-out sequences per length
    flow_length: int = 100
    timing_repeats: int = 20

    def __post_init__(self):
        if self.flow_length not in self.lengths:
            raise ValueError(f"flow_length={self.flow_length} must be one of lengths={self.lengths}")
        if min(self.lengths) < 2:
            raise ValueError(f"lengths must be >= 2 (two markers); got {self.lengths}")


#: The setting behind the README numbers.
FULL = Settings()
#: A small setting for tests and notebooks (well under 30 s on 2 cores).
QUICK = Settings(
    hidden_size=16, lengths=(10, 20), seeds=(0,), steps=400, batch_size=32,
    lr=1e-2, n_test=500, flow_length=20, timing_repeats=5,
)


def get_settings(quick=None):
    """``QUICK`` if ``quick`` (or, when ``quick`` is None, if the environment
    variable ``LSTM_NP_QUICK`` is set to anything but "" or "0"), else ``FULL``."""
    if quick is None:
        quick = os.environ.get("LSTM_NP_QUICK", "") not in ("", "0")
    return QUICK if quick else FULL


# --------------------------------------------------------------------------- the task


def adding_problem(n, T, rng, dtype=np.float64):
    """A batch of the adding problem.

    Parameters
    ----------
    n : int
        Number of sequences.
    T : int >= 2
        Sequence length.
    rng : numpy.random.Generator
    dtype : float32 or float64

    Returns
    -------
    x : (n, T, 2) ndarray
        ``x[..., 0]`` values, uniform in [0, 1]; ``x[..., 1]`` markers: 1 at
        one step in ``[0, T // 2)`` and one in ``[T // 2, T)``, else 0.
    y : (n,) ndarray
        The sum of the two marked values.
    """
    if T < 2:
        raise ValueError(f"T must be at least 2 to hold two markers; got {T}")
    values = rng.uniform(0.0, 1.0, size=(n, T))
    first = rng.integers(0, T // 2, size=n)
    second = rng.integers(T // 2, T, size=n)
    markers = np.zeros((n, T))
    rows = np.arange(n)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    x = np.stack([values, markers], axis=-1).astype(dtype)
    y = (values[rows, first] + values[rows, second]).astype(dtype)
    return x, y


def _cell_forward(cell, x, state=None):
    """(out, state_T, cache) for any of the three cells (or a variant); a state
    is a tuple, (h,) for the RNN and GRU and (h, c) for the LSTM and its variants."""
    if isinstance(cell, (LSTM, VariantLSTM)):
        h0, c0 = (None, None) if state is None else state
        out, (h, c), cache = cell.forward(x, h0=h0, c0=c0)
        return out, (h, c), cache
    out, h, cache = cell.forward(x, h0=None if state is None else state[0])
    return out, (h,), cache


def _cell_backward(cell, dout, cache, dstate):
    """(dx, dstate_0) for any of the three cells (or a variant); ``dstate`` as the state."""
    if isinstance(cell, (LSTM, VariantLSTM)):
        dx, dh0, dc0 = cell.backward(dout, cache, dh_T=dstate[0], dc_T=dstate[1])
        return dx, (dh0, dc0)
    dx, dh0 = cell.backward(dout, cache, dh_T=dstate[0])
    return dx, (dh0,)


class AddingModel:
    """A recurrent cell and a linear head on its last hidden state.

    prediction = h_T W + b, with ``W`` (H, 1) and ``b`` starting at 1.0 (the
    mean target, so an untrained model starts near the baseline).

    Parameters
    ----------
    cell : {"RNN", "GRU", "LSTM"} or a variant's name
        One of ``CELLS`` (the fast layers), or a key of
        ``lstm_np.cells.variants.VARIANTS`` ("lstm", "peephole", ...), run
        by ``VariantLSTM`` on the reference path.
    hidden_size : int
    rng : numpy.random.Generator or int

    Attributes
    ----------
    params, grads : dict of ndarray
        Every parameter of the cell (``"cell.Wx"``, ...) and the head
        (``"head.W"``, ``"head.b"``); the arrays are the layers' own, so an
        optimizer on ``params`` trains the model.
    """

    def __init__(self, cell, hidden_size, rng):
        rng = np.random.default_rng(rng)
        if cell in CELLS:
            self.cell = CELLS[cell](2, hidden_size, rng=rng)
        elif cell in VARIANTS:
            self.cell = VariantLSTM(cell, 2, hidden_size, rng=rng)
        else:
            raise ValueError(f"cell must be one of {list(CELLS)} or a variant {list(VARIANTS)}; got {cell!r}")
        self.head = Dense(hidden_size, 1, rng=rng, bias=1.0)
        layers = {"cell": self.cell, "head": self.head}
        self.params = {f"{n}.{k}": v for n, layer in layers.items() for k, v in layer.params.items()}
        self.grads = {f"{n}.{k}": v for n, layer in layers.items() for k, v in layer.grads.items()}

    def predict(self, x):
        """``x`` (B, T, 2) -> predictions (B,)."""
        _, state, _ = _cell_forward(self.cell, x)
        return self.head.forward(state[0])[0][:, 0]

    def loss_and_grads(self, x, y):
        """MSE on a batch; fills ``grads`` and returns the loss."""
        out, state, cache = _cell_forward(self.cell, x)
        pred, head_cache = self.head.forward(state[0])
        loss, dpred = masked_mse(pred[:, 0], y)
        dh_T = self.head.backward(dpred[:, None], head_cache)
        dstate = (dh_T,) + tuple(np.zeros_like(s) for s in state[1:])
        _cell_backward(self.cell, np.zeros_like(out), cache, dstate)
        return loss


def train_adding(cell, T, seed, s=FULL):
    """Train one model on the adding problem of length T.

    Parameters
    ----------
    cell : {"RNN", "GRU", "LSTM"} or a variant's name (see ``AddingModel``)
    T : int
    seed : int
        Seeds the initial weights and the training batches.
    s : Settings

    Returns
    -------
    model : AddingModel
    losses : (s.steps,) ndarray
        Training loss at each step.
    test_mse : float
        MSE on ``s.n_test`` held-out sequences (the same for every cell and seed).
    """
    rng = np.random.default_rng(seed)
    model = AddingModel(cell, s.hidden_size, rng)
    opt = Adam(model.params, lr=s.lr)
    losses = np.empty(s.steps)
    for k in range(s.steps):
        x, y = adding_problem(s.batch_size, T, rng)
        losses[k] = model.loss_and_grads(x, y)
        clip_grad_norm(model.grads, s.max_norm)
        opt.step(model.grads)
    x_test, y_test = _test_set(T, s)
    test_mse = float(np.mean((model.predict(x_test) - y_test) ** 2))
    return model, losses, test_mse


def _test_set(T, s):
    return adding_problem(s.n_test, T, np.random.default_rng(1_000_003 + T))


# --------------------------------------------------------------------------- gradient flow


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


# --------------------------------------------------------------------------- cost


def time_per_step(cell, T, s=FULL, seed=0):
    """Median wall-clock seconds of one training step (forward, backward, clip, Adam).

    Parameters
    ----------
    cell : {"RNN", "GRU", "LSTM"} or a variant's name (see ``AddingModel``)
    T : int
    s : Settings
        Uses ``hidden_size``, ``batch_size``, ``lr``, ``max_norm`` and
        ``timing_repeats`` (after two warm-up steps).
    """
    rng = np.random.default_rng(seed)
    model = AddingModel(cell, s.hidden_size, rng)
    opt = Adam(model.params, lr=s.lr)
    x, y = adding_problem(s.batch_size, T, rng)
    times = []
    for _ in range(s.timing_repeats + 2):
        t0 = time.perf_counter()
        model.loss_and_grads(x, y)
        clip_grad_norm(model.grads, s.max_norm)
        opt.step(model.grads)
        times.append(time.perf_counter() - t0)
    return float(np.median(times[2:]))


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


@contextmanager
def _executor(workers):
    if workers <= 1:  # in this process, one job after the other
        with ThreadPoolExecutor(max_workers=1) as ex:
            yield ex
        return
    # Fresh ("spawn") processes read these when they import NumPy.
    limits = {k: "1" for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    saved = {k: os.environ.get(k) for k in limits}
    os.environ.update(limits)
    try:
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as ex:
            yield ex
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _to_json(v):
    if isinstance(v, np.ndarray):
        return v.tolist()
    raise TypeError(f"cannot serialise {type(v).__name__}")


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


def format_results(results):
    """The three Markdown tables of a ``run``."""
    s = Settings(**results["settings"])
    cells = list(CELLS)
    lines = [
        f"## Adding problem: test MSE after {s.steps} Adam steps",
        "",
        f"H = {s.hidden_size} for every cell, batch {s.batch_size}, lr {s.lr}, global-norm clip {s.max_norm}; "
        f"{s.n_test} test sequences per length; mean ± sample sd over {len(s.seeds)} seed(s). "
        "Baseline: always predict 1.0.",
        "",
        "| T | baseline | " + " | ".join(cells) + " |",
        "|---:|---:|" + "---:|" * len(cells),
    ]
    for T in s.lengths:
        row = [f"{results['baseline'][T]:.3f}"]
        for c in cells:
            v = np.asarray(results["adding"][c][T])
            row.append(f"{v.mean():.4f} ± {v.std(ddof=1):.4f}" if v.size > 1 else f"{v.mean():.4f}")
        lines.append(f"| {T} | " + " | ".join(row) + " |")

    T = s.flow_length
    lines += [
        "",
        f"## Gradient flow: ||dL/dh_t|| at distance T - t from the loss (T = {T})",
        "",
        f"Ratio ||dL/dh_0|| / ||dL/dh_T||: the share of the gradient at the last state that reaches the first. "
        f"Trained: the seed-{s.seeds[0]} models of the table above.",
        "",
        "| cell | at initialisation | after training |",
        "|---|---:|---:|",
    ]
    for c in cells:
        f = results["gradient_flow"][c]
        ratio = [np.asarray(f[k])[-1] / np.asarray(f[k])[0] for k in ("init", "trained")]
        lines.append(f"| {c} | {ratio[0]:.2e} | {ratio[1]:.2e} |")

    rnn_time = results["cost"]["RNN"]["seconds"]
    lines += [
        "",
        f"## Cost of one training step (T = {T}, batch {s.batch_size}, H = {s.hidden_size}; "
        f"median of {s.timing_repeats})",
        "",
        "| cell | parameters | ms / step | × RNN |",
        "|---|---:|---:|---:|",
    ]
    for c in cells:
        k = results["cost"][c]
        lines.append(f"| {c} | {k['params']} | {1e3 * k['seconds']:.1f} | {k['seconds'] / rnn_time:.1f} |")
    lines += ["", f"Total time of the run: {results['elapsed_s']:.0f} s.", ""]
    return "\n".join(lines)


def _figure(ncols):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.5 * ncols, 4.0), layout="constrained")
    FigureCanvasAgg(fig)
    return fig, fig.subplots(1, ncols, squeeze=False)[0]


_COLORS = {"RNN": "tab:red", "GRU": "tab:green", "LSTM": "tab:blue"}


def plot_adding(results):
    """Test MSE against T (with the baseline), and training curves at ``flow_length``."""
    s = Settings(**results["settings"])
    fig, (ax1, ax2) = _figure(2)
    Ts = list(s.lengths)
    ax1.plot(Ts, [results["baseline"][T] for T in Ts], "k--", label="baseline (predict 1.0)")
    for c in CELLS:
        v = [np.asarray(results["adding"][c][T]) for T in Ts]
        mean = np.array([a.mean() for a in v])
        lo, hi = mean - np.array([a.min() for a in v]), np.array([a.max() for a in v]) - mean
        ax1.errorbar(Ts, mean, yerr=[lo, hi], marker="o", capsize=3, color=_COLORS[c], label=c)
    ax1.set(xlabel="sequence length T", ylabel="test MSE", yscale="log",
            title=f"Adding problem after {s.steps} steps (H = {s.hidden_size})")
    ax1.legend(loc="lower right", ncols=2, fontsize="small")

    window = max(1, s.steps // 50)
    for c, losses in results["curves"].items():
        smooth = np.convolve(np.asarray(losses), np.ones(window) / window, mode="valid")
        ax2.plot(np.arange(len(smooth)) + window, smooth, color=_COLORS[c], label=c)
    ax2.axhline(results["baseline"][s.flow_length], color="k", ls="--", label="baseline")
    ax2.set(xlabel="Adam step", ylabel=f"training MSE (moving mean of {window})", yscale="log",
            title=f"Training at T = {s.flow_length}")
    ax2.legend()
    return fig


def plot_gradient_flow(results):
    """||dL/dh_t|| against distance from the loss, log scale, at init and trained."""
    s = Settings(**results["settings"])
    fig, axes = _figure(2)
    for ax, when in zip(axes, ("init", "trained")):
        for c in CELLS:
            norms = np.asarray(results["gradient_flow"][c][when])
            ax.semilogy(np.arange(norms.size), norms, color=_COLORS[c], label=c)
        ax.set(xlabel="distance from the loss, T - t (steps)", ylabel="||dL/dh_t||",
               title=("at initialisation" if when == "init" else "after training") + f" (T = {s.flow_length})")
        ax.legend()
    return fig


# =========================================================================== the laboratory
# Which parts of the cell matter: every variant of ``lstm_np.cells.variants``
# on the adding problem, a character-level language model and the MovieLens
# recommender, the same seeds and budgets for each.


#: The variants compared in the laboratory, in table order.
LAB_VARIANTS = tuple(VARIANTS)


@dataclass(frozen=True)
class LabSettings:
    """Sizes of the laboratory's three tasks (the same for every variant).

    The adding problem uses ``train_adding`` with ``adding_settings()``; the
    character model trains ``char_steps`` steps of truncated BPTT on the
    standard library's source and scores bits per character on the held-out
    last tenth; the recommender is ``lstm-np train``'s (an MF base + a
    correction net, the variant as its layer; ``train_recommender``) on
    ``rec_data``, its epoch count chosen on validation (at most
    ``rec_epochs``, patience ``rec_patience``), refitted on train +
    validation and scored on test (``rec_epochs = 0`` leaves it out).
    """

    variants: tuple = LAB_VARIANTS
    seeds: tuple = (0, 1, 2)
    # adding problem
    hidden_size: int = 32
    lengths: tuple = (25, 75)
    steps: int = 600
    batch_size: int = 32
    lr: float = 1e-2
    max_norm: float = 1.0
    n_test: int = 1000
    # character model (lstm_np.charlm)
    char_hidden: int = 64
    char_embed: int = 16
    char_steps: int = 1000
    char_batch: int = 32
    char_seq_len: int = 32
    char_lr: float = 1e-2
    char_chars: int = 300_000
    # recommender (lstm-np train's model: an MF base + a correction net with the variant as its layer)
    rec_data: str = "movielens"
    rec_epochs: int = 30  # SequenceConfig's defaults, as lstm-np train
    rec_patience: int = 5
    rec_hidden: int = 32
    rec_mf_grid: tuple = ()  # MF's search grid as (key, values) pairs; empty: mf.MF_GRID, as lstm-np train
    # time per step
    timing_repeats: int = 10

    def __post_init__(self):
        unknown = [v for v in self.variants if v not in VARIANTS]
        if unknown:
            raise ValueError(f"variants {unknown} are not in {list(VARIANTS)}")
        if min(self.lengths) < 2:
            raise ValueError(f"lengths must be >= 2 (two markers); got {self.lengths}")

    def adding_settings(self):
        """The ``Settings`` that ``train_adding`` and ``time_per_step`` read."""
        return Settings(hidden_size=self.hidden_size, lengths=self.lengths, seeds=self.seeds, steps=self.steps,
                        batch_size=self.batch_size, lr=self.lr, max_norm=self.max_norm, n_test=self.n_test,
                        flow_length=self.lengths[-1], timing_repeats=self.timing_repeats)


#: The setting behind the README's laboratory table.
LAB_FULL = LabSettings()
#: A few seconds per variant: CI and the notebook's quick mode (synthetic recommender data).
LAB_QUICK = LabSettings(
    seeds=(0,), hidden_size=8, lengths=(8,), steps=60, batch_size=16, n_test=200,
    char_hidden=16, char_embed=8, char_steps=15, char_batch=8, char_seq_len=16, char_chars=8_000,
    rec_data="synthetic", rec_epochs=2, rec_patience=2, rec_hidden=8, rec_mf_grid=(("factors", (4,)), ("reg", (0.1,))),
    timing_repeats=2,
)


def get_lab_settings(quick=None):
    """``LAB_QUICK`` if ``quick`` (None: if ``LSTM_NP_QUICK`` is set, as ``get_settings``), else ``LAB_FULL``."""
    return LAB_QUICK if get_settings(quick) is QUICK else LAB_FULL


# --------------------------------------------------------------------------- the character model


def train_char(variant, seed, ls=LAB_FULL):
    """The project's character model (``lstm_np.charlm.train_char_model``) with the variant as its layer.

    Embedding (``char_embed``) -> ``VariantLSTM(variant, ...)`` (``char_hidden``)
    -> softmax over the characters, trained ``char_steps`` steps of
    truncated BPTT on ``char_batch`` streams of ``char_seq_len`` characters
    of the standard library's source (the first ``char_chars`` characters),
    Adam at ``char_lr`` decayed (cosine) to a tenth of it; scored in bits per
    character on the held-out last tenth, beside charlm's bigram model on the
    same split.

    Returns
    -------
    dict
        ``bpc``, ``bigram_bpc``, ``train_bpc`` (per step), ``seconds`` (mean
        per training step), ``sha256`` of the text read, ``V``.
    """
    from .charlm import train_char_model

    def make_layer(input_size, hidden_size, rng):
        return VariantLSTM(variant, input_size, hidden_size, rng=rng)

    res = train_char_model(make_layer, None, hidden_size=ls.char_hidden, embed_dim=ls.char_embed,
                           batch_size=ls.char_batch, seq_len=ls.char_seq_len, steps=ls.char_steps, lr=ls.char_lr,
                           lr_final=ls.char_lr / 10, max_chars=ls.char_chars, eval_every=ls.char_steps,
                           sample_every=ls.char_steps, sample_len=0, seed=seed)
    return {"bpc": float(res.bpc), "bigram_bpc": float(res.bigram_bpc), "train_bpc": np.asarray(res.train_bpc),
            "seconds": float(res.seconds_per_step), "sha256": res.corpus.sha256, "V": len(res.vocab)}


# --------------------------------------------------------------------------- the recommender


_REC_BASES = {}


def _rec_config(seed, ls):
    """The correction net's settings in the laboratory (``hybrid.SequenceConfig``)."""
    from .recommender.hybrid import SequenceConfig

    return SequenceConfig(hidden_size=ls.rec_hidden, epochs=ls.rec_epochs, patience=ls.rec_patience, seed=seed,
                          dtype="float64")


def _rec_bases(name, seed, ls):
    """(Histories, {level: MF base}, MF test RMSE) of a data set and seed, fitted once per process.

    MF's settings are chosen on validation by ``run_protocol`` (with the
    baselines only) over ``ls.rec_mf_grid``, then the base is fitted on
    every prefix level the correction net needs (``protocol.fit_base``),
    exactly as ``lstm-np train`` does; the bases do not depend on the
    recurrent layer, so every variant of a seed reads the same ones.
    """
    key = (name, seed)
    if key not in _REC_BASES:
        from .recommender import pipeline
        from .recommender.protocol import fit_base, run_protocol

        config = _rec_config(seed, ls)
        ratings, _ = pipeline.load_data(name, log=None)
        res = run_protocol(ratings, config, sequence=False, mf_grid=dict(ls.rec_mf_grid) or None,
                           log=None)
        h, choice = res.histories, res.rows["mf"]["choice"]
        models = {lv: fit_base("mf", h, lv, choice, seed) for lv in range(1, 3 + config.cuts)}
        _REC_BASES.clear()  # one data set and seed at a time: the jobs run seed by seed
        _REC_BASES[key] = (h, models, res.rows["mf"]["test"]["rmse"])
    return _REC_BASES[key]


def train_recommender(variant, seed, ls=LAB_FULL):
    """The recommender of ``lstm-np train`` (an MF base + a recurrent correction) with the variant as its layer.

    The base is matrix factorisation, chosen on validation and fitted on
    each prefix level once per seed (``_rec_bases``); the correction net
    (``hybrid.CorrectionNet``: ``VariantLSTM(variant, ...)`` with H =
    ``rec_hidden`` -> a dense head, float64) reads each user's history and
    corrects the base. ``protocol.fit_sequence`` runs the protocol of
    ``lstm-np train`` for it: the epoch count is chosen on validation (at
    most ``rec_epochs``, stopping after ``rec_patience`` epochs without
    improvement), a fresh net is refitted on train + validation for that
    many epochs, and test is scored once.

    Returns
    -------
    dict
        ``rmse`` (test), ``val_rmse``, ``epochs`` (chosen), ``mf_rmse`` (the
        MF base's test RMSE, the baseline), ``seconds`` (per training epoch).
    """
    from .recommender.protocol import fit_sequence

    h, models, mf_rmse = _rec_bases(ls.rec_data, seed, ls)

    def make_layer(input_size, hidden_size, rng, dtype):
        return VariantLSTM(variant, input_size, hidden_size, rng=rng, dtype=dtype)

    t0 = time.perf_counter()
    fit = fit_sequence(h, models, _rec_config(seed, ls), make_layer=make_layer)
    seconds = (time.perf_counter() - t0) / max(1, len(fit.history) - 1 + fit.epochs)
    return {"rmse": fit.test["rmse"], "val_rmse": fit.val["rmse"], "epochs": fit.epochs, "mf_rmse": mf_rmse,
            "seconds": seconds}


# --------------------------------------------------------------------------- the whole laboratory


def _lab_job(job, ls):
    """One training run of the laboratory; plain numbers and arrays back."""
    task, variant, T, seed = job
    t0 = time.perf_counter()
    if task == "adding":
        model, losses, mse = train_adding(variant, T, seed, ls.adding_settings())
        out = {"mse": mse, "losses": losses}
    elif task == "char":
        out = train_char(variant, seed, ls)
    else:
        out = train_recommender(variant, seed, ls)
    out["wall_s"] = time.perf_counter() - t0
    return out


def run_lab(out_dir="runs/lab", quick=None, verbose=True, workers=None, settings=None):
    """Every variant on the three tasks, ``len(seeds)`` seeds each; tables and plots into ``out_dir``.

    Parameters
    ----------
    out_dir : str or Path
        Receives lab.md, lab.json and lab.png.
    quick : bool or None
        ``LAB_QUICK`` settings; None reads ``LSTM_NP_QUICK``.
    verbose : bool
        Show a progress bar.
    workers : int or None
        Processes (see ``run``); None: 1 for the quick setting, else the
        number of CPUs (at most 4).
    settings : LabSettings, optional
        Overrides ``quick``.

    Returns
    -------
    dict
        ``settings``; ``adding`` {variant: {T: [test MSE per seed]}};
        ``adding_baseline`` {T: MSE of predicting 1.0}; ``curves``
        {variant: training losses at the longest T, first seed}; ``char``
        {variant: [bpc per seed]}, ``char_bigram``, ``char_sha256``,
        ``char_curves``; ``rec`` {variant: [test RMSE per seed]},
        ``rec_mf`` [the MF base's test RMSE per seed], ``rec_epochs_chosen``
        {variant: [epoch count chosen per seed]}; ``cost`` {variant: {"params", "adding_ms" (the best of
        three rounds of ``time_per_step`` at the longest T), "char_ms" (median
        over the seeds of the mean training step), "rec_s_per_epoch"}};
        ``elapsed_s``.
    """
    ls = (get_lab_settings(quick) if settings is None else settings)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    s = ls.adding_settings()
    if workers is None:
        workers = 1 if ls == LAB_QUICK else min(4, os.cpu_count() or 1)
    tasks = ["adding", "char"] + (["rec"] if ls.rec_epochs > 0 else [])
    jobs = [("adding", v, T, seed) for T in sorted(ls.lengths, reverse=True) for seed in ls.seeds for v in ls.variants]
    jobs += [(task, v, None, seed) for task in tasks[1:] for seed in ls.seeds for v in ls.variants]
    with _executor(workers) as ex:
        runs = ex.map(_lab_job, jobs, [ls] * len(jobs))
        if verbose:
            from tqdm import tqdm

            runs = tqdm(runs, total=len(jobs), desc="laboratory")
        runs = list(runs)
        # Timing last, one variant at a time, when nothing else of ours is running; three rounds over the
        # variants, each variant's best round, so that a change in the machine's load favours none of them.
        rounds = [{v: ex.submit(time_per_step, v, max(ls.lengths), s).result() for v in ls.variants}
                  for _ in range(3)]
        adding_seconds = {v: min(rnd[v] for rnd in rounds) for v in ls.variants}

    r = {
        "settings": asdict(ls),
        "adding_baseline": {T: float(np.mean((_test_set(T, s)[1] - 1.0) ** 2)) for T in ls.lengths},
        "adding": {v: {T: [] for T in ls.lengths} for v in ls.variants},
        "curves": {}, "char": {v: [] for v in ls.variants}, "char_curves": {},
        "rec": {v: [] for v in ls.variants} if "rec" in tasks else {}, "rec_epochs_chosen": {},
        "rec_mf": [None] * len(ls.seeds),
        "cost": {v: {"params": sum(p.size for p in VariantLSTM(v, 2, ls.hidden_size, rng=0).params.values()),
                     "adding_ms": 1e3 * adding_seconds[v], "char_ms": [], "rec_s_per_epoch": []}
                 for v in ls.variants},
    }
    for (task, v, T, seed), res in zip(jobs, runs):
        if task == "adding":
            r["adding"][v][T].append(res["mse"])
            if T == max(ls.lengths) and seed == ls.seeds[0]:
                r["curves"][v] = res["losses"]
        elif task == "char":
            r["char"][v].append(res["bpc"])
            r["char_bigram"], r["char_sha256"], r["char_V"] = res["bigram_bpc"], res["sha256"], res["V"]
            r["cost"][v]["char_ms"].append(1e3 * res["seconds"])
            if seed == ls.seeds[0]:
                r["char_curves"][v] = res["train_bpc"]
        else:
            r["rec"][v].append(res["rmse"])
            r["rec_mf"][ls.seeds.index(seed)] = res["mf_rmse"]
            r["rec_epochs_chosen"].setdefault(v, []).append(res["epochs"])
            r["cost"][v]["rec_s_per_epoch"].append(res["seconds"])
    for c in r["cost"].values():  # medians over the seeds' runs
        c["char_ms"] = float(np.median(c["char_ms"]))
        c["rec_s_per_epoch"] = float(np.median(c["rec_s_per_epoch"])) if c["rec_s_per_epoch"] else None
    r["elapsed_s"] = time.perf_counter() - start
    r["workers"] = workers
    r["python"] = platform.python_version()  # the character corpus depends on it (see char_sha256)

    (out / "lab.md").write_text(format_lab(r))
    (out / "lab.json").write_text(json.dumps(r, indent=1, default=_to_json))
    plot_lab(r).savefig(out / "lab.png", dpi=110)
    return r


def _lab_settings(r):
    """The ``LabSettings`` of a result dict (fields it does not know, from other versions, ignored)."""
    names = {f.name for f in dataclasses.fields(LabSettings)}
    return LabSettings(**{k: v for k, v in r["settings"].items() if k in names})


def _mean_sd(values, digits):
    v = np.asarray(values, dtype=float)
    if not np.isfinite(v).all():
        return f"diverged ({int((~np.isfinite(v)).sum())}/{v.size})"
    return f"{v.mean():.{digits}f} ± {v.std(ddof=1):.{digits}f}" if v.size > 1 else f"{v.mean():.{digits}f}"


def format_lab(r):
    """The laboratory's Markdown table: one row per variant, one column per task and length."""
    ls = _lab_settings(r)
    has_rec = bool(r.get("rec"))
    head = ["variant", "change", "params"] + [f"adding T={T} (MSE)" for T in ls.lengths] + ["char (bpc)"]
    head += ["recommender (test RMSE)"] if has_rec else []
    head += [f"ms/step adding T={max(ls.lengths)}", "ms/step char"]
    lines = [
        f"## Which parts of the cell matter: {len(ls.variants)} variants, {len(ls.seeds)} seed(s) each",
        "",
        f"Adding problem: H = {ls.hidden_size}, {ls.steps} Adam steps of batch {ls.batch_size}, lr {ls.lr}, "
        f"clip {ls.max_norm}; test MSE on {ls.n_test} sequences (predicting 1.0 gives "
        + ", ".join(f"{r['adding_baseline'][T]:.3f} at T={T}" for T in ls.lengths) + "). "
        f"Character model (``lstm_np.charlm``): embedding (E = {ls.char_embed}) -> variant (H = {ls.char_hidden}) "
        f"-> softmax, {ls.char_steps} steps of {ls.char_batch} x {ls.char_seq_len} characters, lr {ls.char_lr} "
        f"decayed to {ls.char_lr / 10:g}; held-out bits per character on the last 10 % of {ls.char_chars:,} "
        f"characters of the standard library's source (V = {r.get('char_V')}; the bigram model: "
        f"{r.get('char_bigram', float('nan')):.3f} bpc)."
        + (f" Recommender (``lstm-np train``'s model: an MF base + a correction net whose layer is the variant, "
           f"H = {ls.rec_hidden}, float64): {ls.rec_data}; MF chosen on validation and fitted once per seed; the "
           f"net's epoch count chosen on validation (at most {ls.rec_epochs}, patience {ls.rec_patience}), refitted "
           f"on train + validation, test scored once (the MF base alone: {_mean_sd(r['rec_mf'], 4)})."
           if has_rec else "")
        + " Mean ± sample sd over the seeds. Params: of the cell at D = 2.",
        "",
        "| " + " | ".join(head) + " |",
        "|---|---|" + "---:|" * (len(head) - 2),
    ]
    for v in ls.variants:
        row = [f"`{v}`", VARIANTS[v].change, str(r["cost"][v]["params"])]
        row += [_mean_sd(r["adding"][v][T], 4) for T in ls.lengths]
        row += [_mean_sd(r["char"][v], 3)]
        row += [_mean_sd(r["rec"][v], 4)] if has_rec else []
        row += [f"{r['cost'][v]['adding_ms']:.1f}", f"{r['cost'][v]['char_ms']:.1f}"]
        lines.append("| " + " | ".join(row) + " |")
    lines += ["", f"Total time of the run: {r['elapsed_s']:.0f} s with {r['workers']} worker process(es).", ""]
    return "\n".join(lines)


def plot_lab(r):
    """Adding-problem MSE per variant and length; held-out bpc; recommender RMSE; training curves."""
    ls = _lab_settings(r)
    has_rec = bool(r.get("rec"))
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(12, 7.5), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(2, 2)
    names = list(ls.variants)
    y = np.arange(len(names))
    colors = [f"C{k}" for k in range(len(names))]

    def dots(ax, per_variant, ref=None, ref_label=None, log=False):
        for k, v in enumerate(names):
            vals = np.asarray(per_variant[v], dtype=float)
            ok = np.isfinite(vals)
            ax.plot(vals[ok], np.full(ok.sum(), k), "o", color=colors[k], alpha=0.8)
            if ok.any():
                ax.plot([vals[ok].mean()], [k], "|", color="k", ms=14)
        if ref is not None:
            ax.axvline(ref, color="k", ls="--", label=ref_label)
            ax.legend(loc="best", fontsize="small")
        ax.set_yticks(y, names)
        ax.invert_yaxis()
        if log:
            ax.set_xscale("log")

    ax = axes[0, 0]
    for j, T in enumerate(ls.lengths):
        for k, v in enumerate(names):
            vals = np.asarray(r["adding"][v][T], dtype=float)
            ax.plot(vals, np.full(vals.size, k) + 0.15 * (j - (len(ls.lengths) - 1) / 2), "os^D"[j % 4],
                    color=colors[k], alpha=0.8, label=f"T = {T}" if k == 0 else None)
    ax.axvline(np.mean(list(r["adding_baseline"].values())), color="k", ls="--", label="predict 1.0")
    ax.set_yticks(y, names)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.legend(fontsize="small")
    ax.set(xlabel="test MSE (log)", title=f"Adding problem, {ls.steps} steps (each dot a seed)")

    dots(axes[0, 1], r["char"], r.get("char_bigram"), "bigram model")
    bpc = np.concatenate([np.asarray(x, dtype=float) for x in r["char"].values()])
    blown_up = np.nanmax(bpc) > 3 * r.get("char_bigram", np.inf)
    if blown_up:  # a variant whose training diverged: log scale, so that the others stay readable
        from matplotlib.ticker import NullFormatter

        axes[0, 1].set_xscale("log")
        axes[0, 1].xaxis.set_minor_formatter(NullFormatter())  # labels at 1, 10, 100 only
    axes[0, 1].set(xlabel="held-out bits per character" + (" (log)" if blown_up else ""),
                   title="Character model (| = mean)")

    ax = axes[1, 0]
    if has_rec:
        dots(ax, r["rec"], np.mean(r["rec_mf"]), "MF base alone (mean)")
        ax.set(xlabel="test RMSE", title=f"Recommender ({ls.rec_data}, MF + correction net)")
    else:
        ax.set_axis_off()

    ax = axes[1, 1]
    window = max(1, ls.char_steps // 20)
    for k, v in enumerate(names):
        if v in r["char_curves"]:
            c = np.asarray(r["char_curves"][v])
            smooth = np.convolve(c, np.ones(window) / window, mode="valid")
            ax.plot(np.arange(smooth.size) + window, smooth, color=colors[k], label=v)
    top = 2 * r.get("char_bigram", np.nan)
    if np.isfinite(top):
        ax.set_ylim(0, top)
    ax.set(xlabel="training step", ylabel=f"training bpc (moving mean of {window})",
           title="Character model: training, first seed\n(the axis stops at twice the bigram model's bpc)")
    ax.legend(fontsize="x-small", ncols=2)
    return fig


def load_lab(path):
    """Read a ``lab.json`` written by ``run_lab`` (lengths as int keys, curves as arrays)."""
    path = Path(path)
    r = json.loads((path / "lab.json" if path.is_dir() else path).read_text())
    r["settings"] = {k: tuple(v) if isinstance(v, list) else v for k, v in r["settings"].items()}
    r["adding_baseline"] = {int(T): v for T, v in r["adding_baseline"].items()}
    r["adding"] = {v: {int(T): x for T, x in d.items()} for v, d in r["adding"].items()}
    r["curves"] = {v: np.asarray(x) for v, x in r["curves"].items()}
    r["char_curves"] = {v: np.asarray(x) for v, x in r["char_curves"].items()}
    return r


def main(argv=None):
    """``python -m lstm_np.experiments [--lab] [--quick] [--out DIR] [--workers N]``."""
    p = argparse.ArgumentParser(prog="python -m lstm_np.experiments", description=__doc__.splitlines()[0])
    p.add_argument("--lab", action="store_true",
                   help="the laboratory instead: every variant of the cell on three tasks (default out: runs/lab)")
    p.add_argument("--quick", action="store_true", default=None, help="small setting (< 30 s); or LSTM_NP_QUICK=1")
    p.add_argument("--out", default=None, help="output folder (default: runs/experiments, or runs/lab with --lab)")
    p.add_argument("--workers", type=int, default=None, help="processes (default: 1 if quick, else CPUs, at most 4)")
    args = p.parse_args(argv)
    if args.lab:
        out = args.out or "runs/lab"
        results = run_lab(out, quick=args.quick, workers=args.workers)
        print(format_lab(results))
        print(f"wrote {out}/lab.md, lab.json, lab.png")
        return 0
    out = args.out or "runs/experiments"
    results = run(out, quick=args.quick, workers=args.workers)
    print(format_results(results))
    print(f"wrote {out}/results.md, results.json, adding.png, gradient_flow.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
