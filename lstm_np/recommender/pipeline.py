"""The whole job: data -> split -> the protocol (every model chosen, refitted, scored) -> model, metrics, plot.

Used by the ``lstm-np train / evaluate / recommend`` commands and by the
notebooks, so all three do exactly the same thing. ``run`` goes through
``protocol.run_protocol`` and saves the refitted sequence model (its base
included) with ``save_model``; ``load_model`` reads it back with the data.

A run's folder (``RUN_FILES``) is written as a unit (``io.run_folder``): a
reader sees the complete previous run or the complete new one, and a run
that fails (NaN in training, a full disk) leaves the previous one as it
was. ``load_model`` checks the description against ``MODEL_SCHEMA`` and
the array headers before it reads any array data or builds anything.
"""

from __future__ import annotations

import dataclasses
import json
import numbers
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import io
from ..data import checksum, fetch_movielens_100k, make_synthetic, temporal_split
from .hybrid import CELLS, FEATURES, CorrectionNet, Histories, SequenceConfig, build_histories, make_cutset, \
    make_inputs, next_step_inputs, predict_cuts
from .mf import MatrixFactorization
from .nextitem_model import titles_from_array, titles_to_array
from .protocol import BASES, ROW_LABELS, run_protocol

__all__ = [
    "load_data", "SequenceRecommender", "save_model",
    "load_model", "run", "metrics_table", "RUN_FILES", "MODEL_SCHEMA", "METRICS_SCHEMA",
]

MODEL_KIND = "lstm_np.recommender.SequenceRecommender"

#: The Histories arrays a saved model carries (with vocab.user_ids / vocab.item_ids).
_HISTORY_ARRAYS = ("offsets", "user", "item", "rating", "time", "part", "row")

#: What a training run writes into its folder (an existing folder holding only these may be replaced).
RUN_FILES = ("model.npz", "model.json", "metrics.json", "training.png")

_SCORES = {"rmse": io.Float(0), "mae": io.Float(0), "n": io.Int(0)}

#: The saved model's ``meta``, checked (with the array headers) before any array data is read. Every size
#: that decides an allocation equals an array's dimension (``dim``), so an edited size is refused, not allocated.
MODEL_SCHEMA = {
    "kind": io.Str([MODEL_KIND]),
    "base": {
        "kind": io.Str(list(BASES)),
        "mu": io.Float(-1e6, 1e6),
        "num_users": io.Int(1, dim=[("base.b_user", 0), ("base.P", 0), ("vocab.user_ids", 0)]),
        "num_items": io.Int(1, dim=[("base.b_item", 0), ("base.Q", 0), ("vocab.item_ids", 0)]),
        "factors": io.Int(0, dim=[("base.P", 1), ("base.Q", 1)]),
    },
    "net": {
        "input_size": io.Int(len(FEATURES), len(FEATURES)),
        "hidden_size": io.Int(1, dim=("head.W", 0)),
        "cell": io.Str(sorted(CELLS)),
        "dtype": io.Str(["float32", "float64"]),
    },
    "sequence": {
        "cell": io.Str(sorted(CELLS)), "hidden_size": io.Int(1, dim=("head.W", 0)), "window": io.Int(1),
        "cuts": io.Int(1), "epochs": io.Int(1), "patience": io.Int(1), "lr": io.Float(0), "batch_size": io.Int(1),
        "clip": io.Float(0), "seed": io.Int(0), "dtype": io.Str(["float32", "float64"]),
    },
    "data": {"name": io.Str(["movielens", "synthetic"]), "seed": io.Int(0, optional=True), "sha256": io.Str()},
}

#: ``meta["metrics"]`` as ``run`` saves it (what ``lstm-np evaluate`` prints); checked when present.
METRICS_SCHEMA = {
    "rows": {
        "global_mean": {"val": _SCORES, "test": _SCORES, "choice": io.Any(dict_only=True)},
        "bias": {"val": _SCORES, "test": _SCORES, "choice": {"reg": io.Float(0)}},
        "mf": {"val": _SCORES, "test": _SCORES, "choice": {"factors": io.Int(0), "epochs": io.Int(0)}},
        "sequence": {"val": _SCORES, "test": _SCORES,
                     "choice": {"epochs": io.Int(0), "cell": io.Str(sorted(CELLS)), "base": io.Str(list(BASES))}},
    },
}


def load_data(name="movielens", *, cache_dir=None, seed=0, log=print):
    """Ratings of a named data set: ``"movielens"`` (MovieLens-100K) or ``"synthetic"``.

    Returns
    -------
    ratings : Ratings
    meta : dict
        What is needed to load the same data again (saved with a model).
    """
    if name == "movielens":
        return fetch_movielens_100k(cache_dir, log=log), {"name": "movielens"}
    if name == "synthetic":
        return make_synthetic(seed=seed), {"name": "synthetic", "seed": int(seed)}
    raise ValueError(f"unknown data set {name!r}; expected 'movielens' or 'synthetic'")


def _load_data_from_meta(meta, cache_dir=None):
    return load_data(meta["name"], cache_dir=cache_dir, seed=meta.get("seed", 0), log=None)[0]


@dataclass
class SequenceRecommender:
    """The refitted model: a base (MF, or F = 0 for the bias / mean bases) plus the correction net.

    Attributes
    ----------
    base : MatrixFactorization
        Fitted on train + validation.
    net : CorrectionNet
    config : SequenceConfig
    base_kind : "mf", "bias" or "mean"
    histories : Histories, optional
        Every user's ratings the model knows (train, validation and test of
        its data), stored in the model file; ``recommend_ids`` reads them.
    titles : dict raw item id -> title
    """

    base: MatrixFactorization
    net: CorrectionNet
    config: SequenceConfig
    base_kind: str
    histories: Histories | None = None
    titles: dict = dataclasses.field(default_factory=dict)

    def user_index(self, user):
        """Index of raw user id ``user`` in the stored histories; ``ValueError`` naming the known range."""
        if isinstance(user, bool) or not isinstance(user, numbers.Integral):
            raise TypeError(f"user must be an integer id; got {type(user).__name__}")
        h = self.histories
        k = int(np.searchsorted(h.user_ids, user))
        if k >= h.num_users or h.user_ids[k] != user:
            raise ValueError(f"user {user} is not known to this model (ids run from {int(h.user_ids[0])} to "
                             f"{int(h.user_ids[-1])}); pass history=[(item, time, rating), ...] for a new user")
        return k

    def recommend_ids(self, *, user=None, history=None, top=10, exclude_rated=True):
        """The ``top`` unseen movies with the highest predicted rating: ``[(item id, title, rating), ...]``.

        Give ``user`` (a known raw user id: their whole stored history is
        read) or ``history`` (``[(item id, timestamp, rating), ...]`` in any
        order, sorted by timestamp here; with ``user`` too, that user's MF
        factors are used, otherwise only the items' side of MF). This ranks
        by predicted *rating*, which answers "what would they rate highest?";
        a ``NextItemRecommender`` answers "what will they watch next?".
        """
        if self.histories is None:
            raise ValueError("this model has no stored histories (an old model file); use recommend(h, user)")
        if user is None and history is None:
            raise ValueError("give user=... (a known user id) or history=[(item id, timestamp, rating), ...]")
        k = None if user is None else self.user_index(user)
        if history is None:
            model, h, u = self, self.histories, k
        else:
            (model, h), u = _one_user_history(self, history, k), 0
        items, scores = model.recommend(h, u, top=top, exclude_rated=exclude_rated)
        ids = h.item_ids[items]
        return [(int(i), self.titles.get(int(i), f"item {int(i)}"), float(r)) for i, r in zip(ids, scores)]

    def _check_histories(self, h):
        """Refuse histories this model cannot read: the wrong type or sizes, or a rating that is not a finite number."""
        if not isinstance(h, Histories):
            raise TypeError(f"h must be the Histories of the model's data (hybrid.build_histories); got "
                            f"{type(h).__name__}")
        U, I, _ = self.base.shape
        if h.num_users != U or h.num_items != I:
            raise ValueError(f"h has {h.num_users} users and {h.num_items} items; the model knows {U} and {I}")
        bad = ~np.isfinite(h.rating) | ~np.isfinite(h.time)
        if bad.any():
            raise ValueError(f"h holds {int(bad.sum())} ratings or times that are NaN or inf (first at row "
                             f"{int(np.flatnonzero(bad)[0])}); a prediction read from them would be NaN")

    def predict_test(self, h: Histories):
        """(rows, prediction, rating) for every test rating of ``h``, reading train + validation only.

        Raises ``ValueError`` if any rating or time of ``h`` is NaN or inf.
        """
        self._check_histories(h)
        preds = {1: self.base.predict(h.user, h.item)}
        return predict_cuts(self.net, h, preds, {1: self.base.mu}, make_cutset(h, [1], self.config.window))

    def recommend(self, h: Histories, user, top=10, exclude_rated=True):
        """The ``top`` items with the highest predicted rating for user index ``user``.

        The net reads the user's whole history (every rating known now, the
        latest ``window`` of them); each candidate item j is then scored as
        the next step, asked right after the last rating:
        base(u, j) + correction.

        Returns
        -------
        items : (top,) int64 item indices, best first
        scores : (top,) float64 predicted ratings, clipped to [1, 5]
        """
        if not isinstance(top, (int, np.integer)) or top < 1:
            raise ValueError(f"top must be a positive integer; got {top!r}")
        self._check_histories(h)
        if not 0 <= user < h.num_users:
            raise ValueError(f"user index {user} is out of range [0, {h.num_users})")
        candidates = np.arange(h.num_items)
        if exclude_rated:
            candidates = np.setdiff1d(candidates, h.item[h.offsets[user] : h.offsets[user + 1]])
        rows = slice(h.offsets[user], h.offsets[user + 1])
        base_all = np.zeros(len(h.user))  # make_inputs reads the base at this user's rows only
        base_all[rows] = self.base.predict(h.user[rows], h.item[rows])
        n = int(h.offsets[user + 1] - h.offsets[user])
        history = make_inputs(h, base_all, self.base.mu, [user], [max(n - self.config.window, 0)], [n], [n],
                              self.net.dtype)
        state = self.net.forward(history.x, history.mask)[1][-1]
        x = next_step_inputs(h, base_all, self.base.mu, user, self.base.predict(np.full(len(candidates), user),
                                                                             candidates), self.net.dtype)
        if isinstance(state, tuple):
            state = tuple(np.repeat(s, len(candidates), axis=0) for s in state)
        else:
            state = np.repeat(state, len(candidates), axis=0)
        corr = self.net.forward(x, None, state)[0][:, 0].astype(np.float64)
        score = np.clip(self.base.predict(np.full(len(candidates), user), candidates) + corr, 1.0, 5.0)
        best = np.argsort(-score, kind="stable")[:top]
        return candidates[best], score[best]


def _one_user_history(model, history, user_index):
    """A caller's history ``[(item id, time, rating), ...]`` as a one-user Histories and a one-user base.

    The base keeps the user's offset and factors when ``user_index`` is a
    known user, and uses b_u = 0, p_u = 0 (the item side only) for a new one.
    """
    from ..data import TRAIN

    h = model.histories
    entries = list(history)
    for e in entries:
        if not isinstance(e, (tuple, list)) or len(e) != 3 or not all(
                isinstance(v, numbers.Real) and not isinstance(v, bool) and np.isfinite(v) for v in e):
            raise ValueError(f"a rating-model history entry must be (item id, timestamp, rating) of finite numbers; "
                             f"got {e!r}")
        if not 1.0 <= e[2] <= 5.0:
            raise ValueError(f"a rating must lie in [1, 5]; got {e[2]!r} for item {e[0]!r}")
    if not entries:
        raise ValueError("history is empty: the rating model needs at least one (item id, timestamp, rating)")
    entries = sorted(entries, key=lambda e: e[1])  # stable: equal times keep their given order
    ids = np.array([e[0] for e in entries])
    if not np.issubdtype(ids.dtype, np.integer):
        raise ValueError("history item ids must be integers")
    k = np.searchsorted(h.item_ids, ids)
    bad = (k >= h.num_items) | (h.item_ids[np.minimum(k, h.num_items - 1)] != ids)
    if bad.any():
        raise ValueError(f"unknown item id(s) {sorted(set(ids[bad].tolist()))[:10]}; this model knows "
                         f"{h.num_items} items with ids {int(h.item_ids[0])} .. {int(h.item_ids[-1])}")
    n = len(entries)
    one = Histories(np.array([h.user_ids[user_index] if user_index is not None else -1], np.int64), h.item_ids,
                    np.array([0, n], np.int64), np.zeros(n, np.int64), k.astype(np.int64),
                    np.array([e[2] for e in entries], np.float64), np.array([e[1] for e in entries], np.float64),
                    np.full(n, TRAIN, np.int8), np.arange(n, dtype=np.int64))
    U, I, F = model.base.shape
    base = MatrixFactorization(1, I, F, mu=model.base.mu, rng=0)
    base.params["b_item"][:] = model.base.params["b_item"]
    base.params["Q"][:] = model.base.params["Q"]
    base.params["b_user"][:] = model.base.params["b_user"][user_index] if user_index is not None else 0.0
    base.params["P"][:] = model.base.params["P"][user_index] if user_index is not None else 0.0
    return SequenceRecommender(base, model.net, model.config, model.base_kind), one


def save_model(path, model: SequenceRecommender, h: Histories, ratings, data_meta, extra=None):
    """Write ``path.npz`` and ``path.json``: base and net parameters, vocabularies, settings, data checksum.

    ``meta`` (see ``MODEL_SCHEMA``): ``kind``; ``base`` (kind, mu, num_users,
    num_items, factors); ``net`` (``CorrectionNet.config``); ``sequence``
    (the ``SequenceConfig``); ``data`` (name, seed, sha256 of the ratings);
    plus ``extra`` (``run`` adds ``metrics``).
    """
    arrays = {**{f"base.{k}": v for k, v in model.base.params.items()}, **model.net.params,
              "vocab.user_ids": h.user_ids, "vocab.item_ids": h.item_ids,
              "vocab.titles": titles_to_array(h.item_ids, ratings.titles),
              # the ratings themselves, so that loading needs no data set (rebuilt and checksummed on load)
              **{f"history.{k}": getattr(h, k) for k in _HISTORY_ARRAYS}}
    data = {**data_meta, "sha256": checksum(ratings)}  # so a model never meets other data
    U, I, F = model.base.shape
    meta = {"kind": MODEL_KIND,
            "base": {"kind": model.base_kind, "mu": model.base.mu, "num_users": U, "num_items": I, "factors": F},
            "net": model.net.config, "sequence": dataclasses.asdict(model.config), "data": data, **(extra or {})}
    return io.save(path, arrays, meta)


def load_model(path, cache_dir=None):
    """Load a saved model and the data (ratings, histories) it belongs to.

    ``path`` may be the model's ``.npz``/``.json`` or the folder holding ``model.npz``.

    Everything in the description is checked against ``MODEL_SCHEMA`` (and
    ``METRICS_SCHEMA``) and against the array headers before any array data
    is read, any layer is built or the data set is loaded.

    Returns
    -------
    model : SequenceRecommender
    data : (Ratings, Histories)
    meta : dict

    Raises
    ------
    lstm_np.io.ModelFileError
        Unreadable or inconsistent files (naming the file and the field), or
        a model that does not fit the data.
    """
    found = io.inspect_model(path, MODEL_KIND, MODEL_SCHEMA, what="recommender model (rating prediction)")
    meta, where, path = found.meta, str(found.json_path), found.npz_path.with_suffix("")
    cell = meta["net"]["cell"]  # the recurrent layer's parameter names depend on it
    io.check_meta(meta, {"net": {"input_size": io.Int(dim=(f"{cell}.Wx", 0)),
                                 "hidden_size": io.Int(dim=(f"{cell}.Wh", 0))}}, arrays=found.arrays, where=where)
    if "metrics" in meta:
        io.check_meta(meta, {"metrics": METRICS_SCHEMA}, where=where)
    net_cfg, base_cfg, data_meta = meta["net"], meta["base"], meta["data"]
    for key in ("cell", "hidden_size", "dtype"):
        if meta["sequence"][key] != net_cfg[key]:
            raise io.ModelFileError(f"{where}: field meta.sequence.{key} is {meta['sequence'][key]!r} but "
                                    f"meta.net.{key} is {net_cfg[key]!r}; they must agree")
    try:
        config = SequenceConfig(**meta["sequence"])
    except (TypeError, ValueError) as e:
        raise io.ModelFileError(f"{where}: field meta.sequence is damaged ({e})") from None
    arrays = found.read_arrays()
    net = CorrectionNet(net_cfg["input_size"], net_cfg["hidden_size"], cell=cell, rng=0, dtype=net_cfg["dtype"])
    base = MatrixFactorization(base_cfg["num_users"], base_cfg["num_items"], base_cfg["factors"],
                               mu=float(base_cfg["mu"]), rng=0)
    targets = {**{f"base.{k}": v for k, v in base.params.items()}, **net.params}
    for name, value in targets.items():
        if name not in arrays:
            raise io.ModelFileError(f"{path}: parameter {name!r} is missing")
        if arrays[name].shape != value.shape or arrays[name].dtype != value.dtype:
            raise io.ModelFileError(f"{path}: parameter {name!r} is {arrays[name].dtype}{arrays[name].shape}; "
                                    f"the configuration needs {value.dtype}{value.shape}")
        if not np.isfinite(arrays[name]).all():
            raise io.ModelFileError(f"{path}: parameter {name!r} contains NaN or inf")
        value[...] = arrays[name]
    if all(f"history.{k}" in arrays for k in _HISTORY_ARRAYS) and "vocab.titles" in arrays:
        ratings = _ratings_from_arrays(arrays, where)  # the model carries its ratings: no data set needed
        if checksum(ratings) != data_meta["sha256"]:
            raise io.ModelFileError(f"{where}: the ratings stored in the model do not match its data checksum "
                                    "(field meta.data.sha256): the file was edited")
        if data_meta["sha256"] != _named_data_sha256(data_meta):
            raise io.ModelFileError(f"{path}: the model was trained on other data than {data_meta} names "
                                    "(checksum differs)")
    else:  # a model saved before the ratings were stored with it
        ratings = _load_data_from_meta(data_meta, cache_dir)
        if checksum(ratings) != data_meta["sha256"]:
            raise io.ModelFileError(f"{path}: the model was trained on other data than {data_meta['name']} "
                                    "as loaded now (checksum differs)")
    h = build_histories(ratings, temporal_split(ratings))
    for key in ("user_ids", "item_ids"):
        if not np.array_equal(getattr(h, key), arrays[f"vocab.{key}"]):
            raise io.ModelFileError(f"{path}: the model's {key} do not match the data set {meta['data']}")
    model = SequenceRecommender(base, net, config, base_cfg["kind"], histories=h, titles=dict(ratings.titles))
    return model, (ratings, h), meta


def _named_data_sha256(data_meta):
    """The checksum of the data set ``data_meta`` names, without the network: MovieLens-100K's is published;
    the synthetic set is regenerated from its seed (a fraction of a second)."""
    from ..data import EXPECTED_SHA256

    if data_meta["name"] == "movielens":
        return EXPECTED_SHA256
    return checksum(make_synthetic(seed=data_meta.get("seed", 0)))


def _ratings_from_arrays(arrays, where):
    """The ``Ratings`` a model file carries (``history.*``, ``vocab.*``), each array checked before use."""
    from ..data import Ratings

    want = {"offsets": np.int64, "user": np.int64, "item": np.int64, "rating": np.float64, "time": np.float64,
            "part": np.int8, "row": np.int64}
    a = {k: arrays[f"history.{k}"] for k in want}
    for k, dt in want.items():
        if a[k].dtype != dt or a[k].ndim != 1:
            raise io.ModelFileError(f"{where}: array 'history.{k}' is {a[k].dtype}{a[k].shape}; expected 1-D {dt}")
    user_ids, item_ids = arrays["vocab.user_ids"], arrays["vocab.item_ids"]
    n = len(a["row"])
    if any(len(a[k]) != n for k in ("user", "item", "rating", "time", "part")) or n == 0:
        raise io.ModelFileError(f"{where}: the history arrays differ in length (or are empty)")
    ok = (np.array_equal(np.sort(a["row"]), np.arange(n)) and a["user"].min() >= 0 and a["user"].max() < len(user_ids)
          and a["item"].min() >= 0 and a["item"].max() < len(item_ids) and np.isfinite(a["rating"]).all()
          and np.isfinite(a["time"]).all())
    if not ok:
        raise io.ModelFileError(f"{where}: the history arrays are inconsistent (rows, user or item indices out of "
                                "range, or NaN/inf ratings or times)")
    titles = titles_from_array(item_ids, arrays["vocab.titles"], where)
    order = np.argsort(a["row"])
    return Ratings(user_ids[a["user"][order]].astype(np.int64), item_ids[a["item"][order]].astype(np.int64),
                   a["rating"][order], a["time"][order].astype(np.int64), titles)


def row_label(name, row):
    """A table label for row ``name`` of the protocol's results."""
    c = row.get("choice", {})
    if name == "bias":
        return f"bias model (lam={c.get('reg', 0):g})"
    if name == "mf":
        return f"MF (F={c.get('factors')}, {c.get('epochs')} epochs)"
    if name == "sequence":
        return f"{c.get('cell', 'lstm').upper()} + {c.get('base', 'mf')} base ({c.get('epochs')} ep.)"
    return ROW_LABELS.get(name, name)


def metrics_table(rows):
    """The protocol's rows as a plain-text table: validation and test RMSE and MAE."""
    lines = [f"{'model':<30} {'val RMSE':>9} {'val MAE':>8} {'test RMSE':>10} {'test MAE':>9}", "-" * 70]
    for name in sorted(rows, key=lambda n: list(ROW_LABELS).index(n) if n in ROW_LABELS else len(ROW_LABELS)):
        m = rows[name]
        lines.append(f"{row_label(name, m):<30} {m['val']['rmse']:>9.4f} {m['val']['mae']:>8.4f} "
                     f"{m['test']['rmse']:>10.4f} {m['test']['mae']:>9.4f}")
    return "\n".join(lines)


def run(data="movielens", config: SequenceConfig | None = None, out_dir="runs/latest", *, base="mf", cache_dir=None,
        data_seed=0, log=print, progress=True, plot=True, mf_grid=None):
    """Run the protocol on a data set and write ``model.npz/json``, ``metrics.json`` and ``training.png``.

    The folder ``out_dir`` is written as a unit (``io.run_folder``): it holds
    the complete previous run until the new one is complete, then the new
    one. It is checked before the data is loaded; a folder holding anything
    but a previous run is refused.

    Parameters
    ----------
    progress : bool
        Log a line per epoch while the epoch count is chosen (False: only
        the summary lines; ``log=None`` silences everything).

    Returns
    -------
    metrics : dict
        Also written to ``out_dir/metrics.json``; ``rows`` holds every
        model's validation and test scores.

    Raises
    ------
    OSError
        ``out_dir`` cannot be written, or holds files that are not a run.
    TrainingError
        NaN or inf in training; ``out_dir`` is left as it was.
    """
    config = config or SequenceConfig()
    out = Path(out_dir)
    io.check_writable_dir(out, name="out", replaceable=RUN_FILES)  # before any work: a bad folder costs nothing
    ratings, data_meta = load_data(data, cache_dir=cache_dir, seed=data_seed, log=log)
    split = temporal_split(ratings)
    n_train, n_val, n_test = split.sizes
    if log:
        log(f"{data}: {len(ratings):,} ratings, {len(np.unique(ratings.user)):,} users, "
            f"{len(np.unique(ratings.item)):,} items; split {n_train:,} / {n_val:,} / {n_test:,}")
    start = time.perf_counter()
    result = run_protocol(ratings, config, base=base, mf_grid=mf_grid, log=log, progress=progress)
    seconds = time.perf_counter() - start
    model = SequenceRecommender(result.base, result.net, config, base)
    metrics = {
        "data": data_meta,
        "split": {"train": n_train, "val": n_val, "test": n_test},
        "sequence": dataclasses.asdict(config),
        "base": base,
        "rows": result.rows,
        "best_epoch": result.rows["sequence"]["choice"]["epochs"],
        "seconds": round(seconds, 1),
        "history": result.history,
    }
    h = result.histories
    with io.run_folder(out, replaceable=RUN_FILES) as stage:
        save_model(stage / "model", model, h, ratings, data_meta, extra={"metrics": {"rows": result.rows}})
        io.atomic_write_bytes(stage / "metrics.json", json.dumps(metrics, indent=2).encode())
        if plot:
            from . import plots

            _, pred, target = model.predict_test(h)
            plots.training_figure(metrics, pred, target, stage / "training.png")
    if log:
        log(metrics_table(result.rows))
    return metrics
