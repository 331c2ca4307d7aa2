"""The studies' figures (matplotlib ``Figure`` objects, no pyplot state): adding problem, gradient flow, laboratory."""

from __future__ import annotations

import numpy as np

from .report import _lab_settings
from .settings import CELLS, Settings

__all__ = ["plot_adding", "plot_gradient_flow", "plot_lab"]


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
