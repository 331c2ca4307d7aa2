"""The standard temporal protocol, in one place: choose on validation, refit on train + validation, score test once.

For every model reported (global mean, bias model, matrix factorisation, and
the base + recurrent correction of ``hybrid.py``):

1. **Choose** its settings on validation: everything is fitted on the
   training part only and scored on validation (the bias model's lam; MF's
   factors, learning rate, lam, lam_b and epoch count; the sequence model's
   epoch count). That score is the row's *validation* RMSE / MAE.
2. **Refit** with those choices on train + validation (validation items are
   then known, as they would be when the test ratings are asked for).
3. **Score test once.** That score is the row's *test* RMSE / MAE.

A test rating is never an input to any fit or any prediction; only the
identities and times of the test ratings are used (which movie, when), as a
recommender asked for a prediction would know them.
``tests/test_protocol.py::test_test_ratings_never_enter_the_protocol``
changes every test rating and checks that no prediction moves.

The sequence model's prefix levels (``hybrid.Histories.ends``): level 1 is
train + validation, level 2 train, deeper levels end one stretch earlier.
Choosing uses cuts at levels 3 .. 2 + cuts and scores validation from level 2;
the refit uses cuts at levels 2 .. 1 + cuts and scores test from level 1.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from ..data import Ratings, temporal_split
from .baselines import BiasModel, fit_bias_model, mae, rmse
from .hybrid import CorrectionNet, Histories, SequenceConfig, build_histories, make_cutset, predict_cuts, \
    train_corrector
from .mf import MF_GRID, MatrixFactorization, fit_mf

__all__ = ["BASES", "ProtocolResult", "SequenceFit", "run_protocol", "fit_sequence", "fit_base", "scores",
           "ROW_LABELS"]

#: The bases the sequence model can correct.
BASES = ("mf", "bias", "mean")

ROW_LABELS = {"global_mean": "global mean", "bias": "bias model", "mf": "matrix factorisation", "sequence": "sequence"}


def scores(pred, target):
    """RMSE, MAE (of predictions clipped to [1, 5]) and count."""
    return {"rmse": rmse(pred, target), "mae": mae(pred, target), "n": int(len(target))}


@dataclass
class ProtocolResult:
    """What ``run_protocol`` chose, refitted and measured.

    Attributes
    ----------
    rows : dict of name -> {"val": scores, "test": scores, "choice": dict}
        ``global_mean``, ``bias``, ``mf``, and ``sequence`` (when trained).
    histories : hybrid.Histories
    base : MatrixFactorization
        The sequence model's base refitted on train + validation (F = 0 for
        the bias and mean bases).
    net : hybrid.CorrectionNet or None
        The correction net refitted on train + validation.
    test_predictions : dict of name -> (rows, pred)
        Every model's test predictions, by row of the original ``Ratings``.
    history : list
        Per-epoch log of choosing the sequence model's epoch count.
    """

    rows: dict
    histories: Histories
    base: MatrixFactorization
    net: CorrectionNet | None
    config: SequenceConfig
    base_kind: str
    test_predictions: dict = field(default_factory=dict)
    history: list = field(default_factory=list)
    seconds: dict = field(default_factory=dict)


def _bias_as_mf(bias: BiasModel, h: Histories):
    """A BiasModel as MatrixFactorization tables over the indices of ``h`` (F = 0)."""
    m = MatrixFactorization(h.num_users, h.num_items, 0, mu=bias.mu)
    m.params["b_user"][:] = bias.predict(h.user_ids, np.full(h.num_users, -1)) - bias.mu
    m.params["b_item"][:] = bias.predict(np.full(h.num_items, -1), h.item_ids) - bias.mu
    return m


def fit_base(kind, h: Histories, level, choice, seed=0):
    """The base of kind ``kind`` fitted on prefix level ``level`` of ``h`` with the chosen settings.

    Returns a MatrixFactorization (F = 0 for "bias" and "mean").
    """
    k = h.known(level)
    u, i, r = h.user[k], h.item[k], h.rating[k]
    if kind == "mf":
        m = MatrixFactorization(h.num_users, h.num_items, choice["factors"], rng=seed)
        m.fit(u, i, r, epochs=choice["epochs"], lr=choice["lr"], reg=choice["reg"], reg_bias=choice["reg_bias"],
              rng=seed)
        return m
    if kind == "bias":
        return _bias_as_mf(BiasModel(h.user_ids[u], h.item_ids[i], r, reg=choice["reg"]), h)
    if kind == "mean":
        return MatrixFactorization(h.num_users, h.num_items, 0, mu=float(r.mean()))
    raise ValueError(f"base must be one of {BASES}; got {kind!r}")


def run_protocol(ratings: Ratings, config: SequenceConfig | None = None, *, base="mf", mf_grid=None,
                 sequence=True, log=print, progress=True):
    """Choose on validation, refit on train + validation, score test once, for every model.

    Parameters
    ----------
    ratings : Ratings
        Split in time by ``temporal_split`` (10 % / 10 %).
    config : SequenceConfig
        The sequence model's settings (its ``seed`` also seeds MF).
    base : "mf", "bias" or "mean"
        What the sequence model corrects.
    mf_grid : dict, optional
        MF's search grid (``mf.MF_GRID`` by default).
    sequence : bool
        Train the sequence model (False: the baselines only).
    log : callable or None
    progress : bool
        Also log a line per epoch while the sequence model's epoch count is chosen.

    Returns
    -------
    ProtocolResult
    """
    if not isinstance(ratings, Ratings):
        raise TypeError(f"ratings must be a lstm_np.data.Ratings; got {type(ratings).__name__}")
    if config is not None and not isinstance(config, SequenceConfig):
        raise TypeError(f"config must be a SequenceConfig or None; got {type(config).__name__}")
    if log is not None and not callable(log):
        raise TypeError(f"log must be callable or None; got {type(log).__name__}")
    config = config or SequenceConfig()
    if base not in BASES:
        raise ValueError(f"base must be one of {BASES}; got {base!r}")
    log = log or (lambda *_: None)
    split = temporal_split(ratings)
    h = build_histories(ratings, split)
    seed = config.seed
    rows, preds, seconds = {}, {}, {}
    train_, trval = h.known(2), h.known(1)
    val_, test_ = trval & ~train_, ~trval
    U, I = h.num_users, h.num_items

    def ui(mask):
        return h.user[mask], h.item[mask], h.rating[mask]

    def raw(mask):
        return h.user_ids[h.user[mask]], h.item_ids[h.item[mask]], h.rating[mask]

    # global mean
    mu_train, mu_trval = h.rating[train_].mean(), h.rating[trval].mean()
    rows["global_mean"] = {"val": scores(np.full(val_.sum(), mu_train), h.rating[val_]),
                           "test": scores(np.full(test_.sum(), mu_trval), h.rating[test_]), "choice": {}}
    preds["global_mean"] = np.full(test_.sum(), mu_trval)

    # bias model: lam on validation, refit on train + validation
    bias_val, _ = fit_bias_model(raw(train_), raw(val_))
    bias = BiasModel(*raw(trval), reg=bias_val.reg)
    u, i, _ = raw(val_)
    rows["bias"] = {"val": scores(bias_val.predict(u, i), h.rating[val_]), "choice": {"reg": bias_val.reg}}
    u, i, _ = raw(test_)
    preds["bias"] = bias.predict(u, i)
    rows["bias"]["test"] = scores(preds["bias"], h.rating[test_])
    log(f"bias model: lam = {bias_val.reg:g} chosen on validation")

    # matrix factorisation: factors, lr, lam, lam_b, epochs on validation, refit on train + validation
    t = time.perf_counter()
    choice, _ = fit_mf(U, I, ui(train_), ui(val_), grid=mf_grid or MF_GRID, seed=seed)
    bases = {2: fit_base("mf", h, 2, choice, seed), 1: fit_base("mf", h, 1, choice, seed)}
    rows["mf"] = {"val": scores(bases[2].predict(*ui(val_)[:2]), h.rating[val_]), "choice": choice}
    preds["mf"] = bases[1].predict(*ui(test_)[:2])
    rows["mf"]["test"] = scores(preds["mf"], h.rating[test_])
    seconds["mf"] = time.perf_counter() - t
    log(f"matrix factorisation: F = {choice['factors']}, lr = {choice['lr']:g}, lam = {choice['reg']:g}, "
        f"lam_b = {choice['reg_bias']:g}, {choice['epochs']} epochs chosen on validation ({seconds['mf']:.1f} s)")

    result = ProtocolResult(rows, h, bases[1], None, config, base, seconds=seconds)
    if sequence:
        t = time.perf_counter()
        levels = range(1, 3 + config.cuts)
        base_choice = {"mf": choice, "bias": {"reg": bias_val.reg}, "mean": {}}[base]
        models = {lv: bases[lv] if base == "mf" and lv in bases else fit_base(base, h, lv, base_choice, seed)
                  for lv in levels}
        log(f"{config.cell.upper()} correction of the {base} base: choosing the epoch count on validation")
        fit = fit_sequence(h, models, config, log=log if progress else None)
        log(f"refit on train + validation: {fit.epochs} epochs")
        rows["sequence"] = {"val": fit.val, "test": fit.test,
                            "choice": {"epochs": fit.epochs, "cell": config.cell, "base": base}}
        # in the order of the other models' predictions (h's order of the test ratings)
        by_row = np.full(len(ratings), np.nan)
        by_row[fit.test_rows] = fit.test_pred
        preds["sequence"] = by_row[h.row[test_]]
        seconds["sequence"] = time.perf_counter() - t
        result.base, result.net, result.history = models[1], fit.net, fit.history
    result.test_predictions = {k: (h.row[test_], v) for k, v in preds.items()}
    return result


@dataclass
class SequenceFit:
    """What ``fit_sequence`` chose and measured.

    Attributes
    ----------
    epochs : int
        The epoch count chosen on validation (0: no epoch beat the untrained
        net, which predicts the base exactly).
    val, test : dict
        ``scores`` of the chosen net on validation (cuts at level 2) and of
        the refitted net on test (cuts at level 1).
    net : hybrid.CorrectionNet
        The net refitted on train + validation.
    history : list
        Per-epoch log of choosing the epoch count.
    test_rows, test_pred : (N_test,) arrays
        The test predictions, by row of the original ``Ratings``.
    """

    epochs: int
    val: dict
    test: dict
    net: CorrectionNet
    history: list
    test_rows: np.ndarray
    test_pred: np.ndarray


def fit_sequence(h: Histories, models, config: SequenceConfig, *, make_layer=None, log=None):
    """The sequence model's part of the protocol, given the bases: choose the epoch count, refit, score test.

    Parameters
    ----------
    h : hybrid.Histories
    models : dict of level -> MatrixFactorization
        The base fitted on each prefix level 1 .. 2 + ``config.cuts``
        (``fit_base``); bases do not depend on the net, so one set serves
        any number of nets (the LSTM laboratory fits them once per seed).
    config : SequenceConfig
        Its ``seed`` seeds the net (both fits start from the same parameters).
    make_layer : callable, optional
        Builds the net's recurrent layer (``CorrectionNet``'s argument).
    log : callable or None
        Receives a line per epoch of choosing.

    Returns
    -------
    SequenceFit
    """
    pred_by_level = {lv: m.predict(h.user, h.item) for lv, m in models.items()}
    mus = {lv: m.mu for lv, m in models.items()}
    dtype = np.dtype(config.dtype)

    def new_net():
        return CorrectionNet(hidden_size=config.hidden_size, cell=config.cell, rng=config.seed, dtype=dtype,
                             make_layer=make_layer)

    # choose the epoch count: cuts at levels 3 .., validation scored from level 2
    val_cuts = make_cutset(h, [2], config.window)
    net = new_net()
    choose = train_corrector(net, h, pred_by_level, mus, make_cutset(h, range(3, 3 + config.cuts), config.window),
                             config, val_cuts=val_cuts, log=log)
    epochs = choose.best_epoch
    _, pred_val, target_val = predict_cuts(net, h, pred_by_level, mus, val_cuts)
    # refit: a fresh net, the same seed, cuts at levels 2 .., test scored from level 1
    net = new_net()
    train_corrector(net, h, pred_by_level, mus, make_cutset(h, range(2, 2 + config.cuts), config.window), config,
                    epochs=epochs, log=None)
    test_rows, pred_test, target_test = predict_cuts(net, h, pred_by_level, mus, make_cutset(h, [1], config.window))
    return SequenceFit(epochs, scores(pred_val, target_val), scores(pred_test, target_test), net, choose.history,
                       test_rows, pred_test)
