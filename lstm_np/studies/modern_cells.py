"""The 2024 cells beside the LSTM: sLSTM (xLSTM), minLSTM and minGRU on tasks that tell them apart.

Regenerate every number and plot with one command::

    python -m lstm_np.studies.modern_cells            # the full setting (README, notebook 10)
    python -m lstm_np.studies.modern_cells --quick    # a few seconds (CI; or LSTM_NP_QUICK=1)
    python -m lstm_np.studies.modern_cells --out DIR  # default runs/modern_cells/

It writes ``modern_cells.md`` (the table), ``modern_cells.json`` (every
number) and ``parity.png`` (accuracy against test length) into the folder;
``run(out_dir, quick=True)`` does the same from Python.

The cells: ``LSTM`` (``sequence.LSTM``), ``sLSTM`` (``sequence.SLSTM``:
exponential gates, stabiliser and normaliser, gates that see h_prev),
``minLSTM`` and ``minGRU`` (``sequence.MinLSTM``/``MinGRU``: gates from the
input only, so a linear recurrence). The same hidden size, optimiser
(Adam, gradient norm clipped to 1) and budget for all. The tasks:

* **Parity** (as in xLSTM's formal-language experiments): a string of bits,
  one-hot encoded; the target is whether the number of ones is odd, read by
  a linear head from the last state. Trained on lengths 1 .. 40 (padded, with
  a mask), tested on lengths 40 ... 256: the accuracy beyond 40 says whether
  the cell learned the rule or the training lengths. Chance is 0.5. A cell
  whose state update is h = a(x) h_prev + b(x) with 0 < a < 1 (minLSTM,
  minGRU) cannot flip a stored sign, which parity needs at every one.
* **Selective copying** (Gu and Dao's Mamba paper): K data tokens at random
  positions among blanks in a region of L steps, then K query steps; the
  model must output the data tokens in order at the query steps (accuracy
  per token; chance 1 / V). The positions vary, so the gates must depend on
  the input: this is what input-dependent gates are for.
* **The adding problem** (``studies.adding``): test MSE at one length
  (predicting 1.0 gives about 0.167).
* **The character model** (``lstm_np.charlm``): held-out bits per character,
  the laboratory's setting, so the LSTM's row equals the laboratory's.
* The next-item recommender's NDCG@10 is measured outside this study, with
  ``lstm-np train --task next-item --cell slstm|minlstm|mingru`` (about 15
  minutes per cell and seed on 2 cores, over this study's 30-minute budget);
  the runs are in ``notebooks/data/next_item_cells.json`` (notebook 10).

Times per training step are wall-clock means over each run (the median over
the seeds), on whatever else the machine was doing: compare them within a
column.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..feedforward import Dense
from ..losses import masked_mse, softmax_cross_entropy
from ..optim import Adam, clip_grad_norm
from ..sequence import LSTM, SLSTM, MinGRU, MinLSTM
from ..sequence.slstm import SLSTMState
from .adding import adding_problem

__all__ = ["CELLS", "ModernSettings", "FULL", "QUICK", "get_settings", "parity_batch", "selective_copy_batch",
           "SequenceModel", "train_parity", "train_copy", "train_adding", "train_char", "run", "load_results",
           "format_results", "plot_parity", "main"]

#: The cells compared, by display name.
CELLS = {"LSTM": LSTM, "sLSTM": SLSTM, "minLSTM": MinLSTM, "minGRU": MinGRU}


@dataclass(frozen=True)
class ModernSettings:
    """Sizes of every task (the same for every cell)."""

    cells: tuple = tuple(CELLS)
    seeds: tuple = (0, 1, 2)
    hidden_size: int = 32
    batch_size: int = 64
    lr: float = 1e-2
    max_norm: float = 1.0
    # parity
    parity_steps: int = 1500
    parity_train_max: int = 40
    parity_test_lengths: tuple = (40, 64, 96, 128, 192, 256)
    parity_n_test: int = 400
    # selective copying
    copy_steps: int = 1500
    copy_region: int = 32
    copy_tokens: int = 4
    copy_vocab: int = 4
    copy_n_test: int = 500
    # adding problem
    adding_steps: int = 1000
    adding_length: int = 100
    adding_n_test: int = 1000
    # character model (the laboratory's setting, lstm_np.studies.settings.LAB_FULL)
    char_hidden: int = 64
    char_embed: int = 16
    char_steps: int = 1000
    char_batch: int = 32
    char_seq_len: int = 32
    char_lr: float = 1e-2
    char_chars: int = 300_000

    def __post_init__(self):
        unknown = [c for c in self.cells if c not in CELLS]
        if unknown:
            raise ValueError(f"cells {unknown} are not in {list(CELLS)}")


#: The setting behind the README's table.
FULL = ModernSettings()
#: A few seconds in all: CI and the notebook's quick mode.
QUICK = ModernSettings(
    seeds=(0,), hidden_size=8, batch_size=16, parity_steps=30, parity_train_max=10, parity_test_lengths=(10, 20),
    parity_n_test=50, copy_steps=20, copy_region=8, copy_tokens=2, copy_n_test=50, adding_steps=20,
    adding_length=10, adding_n_test=50, char_hidden=8, char_embed=4, char_steps=10, char_batch=4, char_seq_len=8,
    char_chars=5_000,
)


def get_settings(quick=None):
    """``QUICK`` if ``quick`` (None: if the environment variable ``LSTM_NP_QUICK`` is set and not "0"), else ``FULL``."""
    if quick is None:
        quick = os.environ.get("LSTM_NP_QUICK", "") not in ("", "0")
    return QUICK if quick else FULL


# --------------------------------------------------------------------------- the tasks


def parity_batch(n, max_len, rng, *, length=None):
    """Bit strings and their parity.

    Parameters
    ----------
    n : int
    max_len : int
        Sequences are padded to this length.
    rng : numpy.random.Generator
    length : int, optional
        Every sequence this long (no padding); otherwise lengths are drawn
        uniformly from 1 .. max_len.

    Returns
    -------
    x : (n, T, 2) ndarray
        One-hot bits (zeros at padded steps).
    mask : (n, T) ndarray of 0/1
    y : (n,) ndarray of int
        1 where the number of ones is odd.
    """
    T = max_len if length is None else length
    lengths = np.full(n, T) if length is not None else rng.integers(1, max_len + 1, size=n)
    mask = (np.arange(T)[None, :] < lengths[:, None]).astype(np.float64)
    bits = rng.integers(0, 2, size=(n, T)) * mask.astype(np.int64)
    x = np.stack([(1 - bits) * mask, bits * mask], axis=-1).astype(np.float64)
    return x, mask, (bits.sum(axis=1) % 2).astype(np.int64)


def selective_copy_batch(n, region, tokens, vocab, rng):
    """Selective copying: ``tokens`` data tokens at random positions of a ``region``, then as many queries.

    Token ids: 0 .. vocab-1 data, ``vocab`` blank, ``vocab + 1`` query.

    Returns
    -------
    x : (n, region + tokens, vocab + 2) ndarray
        One-hot tokens.
    y : (n, region + tokens) ndarray of int
        At the query steps the data tokens in order of position; 0 elsewhere
        (not scored).
    score : (n, region + tokens) ndarray of 0/1
        1 at the query steps.
    """
    T = region + tokens
    ids = np.full((n, T), vocab)
    ids[:, region:] = vocab + 1
    pos = np.sort(np.argsort(rng.random((n, region)), axis=1)[:, :tokens], axis=1)
    data = rng.integers(0, vocab, size=(n, tokens))
    rows = np.arange(n)[:, None]
    ids[rows, pos] = data
    y = np.zeros((n, T), dtype=np.int64)
    y[:, region:] = data
    score = np.zeros((n, T))
    score[:, region:] = 1.0
    return np.eye(vocab + 2)[ids], y, score


# --------------------------------------------------------------------------- the model


class SequenceModel:
    """A recurrent layer (one of ``CELLS``) and a linear head, on the last state or on every step.

    Parameters
    ----------
    cell : str
        A key of ``CELLS``.
    input_size, hidden_size, output_size : int
    rng : numpy.random.Generator or int
    head_bias : float
        The head's initial bias (1.0 for the adding problem: its mean target).

    Attributes
    ----------
    params, grads : dict of ndarray
        ``"cell.*"`` and ``"head.*"``: the layers' own arrays.
    """

    def __init__(self, cell, input_size, hidden_size, output_size, rng, head_bias=0.0):
        rng = np.random.default_rng(rng)
        self.cell = CELLS[cell](input_size, hidden_size, rng=rng)
        self.head = Dense(hidden_size, output_size, rng=rng, bias=head_bias)
        parts = {"cell": self.cell, "head": self.head}
        self.params = {f"{n}.{k}": v for n, p in parts.items() for k, v in p.params.items()}
        self.grads = {f"{n}.{k}": v for n, p in parts.items() for k, v in p.grads.items()}

    def run(self, x, mask=None):
        """``out`` (B, T, H), the last hidden state h_T (B, H), the layer's cache."""
        if isinstance(self.cell, LSTM):
            out, (h, _), cache = self.cell.forward(x, mask=mask)
            return out, h, cache
        out, state, cache = self.cell.forward(x, mask=mask)
        return out, (state.h if isinstance(state, SLSTMState) else state), cache

    def back(self, dout, cache, dh_T=None):
        if isinstance(self.cell, LSTM):
            self.cell.backward(dout, cache, dh_T=dh_T)
        else:
            self.cell.backward(dout, cache, dh_T)

    def last(self, x, mask=None):
        """Head on the last state: (B, output_size), with what ``last_backward`` needs."""
        out, h, cache = self.run(x, mask)
        y, head_cache = self.head.forward(h)
        return y, (out, cache, head_cache)

    def last_backward(self, dy, saved):
        out, cache, head_cache = saved
        self.back(np.zeros_like(out), cache, self.head.backward(dy, head_cache))

    def every(self, x):
        """Head on every step: (B, T, output_size), with what ``every_backward`` needs."""
        out, _, cache = self.run(x)
        y, head_cache = self.head.forward(out)
        return y, (cache, head_cache)

    def every_backward(self, dy, saved):
        cache, head_cache = saved
        self.back(self.head.backward(dy, head_cache), cache)


def _train(model, steps, lr, max_norm, step_fn):
    """Adam steps of ``step_fn(k) -> loss`` (which fills ``model.grads``); the losses and seconds per step."""
    opt = Adam(model.params, lr=lr)
    losses = np.empty(steps)
    t0 = time.perf_counter()
    for k in range(steps):
        losses[k] = step_fn(k)
        clip_grad_norm(model.grads, max_norm)
        opt.step(model.grads)
    return losses, (time.perf_counter() - t0) / max(steps, 1)


def train_parity(cell, seed, s=FULL):
    """Train on lengths 1 .. ``parity_train_max``; accuracy at each of ``parity_test_lengths``.

    Returns
    -------
    dict
        ``accuracy`` {length: fraction correct}, ``losses`` (per step), ``seconds`` (per step).
    """
    rng = np.random.default_rng(seed)
    model = SequenceModel(cell, 2, s.hidden_size, 2, rng)

    def step(k):
        x, mask, y = parity_batch(s.batch_size, s.parity_train_max, rng)
        z, saved = model.last(x, mask)
        loss, dz = softmax_cross_entropy(z, y)
        model.last_backward(dz, saved)
        return loss

    losses, seconds = _train(model, s.parity_steps, s.lr, s.max_norm, step)
    accuracy = {}
    for L in s.parity_test_lengths:  # the same test strings for every cell and seed
        x, _, y = parity_batch(s.parity_n_test, L, np.random.default_rng(2_000_003 + L), length=L)
        accuracy[L] = float(np.mean(model.last(x)[0].argmax(axis=1) == y))
    return {"accuracy": accuracy, "losses": losses, "seconds": seconds}


def train_copy(cell, seed, s=FULL):
    """Selective copying; accuracy per data token on held-out sequences."""
    rng = np.random.default_rng(seed)
    V = s.copy_vocab
    model = SequenceModel(cell, V + 2, s.hidden_size, V, rng)

    def step(k):
        x, y, score = selective_copy_batch(s.batch_size, s.copy_region, s.copy_tokens, V, rng)
        z, saved = model.every(x)
        loss, dz = softmax_cross_entropy(z, y, score)
        model.every_backward(dz, saved)
        return loss

    losses, seconds = _train(model, s.copy_steps, s.lr, s.max_norm, step)
    x, y, score = selective_copy_batch(s.copy_n_test, s.copy_region, s.copy_tokens, V, np.random.default_rng(3_000_017))
    pred = model.every(x)[0].argmax(axis=-1)
    return {"accuracy": float(np.mean(pred[:, s.copy_region:] == y[:, s.copy_region:])), "losses": losses,
            "seconds": seconds}


def train_adding(cell, seed, s=FULL):
    """The adding problem at ``adding_length``; test MSE."""
    rng = np.random.default_rng(seed)
    model = SequenceModel(cell, 2, s.hidden_size, 1, rng, head_bias=1.0)

    def step(k):
        x, y = adding_problem(s.batch_size, s.adding_length, rng)
        z, saved = model.last(x)
        loss, dz = masked_mse(z[:, 0], y)
        model.last_backward(dz[:, None], saved)
        return loss

    losses, seconds = _train(model, s.adding_steps, s.lr, s.max_norm, step)
    x, y = adding_problem(s.adding_n_test, s.adding_length, np.random.default_rng(1_000_003 + s.adding_length))
    return {"mse": float(np.mean((model.last(x)[0][:, 0] - y) ** 2)), "losses": losses, "seconds": seconds}


def train_char(cell, seed, s=FULL, corpus=None):
    """The character model of ``lstm_np.charlm`` with the cell as its layer; held-out bits per character."""
    from ..charlm import train_char_model

    def make_layer(input_size, hidden_size, rng):
        return CELLS[cell](input_size, hidden_size, rng=rng)

    res = train_char_model(make_layer, corpus, hidden_size=s.char_hidden, embed_dim=s.char_embed,
                           batch_size=s.char_batch, seq_len=s.char_seq_len, steps=s.char_steps, lr=s.char_lr,
                           lr_final=s.char_lr / 10, max_chars=s.char_chars, eval_every=s.char_steps,
                           sample_every=s.char_steps, sample_len=0, seed=seed)
    return {"bpc": float(res.bpc), "bigram_bpc": float(res.bigram_bpc), "seconds": float(res.seconds_per_step),
            "sha256": res.corpus.sha256}


# --------------------------------------------------------------------------- the whole run


def run(out_dir="runs/modern_cells", quick=None, verbose=True, settings=None):
    """Every cell on every task, ``len(seeds)`` seeds each, in this process; the table and plot into ``out_dir``.

    Returns
    -------
    dict
        ``settings``; ``parity`` {cell: {length: [accuracy per seed]}}; ``copy`` {cell: [accuracy per seed]};
        ``adding`` {cell: [test MSE per seed]}, ``adding_baseline``; ``char`` {cell: [bpc per seed]},
        ``char_bigram``, ``char_sha256``; ``ms_per_step`` {task: {cell: median over the seeds}}; ``params``
        {cell: number of parameters of the cell at the parity task's sizes}; ``elapsed_s``.
    """
    s = get_settings(quick) if settings is None else settings
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    from ..charlm import stdlib_corpus

    corpus = stdlib_corpus(s.char_chars)
    tasks = {"parity": train_parity, "copy": train_copy, "adding": train_adding,
             "char": lambda c, seed, s: train_char(c, seed, s, corpus)}
    jobs = [(task, c, seed) for task in tasks for seed in s.seeds for c in s.cells]
    if verbose:
        from tqdm import tqdm

        jobs_iter = tqdm(jobs, desc="modern cells", unit="run")
    else:
        jobs_iter = jobs
    r = {"settings": asdict(s), "parity": {c: {L: [] for L in s.parity_test_lengths} for c in s.cells},
         "copy": {c: [] for c in s.cells}, "adding": {c: [] for c in s.cells}, "char": {c: [] for c in s.cells},
         "ms_per_step": {t: {c: [] for c in s.cells} for t in tasks}, "parity_curves": {}}
    for task, c, seed in jobs_iter:
        if verbose:
            jobs_iter.set_postfix_str(f"{task} {c} seed {seed}")
        res = tasks[task](c, seed, s)
        r["ms_per_step"][task][c].append(1e3 * res["seconds"])
        if task == "parity":
            for L, acc in res["accuracy"].items():
                r["parity"][c][L].append(acc)
            if seed == s.seeds[0]:
                r["parity_curves"][c] = res["losses"]
        elif task == "copy":
            r["copy"][c].append(res["accuracy"])
        elif task == "adding":
            r["adding"][c].append(res["mse"])
        else:
            r["char"][c].append(res["bpc"])
            r["char_bigram"], r["char_sha256"] = res["bigram_bpc"], res["sha256"]
    r["ms_per_step"] = {t: {c: float(np.median(v)) for c, v in d.items()} for t, d in r["ms_per_step"].items()}
    _, y = adding_problem(s.adding_n_test, s.adding_length, np.random.default_rng(1_000_003 + s.adding_length))
    r["adding_baseline"] = float(np.mean((y - 1.0) ** 2))
    r["params"] = {c: sum(p.size for p in CELLS[c](2, s.hidden_size, rng=0).params.values()) for c in s.cells}
    r["elapsed_s"] = time.perf_counter() - start
    r["python"] = platform.python_version()
    (out / "modern_cells.md").write_text(format_results(r))
    (out / "modern_cells.json").write_text(json.dumps(r, indent=1, default=_to_json))
    plot_parity(r).savefig(out / "parity.png", dpi=110)
    return r


def _to_json(v):
    if isinstance(v, np.ndarray):
        return [round(float(a), 6) for a in v]
    if isinstance(v, np.generic):
        return v.item()
    raise TypeError(f"cannot write {type(v).__name__} as JSON")


def load_results(path):
    """Read a ``modern_cells.json`` written by ``run`` (lengths as int keys, curves as arrays)."""
    path = Path(path)
    r = json.loads((path / "modern_cells.json" if path.is_dir() else path).read_text())
    r["settings"] = {k: tuple(v) if isinstance(v, list) else v for k, v in r["settings"].items()}
    r["parity"] = {c: {int(L): a for L, a in d.items()} for c, d in r["parity"].items()}
    r["parity_curves"] = {c: np.asarray(v) for c, v in r["parity_curves"].items()}
    return r


def _mean_sd(values, digits):
    v = np.asarray(values, dtype=float)
    sd = f" ± {v.std(ddof=1):.{digits}f}" if v.size > 1 else ""
    return f"{v.mean():.{digits}f}{sd}"


def format_results(r):
    """The Markdown table: one row per cell, mean ± sample sd over the seeds."""
    s = r["settings"]
    lengths = s["parity_test_lengths"]
    L_in, L_out = lengths[0], lengths[-1]
    beyond = [L for L in lengths if L > s["parity_train_max"]]
    head = (f"| cell | params | parity, length {L_in} | parity, lengths {beyond[0]}-{L_out} (mean) "
            f"| selective copy (acc.) | adding T={s['adding_length']} (MSE) | char (bpc) "
            "| ms/step parity | ms/step copy | ms/step adding | ms/step char |")
    lines = [head, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for c in s["cells"]:
        per_seed_beyond = np.mean([r["parity"][c][L] for L in beyond], axis=0)
        ms = r["ms_per_step"]
        lines.append(
            f"| {c} | {r['params'][c]} | {_mean_sd(r['parity'][c][L_in], 3)} | {_mean_sd(per_seed_beyond, 3)} "
            f"| {_mean_sd(r['copy'][c], 3)} | {_mean_sd(r['adding'][c], 4)} | {_mean_sd(r['char'][c], 3)} "
            f"| {ms['parity'][c]:.1f} | {ms['copy'][c]:.1f} | {ms['adding'][c]:.1f} | {ms['char'][c]:.1f} |")
    lines += ["", f"Seeds {list(s['seeds'])}; H = {s['hidden_size']} (char model H = {s['char_hidden']}); params: the "
              f"cell's at D = 2 and H = {s['hidden_size']}; "
              f"predicting 1.0 on the adding problem gives MSE {r['adding_baseline']:.3f}; the bigram model "
              f"{r.get('char_bigram', float('nan')):.3f} bpc; chance: parity 0.5, copying {1 / s['copy_vocab']:.2f}. "
              f"{r['elapsed_s']:.0f} s in all."]
    return "\n".join(lines) + "\n"


def plot_parity(r):
    """Parity accuracy against test length, one line per cell (mean over the seeds, each seed a dot)."""
    import matplotlib.pyplot as plt

    s = r["settings"]
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    styles = [dict(marker="o", ms=10, mfc="none", ls="--"), dict(marker="o", ms=5), dict(marker="s", ms=5),
              dict(marker="^", ms=5)]  # hollow and dashed first, so that a cell on top of it leaves it visible
    for k, c in enumerate(s["cells"]):
        Ls = sorted(r["parity"][c])
        acc = np.array([r["parity"][c][L] for L in Ls])
        line, = ax.plot(Ls, acc.mean(axis=1), label=c, **styles[k % len(styles)])
        for seed in range(acc.shape[1]):
            ax.scatter(Ls, acc[:, seed], s=8, color=line.get_color(), alpha=0.4)
    ax.axvline(s["parity_train_max"], color="gray", ls=":", lw=1)
    ax.axhline(0.5, color="gray", ls="--", lw=1)
    ax.text(s["parity_train_max"], 0.32, " longest training string", fontsize=8, color="gray", va="bottom")
    ax.set(xlabel="test length (bits)", ylabel="accuracy (mean of the seeds; dots: each seed)", ylim=(0.3, 1.05),
           title=f"Parity: trained on lengths <= {s['parity_train_max']}")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def main(argv=None):
    """``python -m lstm_np.studies.modern_cells [--quick] [--out DIR] [--no-progress]``."""
    ap = argparse.ArgumentParser(prog="python -m lstm_np.studies.modern_cells", description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", default=None, help="the quick setting (a few seconds)")
    ap.add_argument("--out", default="runs/modern_cells", help="output folder (default runs/modern_cells)")
    ap.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = ap.parse_args(argv)
    r = run(args.out, quick=args.quick, verbose=not args.no_progress)
    print(format_results(r))
    print(f"wrote {Path(args.out) / 'modern_cells.md'}, modern_cells.json, parity.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
