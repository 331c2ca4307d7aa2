"""The laboratory: which parts of the cell matter (notebook 07).

Every variant of ``lstm_np.cells.variants`` on the adding problem, a
character-level language model and the MovieLens recommender, the same
seeds and budgets for each::

    lstm-np lab                     # about 13 minutes in one process
    lstm-np lab --quick             # a few seconds

writes ``lab.md``, ``lab.json`` and ``lab.png`` (default folder runs/lab/);
``run_lab`` from Python. The settings are ``settings.LabSettings``.
"""

from __future__ import annotations

import json
import os
import platform
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from ..sequence.variants import VariantLSTM
from .adding import _test_set, time_per_step, train_adding
from .plots import plot_lab
from .report import format_lab
from .settings import LAB_FULL, LAB_QUICK, get_lab_settings
from .workers import executor as _executor
from .workers import to_json as _to_json

__all__ = ["train_char", "train_recommender", "run_lab", "load_lab"]


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
    from ..charlm import train_char_model

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
    from ..recommender.hybrid import SequenceConfig

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
        from ..recommender import pipeline
        from ..recommender.protocol import fit_base, run_protocol

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
    from ..recommender.protocol import fit_sequence

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
