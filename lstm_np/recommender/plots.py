"""The training figure: learning curves, and predicted against true test ratings."""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["training_figure", "next_item_figure"]


def training_figure(metrics, pred, target, path=None):
    """Two panels: RMSE per epoch, and the spread of predictions for each true rating.

    Parameters
    ----------
    metrics : dict
        As written by ``pipeline.run`` (uses ``history``, ``rows``, ``best_epoch``, ``sequence``).
    pred, target : (N,) ndarray
        Test predictions and true ratings.
    path : path-like, optional
        Where to save a PNG; the figure is returned either way.
    """
    import matplotlib

    if path is not None:
        matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    hist = [h for h in metrics["history"] if h["train_mse"] is not None]
    epochs = [h["epoch"] for h in hist]
    cell = metrics["sequence"]["cell"].upper()
    ax1.plot(epochs, [np.sqrt(h["train_mse"]) for h in hist], "o-", label=f"{cell}, training cuts")
    ax1.plot([h["epoch"] for h in metrics["history"]], [h["val_rmse"] for h in metrics["history"]], "o-",
             label=f"{cell}, validation")
    ax1.axhline(metrics["rows"]["mf"]["val"]["rmse"], color="gray", ls="--", label="MF, validation")
    ax1.axvline(metrics["best_epoch"], color="k", lw=0.8, ls=":", label=f"best epoch ({metrics['best_epoch']})")
    ax1.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    ax1.set_xlabel("epoch")
    ax1.set_ylabel("RMSE")
    ax1.set_title("Learning curves")
    ax1.legend(fontsize=8)

    levels = np.arange(1, 6)
    groups = [pred[target == r] for r in levels]
    keep = [k for k, g in enumerate(groups) if len(g)]
    ax2.boxplot([groups[k] for k in keep], positions=levels[keep], widths=0.5, showfliers=False)
    ax2.plot(levels, levels, "k--", lw=0.8, label="perfect")
    ax2.set_xlabel("true rating")
    ax2.set_ylabel("predicted rating")
    ax2.set_title(f"Test predictions, refitted model (RMSE {metrics['rows']['sequence']['test']['rmse']:.3f})")
    ax2.set_ylim(0.8, 5.2)
    ax2.legend(fontsize=8)
    fig.tight_layout()
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=110)
        plt.close(fig)
    return fig


def next_item_figure(per_seed, path=None):
    """Two panels: the next-item models' training loss and validation NDCG@10 per epoch, one line per seed
    (dashed: the model with attention, when the run has one), with the baselines' validation NDCG@10 as
    horizontal lines.

    Parameters
    ----------
    per_seed : list of dict
        ``metrics["per_seed"]`` as written by ``nextitem_pipeline.run_next_item``.
    path : path-like, optional
        Where to save a PNG; the figure is returned either way.
    """
    import matplotlib

    if path is not None:
        matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, (ax_loss, ax_val) = plt.subplots(1, 2, figsize=(10, 3.6))
    recurrent = [n for n in ("lstm", "lstm_attention") if n in per_seed[0]["rows"]]
    labels = {"lstm": "LSTM", "lstm_attention": "LSTM + attention"}
    for m, name in enumerate(recurrent):
        ls = "-" if m == 0 else "--"
        for k, run in enumerate(per_seed):
            hist = run["rows"][name]["history"]
            epochs = [h["epoch"] for h in hist if h["loss"] is not None]
            ax_loss.plot(epochs, [h["loss"] for h in hist if h["loss"] is not None], marker=".", ls=ls, color=f"C{k}",
                         label=f"{labels[name]}, seed {run['seed']}")
            ax_val.plot([h["epoch"] for h in hist], [h["NDCG@10"] for h in hist], marker=".", ls=ls, color=f"C{k}",
                        label=f"{labels[name]}, seed {run['seed']}")
            ax_val.axvline(run["rows"][name]["choice"]["epochs"], color="grey", lw=0.6, ls=":")
    for k, name in enumerate(n for n in per_seed[0]["rows"] if n not in recurrent):
        ax_val.axhline(per_seed[0]["rows"][name]["val"]["removed"]["NDCG@10"], color=f"C{k + 3}", lw=1, ls="-.",
                       label=name)
    ax_loss.set(xlabel="epoch", ylabel="training cross-entropy (nats)", title="training loss")
    ax_val.set(xlabel="epoch", ylabel="validation NDCG@10 (seen removed)",
               title="validation (dotted: the epoch chosen)")
    ax_loss.legend(fontsize=8)
    ax_val.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    if path is not None:
        fig.savefig(Path(path), dpi=110)
        plt.close(fig)
    return fig
