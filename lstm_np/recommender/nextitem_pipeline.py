"""The next-item job, as run by ``lstm-np train --task next-item``: data -> split -> protocol -> model, metrics, plot.

For each seed: the leave-one-out protocol for every baseline and the
recurrent model (``nextitem_protocol.run_next_item_protocol``), and the
same models' top-10 lists on the temporal split under its own protocol
(``temporal_top_n``); the two are independent jobs (``workers`` runs that
many at once). The
first seed's refitted recurrent model (the attentive one when
``config.attention`` is set, the plain one beside it in the table) is saved as a
``NextItemRecommender`` (with the popularity counts' histories and the
titles, so ``lstm-np recommend`` needs no data set); ``metrics.json`` holds
every seed's rows and the mean and sample standard deviation over seeds.
The folder is written as a unit (``io.run_folder``).
"""

from __future__ import annotations

import dataclasses
import json
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from .. import io
from ..data import VAL, checksum
from ..data.sequences import leave_one_out
from .nextitem import NextItemConfig
from .nextitem_model import NextItemRecommender
from .nextitem_protocol import run_next_item_protocol, temporal_top_n

__all__ = ["RUN_FILES", "QUICK", "run_next_item", "ranking_table", "markdown_table", "summarise_seeds", "MODEL_LABELS"]

RUN_FILES = ("model.npz", "model.json", "metrics.json", "training.png")

#: Labels of the rows, in the order printed.
MODEL_LABELS = {"popularity": "popularity", "itemknn": "item-kNN (cosine, shrunk)",
                "transition": "first-order transitions", "bprmf": "BPR-MF", "ease": "EASE", "lstm": "LSTM next-item",
                "lstm_attention": "LSTM + attention"}

#: A run of a few seconds (CI, the notebooks' quick mode): small grids, a few epochs.
QUICK = {"config": {"embed_dim": 16, "hidden_size": 16, "epochs": 3, "patience": 2},
         "grids": {"itemknn": {"k": (20,), "shrink": (10.0,)}, "transition": {"alpha": (1.0,)},
                   "bprmf": {"factors": (8,), "reg": (0.01,), "epochs": (3,)}, "ease": {"lam": (100.0,)}}}


def _one_job(args):
    """One seed's leave-one-out protocol, or its temporal-split lists (for worker processes: a function of its
    arguments)."""
    task, ratings, config, tie_break, grids, baselines, recurrent, progress = args

    def log(line):
        if progress:
            print(f"[seed {config.seed}, {task}] {line}", flush=True)

    if task == "temporal":
        return temporal_top_n(ratings, config, baselines=baselines, grids=grids, log=log, recurrent=recurrent)
    seqs = leave_one_out(ratings, tie_break=tie_break, seed=config.seed)
    rows, models = run_next_item_protocol(seqs, config, baselines=baselines, grids=grids, log=log, recurrent=recurrent,
                                          progress=progress)
    saved = "lstm_attention" if "lstm_attention" in models else "lstm"
    return rows, models[saved].net, seqs


def _mean_sd(values):
    a = np.asarray(values, dtype=np.float64)
    return float(a.mean()), (float(a.std(ddof=1)) if len(a) > 1 else 0.0)


def summarise_seeds(per_seed):
    """Mean and sample sd over seeds of every number in the rows: ``{name: {"test": {"removed": {m: [mean, sd]}}}}``."""
    out = {}
    for name in per_seed[0]["rows"]:
        out[name] = {}
        for part in ("val", "test"):
            out[name][part] = {}
            for setting in ("removed", "kept"):
                keys = [k for k in per_seed[0]["rows"][name][part][setting] if k != "n"]
                out[name][part][setting] = {k: _mean_sd([s["rows"][name][part][setting][k] for s in per_seed])
                                            for k in keys}
        if per_seed[0].get("temporal") is not None:
            out[name]["temporal"] = {k: _mean_sd([s["temporal"][name][k] for s in per_seed])
                                     for k in ("users_with_hit", "recall", "ndcg")}
    return out


def _label(name, cell, attention="none"):
    if name == "lstm":
        return f"{cell.upper()} next-item"
    if name == "lstm_attention":
        return f"{cell.upper()} + {attention} attention"
    return MODEL_LABELS.get(name, name)


def ranking_table(summary, n_seeds, cell="lstm", attention="none"):
    """The summary as plain text: test metrics with seen items removed and kept, the temporal split's top 10."""
    def f(pair):
        m, sd = pair
        return f"{m:.4f}" if n_seeds == 1 else f"{m:.4f}±{sd:.4f}"

    w = 26
    lines = [f"test, leave-one-out, full ranking{'' if n_seeds == 1 else f', mean±sd of {n_seeds} seeds'}",
             f"{'model':<{w}} {'HR@10':>15} {'NDCG@10':>15} {'MRR@10':>15} {'HR@10 kept':>15} {'NDCG@10 kept':>15} "
             f"{'temporal hit':>15}", "-" * (w + 96)]
    for name in sorted(summary, key=lambda n: list(MODEL_LABELS).index(n) if n in MODEL_LABELS else 99):
        s = summary[name]
        rem, kept = s["test"]["removed"], s["test"]["kept"]
        lines.append(f"{_label(name, cell, attention):<{w}} {f(rem['HR@10']):>15} {f(rem['NDCG@10']):>15} "
                     f"{f(rem['MRR@10']):>15} {f(kept['HR@10']):>15} {f(kept['NDCG@10']):>15} "
                     f"{f(s['temporal']['users_with_hit']) if 'temporal' in s else 'not run':>15}")
    lines.append("(HR/NDCG/MRR: seen items removed unless 'kept'; temporal hit: share of users with a test movie in the "
                 "top 10 on the temporal split)")
    return "\n".join(lines)


def run_next_item(data="movielens", config: NextItemConfig | None = None, out_dir="runs/next-item", *, seeds=(0,),
                  tie_break="item", quick=False, cache_dir=None, data_seed=0, workers=1, baselines=None, models=None,
                  temporal=True, log=print,
                  progress=True, plot=True):
    """Run the next-item protocol for each seed and write the run folder.

    Parameters
    ----------
    config : NextItemConfig
        Its ``seed`` is replaced by each of ``seeds``.
    seeds : sequence of int >= 0
    tie_break : "item" or "random"
        Order of equal timestamps (``data.sequences``); "random" draws it from each seed.
    quick : bool
        Small grids (``QUICK["grids"]``): seconds, for CI; with no ``config``,
        also ``QUICK["config"]`` (small sizes, a few epochs). A given
        ``config`` is used as it is.
    workers : int
        Jobs (a seed's leave-one-out protocol, a seed's temporal lists) run in this many processes at once.
    models : sequence of str, optional
        Run only these: names of ``ranking_baselines.MODELS``, "lstm" and (with ``config.attention``)
        "lstm_attention"; at least one recurrent model (the one saved). Default: all. Overrides ``baselines``.
    temporal : bool
        Also the temporal split's top-10 lists (as many jobs again as the leave-one-out protocol).

    Returns
    -------
    metrics : dict
        Also written to ``out_dir/metrics.json``.
    """
    from .pipeline import load_data

    config = config or NextItemConfig(**(QUICK["config"] if quick else {}))
    seeds = list(seeds)
    if not seeds or any(isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 0 for s in seeds):
        raise ValueError(f"seeds must be integers >= 0, at least one; got {seeds!r}")
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be different; got {seeds!r}")
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a positive integer; got {workers!r}")
    grids = None
    if quick:
        grids = QUICK["grids"]
    recurrent = None
    if models is not None:
        from . import ranking_baselines as rb
        from .nextitem_protocol import recurrent_models

        models = list(models)
        known = list(rb.MODELS) + list(recurrent_models(config))
        unknown = [m for m in models if m not in known]
        if unknown or not models:
            raise ValueError(f"models must be names among {known}; got {models!r}")
        recurrent = [m for m in models if m in ("lstm", "lstm_attention")]
        if not recurrent:
            raise ValueError("models must include lstm or lstm_attention: the run saves a recurrent model")
        baselines = [m for m in models if m in rb.MODELS]
    out = Path(out_dir)
    io.check_writable_dir(out, name="out", replaceable=RUN_FILES)  # before any work
    ratings, data_meta = load_data(data, cache_dir=cache_dir, seed=data_seed, log=log)
    say = log or (lambda *_: None)
    say(f"{data}: {len(ratings):,} interactions; leave-one-out (ties in time broken by {tie_break}); "
        f"seeds {seeds}")
    start = time.perf_counter()
    jobs = [(task, ratings, config.replace(seed=s), tie_break, grids, baselines, recurrent,
             progress and log is not None)
            for s in seeds for task in (("loo", "temporal") if temporal else ("loo",))]
    if workers > 1:
        with ProcessPoolExecutor(max_workers=min(workers, len(jobs))) as pool:
            results = list(pool.map(_one_job, jobs))
    else:
        results = [_one_job(job) for job in jobs]
    seconds = time.perf_counter() - start
    per_job = 2 if temporal else 1
    per_seed = [{"seed": s, "rows": results[per_job * k][0], "temporal": results[per_job * k + 1] if temporal else None}
                for k, s in enumerate(seeds)]
    summary = summarise_seeds(per_seed)
    _, net, seqs = results[0]
    metrics = {"task": "next-item", "data": data_meta, "tie_break": tie_break, "seeds": seeds, "quick": bool(quick),
               "config": dataclasses.asdict(config), "seconds": round(seconds, 1), "summary": summary,
               "per_seed": per_seed}
    model = NextItemRecommender.from_sequences(
        net, seqs, VAL, ratings.titles,
        meta={"metrics": {"seed": seeds[0],  # the saved model is the first seed's: its own numbers, not the mean
                          "test_HR@10": {k: v["test"]["removed"]["HR@10"] for k, v in per_seed[0]["rows"].items()}}})
    data_info = {**data_meta, "sha256": checksum(ratings), "split": "leave-one-out", "tie_break": tie_break,
                 "tie_seed": int(seeds[0])}
    with io.run_folder(out, replaceable=RUN_FILES) as stage:
        model.save(stage / "model", data_info)
        io.atomic_write_bytes(stage / "metrics.json", json.dumps(metrics, indent=2).encode())
        if plot:
            from .plots import next_item_figure

            next_item_figure(per_seed, stage / "training.png")
    say(ranking_table(summary, len(seeds), config.cell, config.attention))
    say(f"{seconds:.0f} s in all")
    return metrics


def markdown_table(metrics, temporal=True):
    """``metrics.json`` of ``run_next_item`` as the README's Markdown table (test; mean ± sd over the seeds).

    ``temporal=False`` leaves out the temporal split's column (as does a run without the temporal lists)."""
    temporal = temporal and metrics["per_seed"][0].get("temporal") is not None
    summary, n = metrics["summary"], len(metrics["seeds"])

    def f(pair, digits=3):
        m, sd = pair
        return f"{m:.{digits}f}" if n == 1 else f"{m:.{digits}f} ± {sd:.{digits}f}"

    lines = ["| model | HR@5 | HR@10 | HR@20 | NDCG@10 | MRR@10 | HR@10, seen kept | NDCG@10, seen kept | "
             "MRR@10, seen kept |" + (" temporal split: users with a hit in the top 10 |" if temporal else ""),
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|" + ("---:|" if temporal else "")]
    for name in sorted(summary, key=lambda k: list(MODEL_LABELS).index(k) if k in MODEL_LABELS else 99):
        s = summary[name]
        rem, kept = s["test"]["removed"], s["test"]["kept"]
        label = _label(name, metrics["config"]["cell"], metrics["config"].get("attention", "none"))
        lines.append(f"| {label} | {f(rem['HR@5'])} | {f(rem['HR@10'])} | {f(rem['HR@20'])} | {f(rem['NDCG@10'])} | "
                     f"{f(rem['MRR@10'])} | {f(kept['HR@10'])} | {f(kept['NDCG@10'])} | {f(kept['MRR@10'])} |"
                     + (f" {f(s['temporal']['users_with_hit'])} |" if temporal else ""))
    return "\n".join(lines)
