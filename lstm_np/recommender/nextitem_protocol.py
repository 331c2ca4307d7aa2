"""The next-item protocol, in one place: leave-one-out, full ranking, choose on validation, refit, score test once.

**Task.** Every rating is an interaction. For each user, in time order
(timestamp, then item id; ``data.sequences``), the last interaction is test,
the one before it validation, the rest train (leave-one-out).

**Metrics.** The model scores every item; the target's rank counts every
other item scoring at least as high (ties against the model, ``ranking.py``);
HR, NDCG and MRR at K = 5, 10, 20, averaged over users. Two settings:

* ``removed`` (the headline): the items already in the user's history are
  removed from the ranking. Nobody rates a movie twice in MovieLens, so a
  model that recommends a seen movie is simply wrong.
* ``kept``: nothing is removed (RecBole's default), so that published
  numbers can be compared.

**Protocol**, for every model:

1. **Choose** its settings (and epochs) on validation: fit on train, score
   the validation item from the train history; the best NDCG@10 (seen items
   removed) wins.
2. **Refit** with those choices on train + validation.
3. **Score test once**, from the train + validation history.

No test interaction is ever an input while choosing (``tests`` change every
test item and check that no validation score moves), and the refit reads
the test item only as the thing to rank.

**The temporal split** (``temporal_top_n``): the rating task's split (each
user's last 10 % test, the 10 % before validation), scored as top-N lists
under its own protocol: every model chosen on that split's validation
movies, refitted on its train + validation, and its 10 highest-scored
unseen movies judged once against all the user's test movies. (Choosing
there with the leave-one-out choices would not do: every leave-one-out
validation movie is a temporal test movie.)
"""

from __future__ import annotations

import time

import numpy as np

from ..data import TEST, TRAIN, VAL, Ratings, temporal_split
from ..data.sequences import Sequences, sequences_from_split
from .attentive import make_net
from .nextitem import NextItemConfig, next_item_validation, train_next_item
from .ranking import exclusion_mask, ranking_metrics, target_ranks, top_n_metrics

__all__ = ["SETTINGS", "SELECT", "evaluate", "choose_and_refit", "fit_lstm", "recurrent_models", "run_next_item_protocol",
           "temporal_top_n", "LSTMScorer"]

#: The two ranking settings: are the items of the user's history removed from the ranking?
SETTINGS = {"removed": True, "kept": False}
#: The validation metric every choice maximises.
SELECT = "NDCG@10"


def _history_part(part):
    return {VAL: TRAIN, TEST: VAL}[part]


def evaluate(score, seqs: Sequences, part):
    """Rank the ``part`` (VAL or TEST) interaction of every user after the history before it.

    Parameters
    ----------
    score : callable
        ``score(users (n,), histories list of n arrays) -> (n, I)`` scores.
    seqs : Sequences
    part : VAL or TEST

    Returns
    -------
    dict
        ``{"removed": metrics, "kept": metrics}`` (``ranking.ranking_metrics``).
    """
    hist = seqs.histories(_history_part(part))
    users, targets = seqs.targets(part)
    histories = [hist[u] for u in users]
    scores = np.asarray(score(users, histories), dtype=np.float64)
    exclude = exclusion_mask(histories, seqs.num_items)
    return {"removed": ranking_metrics(target_ranks(scores, targets, exclude)),
            "kept": ranking_metrics(target_ranks(scores, targets))}


def _validation_callback(seqs):
    """``val(model) -> NDCG@10`` (seen removed) for the iterative baselines' early stopping."""
    return lambda model: evaluate(model.score, seqs, VAL)["removed"][SELECT]


def choose_and_refit(name, seqs: Sequences, *, grid=None, seed=0, log=None):
    """The protocol for one baseline of ``ranking_baselines``: every grid point on validation, refit, test.

    Returns
    -------
    row : dict
        ``choice`` (the setting, with ``epochs`` for iterative models),
        ``val`` and ``test`` (``evaluate``'s dicts), ``seconds``, ``grid``
        (each point's validation NDCG@10).
    model
        Refitted on train + validation.
    """
    from . import ranking_baselines as rb

    t0 = time.perf_counter()
    grid = rb.GRIDS[name] if grid is None else grid
    val_cb = _validation_callback(seqs)
    tried, best = [], None
    for point in rb.grid_points(grid):
        model = rb.make(name, seqs.num_items, **point).fit(seqs, TRAIN, rng=seed, val=val_cb)
        metrics = evaluate(model.score, seqs, VAL)
        choice = dict(point) if model.epochs_ is None else {**point, "epochs": int(model.epochs_)}
        tried.append({"setting": choice, SELECT: metrics["removed"][SELECT]})
        if best is None or metrics["removed"][SELECT] > best[1]["removed"][SELECT]:
            best = (choice, metrics)
    choice, val_metrics = best
    refit = rb.make(name, seqs.num_items, **choice).fit(seqs, VAL, rng=seed)
    test_metrics = evaluate(refit.score, seqs, TEST)
    seconds = time.perf_counter() - t0
    if log:
        log(f"{name}: {choice or 'no settings'} chosen on validation (NDCG@10 {val_metrics['removed'][SELECT]:.4f}); "
            f"test HR@10 {test_metrics['removed']['HR@10']:.4f} ({seconds:.1f} s)")
    return {"choice": choice, "val": val_metrics, "test": test_metrics, "seconds": round(seconds, 2),
            "grid": tried}, refit


class LSTMScorer:
    """A ``NextItemNet`` behind the baselines' ``score(users, histories)`` interface."""

    def __init__(self, net):
        self.net = net

    def score(self, users, histories):
        return self.net.score(histories)


def _choice(epochs, config):
    """What a recurrent model's row records as chosen: the epochs, the cell and, for an attentive model, its score."""
    return {"epochs": epochs, "cell": config.cell,
            **({} if config.attention == "none" else {"attention": config.attention})}


def fit_lstm(seqs: Sequences, config: NextItemConfig, *, make_layer=None, log=None):
    """The protocol for the recurrent next-item model: epochs chosen on validation, refit, test.

    Both fits start from the same seeded parameters (``config.seed``).

    Returns
    -------
    row : dict
        ``choice`` (``epochs``, ``cell``), ``val``, ``test``, ``seconds``,
        ``history`` (per epoch of choosing: loss and validation metrics).
    net : NextItemNet
        Refitted on train + validation for the chosen number of epochs.
    """
    t0 = time.perf_counter()
    hist = seqs.histories(TRAIN)
    users, targets = seqs.targets(VAL)
    val_hist = [hist[u] for u in users]
    net = make_net(seqs.num_items, config, make_layer=make_layer)
    fit = train_next_item(net, hist, epochs=config.epochs,
                          val=next_item_validation(val_hist, targets, exclusion_mask(val_hist, seqs.num_items)),
                          log=log)
    val_metrics = evaluate(LSTMScorer(net).score, seqs, VAL)
    epochs = int(fit.best_epoch)
    refit = make_net(seqs.num_items, config, make_layer=make_layer)
    if epochs > 0:
        train_next_item(refit, seqs.histories(VAL), epochs=epochs)
    test_metrics = evaluate(LSTMScorer(refit).score, seqs, TEST)
    seconds = time.perf_counter() - t0
    history = [{k: (round(v, 6) if isinstance(v, float) else v) for k, v in row.items()} for row in fit.history]
    return {"choice": _choice(epochs, config), "val": val_metrics, "test": test_metrics,
            "seconds": round(seconds, 2), "history": history}, refit


def recurrent_models(config: NextItemConfig, names=None):
    """The recurrent models a run fits: ``{"lstm": the plain model}``, and with ``config.attention`` set also
    ``{"lstm_attention": config}`` (the plain one is then ``config`` without attention, for comparison).

    ``names`` (optional) keeps only those; a name that ``config`` does not give is a ``ValueError``."""
    models = {"lstm": config} if config.attention == "none" else {"lstm": config.replace(attention="none"),
                                                                   "lstm_attention": config}
    if names is None:
        return models
    unknown = sorted(set(names) - set(models))
    if unknown:
        raise ValueError(f"recurrent model(s) {unknown} not available with these settings (available: "
                         f"{sorted(models)}; lstm_attention needs attention 'dot' or 'additive')")
    return {k: v for k, v in models.items() if k in names}


def run_next_item_protocol(seqs: Sequences, config: NextItemConfig | None = None, *, baselines=None, grids=None,
                           lstm=True, recurrent=None, make_layer=None, log=print, progress=True):
    """Every baseline and the recurrent model(s) under the protocol, on one leave-one-out split.

    Parameters
    ----------
    seqs : Sequences
        From ``data.sequences.leave_one_out``.
    config : NextItemConfig
        The recurrent model's settings; its seed also seeds BPR-MF. With
        ``config.attention`` set, the plain model and the attentive one are
        both fitted (``recurrent_models``).
    baselines : sequence of str, optional
        Names in ``ranking_baselines.MODELS`` (default: all).
    grids : dict, optional
        ``{name: grid}`` replacing ``ranking_baselines.GRIDS`` entries (a quick run uses small ones).
    lstm : bool
        Also fit the recurrent model(s).
    recurrent : sequence of str, optional
        Only these of ``recurrent_models(config)`` ("lstm", "lstm_attention"; default both where given).
    log : callable or None
    progress : bool
        A line per epoch of the recurrent model's choosing.

    Returns
    -------
    rows : dict of name -> row (``choose_and_refit`` / ``fit_lstm``)
    models : dict of name -> refitted model (``score(users, histories)``)
    """
    from . import ranking_baselines as rb

    config = config or NextItemConfig()
    say = log or (lambda *_: None)
    rows, models = {}, {}
    for name in (rb.MODELS if baselines is None else baselines):
        rows[name], models[name] = choose_and_refit(name, seqs, grid=(grids or {}).get(name), seed=config.seed,
                                                    log=say)
    for name, cfg in (recurrent_models(config, recurrent).items() if lstm else ()):
        label = cfg.cell + ("" if cfg.attention == "none" else f" + {cfg.attention} attention")
        say(f"{label} next-item model: choosing the epoch count on validation")
        rows[name], net = fit_lstm(seqs, cfg, make_layer=make_layer, log=say if progress else None)
        models[name] = LSTMScorer(net)
        say(f"{label}: {rows[name]['choice']['epochs']} epochs chosen on validation (NDCG@10 "
            f"{rows[name]['val']['removed'][SELECT]:.4f}); test HR@10 {rows[name]['test']['removed']['HR@10']:.4f} "
            f"({rows[name]['seconds']:.1f} s)")
    return rows, models


def _top_n_validation(histories, relevant, exclude, n):
    """``val(scores) -> {"NDCG@10": ...}``-style metrics of top-``n`` lists against the relevant sets."""
    def metrics(scores):
        m = top_n_metrics(scores, relevant, n=n, exclude=exclude)
        return {f"NDCG@{n}": m["ndcg"], f"HR@{n}": m["users_with_hit"], f"recall@{n}": m["recall"]}

    return metrics


def temporal_top_n(ratings: Ratings, config: NextItemConfig, *, baselines=None, grids=None, n=10, make_layer=None,
                   log=None, recurrent=None):
    """Top-``n`` lists on the rating task's temporal split, under that split's own protocol.

    The split of ``temporal_split`` (each user's last 10 % test, the 10 %
    before them validation). For every model: **choose** its settings (the
    baselines' grids; the recurrent model's epoch count) by the NDCG@``n``
    of its top-``n`` unseen movies after the train history, judged against
    the user's validation movies; **refit** on train + validation; **score
    test once**: the ``n`` movies it scores highest among those the user has
    not seen in train + validation, judged against all of the user's test
    movies (``ranking.top_n_metrics``). The recurrent models are those of
    ``recurrent_models(config)``, each with its architecture as given.

    Returns
    -------
    dict of name -> {"users_with_hit", "recall", "ndcg", "n", "choice"}
    """
    from . import ranking_baselines as rb

    seqs = sequences_from_split(ratings, temporal_split(ratings))
    users = np.arange(seqs.num_users)

    def lists(upto, part):
        hist = seqs.histories(upto)
        relevant = np.zeros((seqs.num_users, seqs.num_items), bool)
        tu, ti = seqs.targets(part)
        relevant[tu, ti] = True
        return hist, relevant, exclusion_mask(hist, seqs.num_items)

    (h_tr, rel_val, ex_tr), (h_tv, rel_test, ex_tv) = lists(TRAIN, VAL), lists(VAL, TEST)
    val_metrics = _top_n_validation(h_tr, rel_val, ex_tr, n)
    key = f"NDCG@{n}"
    out = {}
    for name in (rb.MODELS if baselines is None else baselines):
        t0 = time.perf_counter()
        best = None
        for point in rb.grid_points(rb.GRIDS[name] if (grids or {}).get(name) is None else grids[name]):
            model = rb.make(name, seqs.num_items, **point).fit(
                seqs, TRAIN, rng=config.seed, val=lambda m: val_metrics(m.score(users, h_tr))[key])
            score = val_metrics(model.score(users, h_tr))[key]
            choice = dict(point) if model.epochs_ is None else {**point, "epochs": int(model.epochs_)}
            if best is None or score > best[1]:
                best = (choice, score)
        refit = rb.make(name, seqs.num_items, **best[0]).fit(seqs, VAL, rng=config.seed)
        out[name] = {**top_n_metrics(refit.score(users, h_tv), rel_test, n=n, exclude=ex_tv), "choice": best[0]}
        if log:
            log(f"temporal split, {name}: {best[0] or 'no settings'} chosen on its validation; users with a hit in "
                f"the top {n} {out[name]['users_with_hit']:.3f} ({time.perf_counter() - t0:.1f} s)")
    for name, cfg in recurrent_models(config, recurrent).items():
        t0 = time.perf_counter()
        net = make_net(seqs.num_items, cfg, make_layer=make_layer)
        fit = train_next_item(net, h_tr, epochs=cfg.epochs, val=lambda m: val_metrics(m.score(h_tr)), select=key)
        refit = make_net(seqs.num_items, cfg, make_layer=make_layer)
        if fit.best_epoch > 0:
            train_next_item(refit, h_tv, epochs=fit.best_epoch)
        out[name] = {**top_n_metrics(refit.score(h_tv), rel_test, n=n, exclude=ex_tv),
                     "choice": _choice(int(fit.best_epoch), cfg)}
        if log:
            log(f"temporal split, {name}: {fit.best_epoch} epochs chosen on its validation; users with a hit in "
                f"the top {n} {out[name]['users_with_hit']:.3f} ({time.perf_counter() - t0:.1f} s)")
    return out
