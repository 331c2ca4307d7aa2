"""The studies' Markdown tables: ``format_results`` (RNN/GRU/LSTM) and ``format_lab`` (the laboratory)."""

from __future__ import annotations

import dataclasses

import numpy as np

from ..cells.variants import VARIANTS
from .settings import CELLS, LabSettings, Settings

__all__ = ["format_results", "format_lab"]


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
