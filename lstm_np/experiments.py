"""Vanilla RNN vs GRU vs LSTM: the adding problem, gradient flow, and cost.

Regenerate every number and plot with one command::

    python -m lstm_np.experiments                 # full setting, a few minutes
    python -m lstm_np.experiments --quick         # < 30 s (or LSTM_NP_QUICK=1)
    python -m lstm_np.experiments --out DIR       # default runs/experiments/

It writes ``results.md`` (the tables), ``results.json`` (every number),
``adding.png`` and ``gradient_flow.png`` into the folder. From Python
(a notebook, a test), ``run(out_dir, quick=True)`` does the same and returns
the results as a dict.

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
import json
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .sequence import GRU, LSTM, RNN
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
    """(out, state_T, cache) for any of the three cells; a state is a tuple,
    (h,) for the RNN and GRU and (h, c) for the LSTM."""
    if isinstance(cell, LSTM):
        h0, c0 = (None, None) if state is None else state
        out, (h, c), cache = cell.forward(x, h0=h0, c0=c0)
        return out, (h, c), cache
    out, h, cache = cell.forward(x, h0=None if state is None else state[0])
    return out, (h,), cache


def _cell_backward(cell, dout, cache, dstate):
    """(dx, dstate_0) for any of the three cells; ``dstate`` as the state."""
    if isinstance(cell, LSTM):
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
    cell : {"RNN", "GRU", "LSTM"}
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
        self.cell = CELLS[cell](2, hidden_size, rng=rng)
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
    cell : {"RNN", "GRU", "LSTM"}
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
    cell : {"RNN", "GRU", "LSTM"}
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


def main(argv=None):
    """``python -m lstm_np.experiments [--quick] [--out DIR]``."""
    p = argparse.ArgumentParser(prog="python -m lstm_np.experiments", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", default=None, help="small setting (< 30 s); or LSTM_NP_QUICK=1")
    p.add_argument("--out", default="runs/experiments", help="output folder (default: %(default)s)")
    p.add_argument("--workers", type=int, default=None, help="processes (default: 1 if quick, else CPUs, at most 4)")
    args = p.parse_args(argv)
    results = run(args.out, quick=args.quick, workers=args.workers)
    print(format_results(results))
    print(f"wrote {args.out}/results.md, results.json, adding.png, gradient_flow.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
