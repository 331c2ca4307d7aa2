"""The whole job: data -> split -> baselines -> LSTM -> metrics, model and plots.

Used by the ``lstm-np train / evaluate / recommend`` commands and by the
notebooks, so all three do exactly the same thing.
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import io
from ..data import TEST, VAL, Ratings, checksum, fetch_movielens_100k, make_synthetic, temporal_split
from .baselines import GlobalMean, fit_bias_model, mae, rmse
from .evaluate import evaluate_part, predict_part
from .model import RatingModel
from .sequences import UNKNOWN_ITEM, UserSequences, build_sequences
from .train import TrainConfig, TrainResult, train

__all__ = [
    "Experiment", "load_data", "prepare", "baselines", "new_model", "fit", "save_model", "load_model",
    "run", "metrics_table",
]

MODEL_KIND = "lstm_np.recommender.RatingModel"


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
class Experiment:
    """The data of one run, split and arranged as user sequences."""

    ratings: Ratings
    data_meta: dict
    split: object
    seqs: UserSequences

    def part(self, index):
        """(user, item, rating) raw arrays of the rows ``index``."""
        r = self.ratings
        return r.user[index], r.item[index], r.rating[index]


def prepare(ratings, data_meta):
    """Split ``ratings`` in time and build the user sequences."""
    split = temporal_split(ratings)
    return Experiment(ratings, data_meta, split, build_sequences(ratings, split))


def baselines(exp: Experiment):
    """Global mean and the bias model (lam chosen on validation), scored on validation and test.

    Returns
    -------
    results : dict
        ``{"global_mean": {...}, "bias": {..., "reg": lam}}`` with ``val`` and
        ``test`` RMSE/MAE each.
    bias_model : BiasModel
    """
    train_, val, test = exp.part(exp.split.train), exp.part(exp.split.val), exp.part(exp.split.test)
    mean = GlobalMean(train_[2])
    bias, _ = fit_bias_model(train_, val)
    results = {}
    for name, model in (("global_mean", mean), ("bias", bias)):
        results[name] = {
            part: {"rmse": rmse(model.predict(u, i), r), "mae": mae(model.predict(u, i), r), "n": len(r)}
            for part, (u, i, r) in (("val", val), ("test", test))
        }
    results["bias"]["reg"] = bias.reg
    return results, bias


def new_model(exp: Experiment, bias_model, config: TrainConfig):
    """A RatingModel whose bias tables start from ``bias_model``."""
    seqs = exp.seqs
    model = RatingModel(seqs.num_items, seqs.num_users, bias_model.mu, embed_dim=config.embed_dim,
                        hidden_size=config.hidden_size, rng=config.seed, dtype=config.dtype, cell=config.cell)
    b_item = bias_model.predict(np.full(seqs.num_items, -1), seqs.item_ids) - bias_model.mu
    b_user = bias_model.predict(seqs.user_ids, np.full(seqs.num_users, -1)) - bias_model.mu
    b_item[UNKNOWN_ITEM] = 0.0
    model.init_biases(bias_model.mu, b_item, b_user)
    return model


def fit(exp: Experiment, bias_model, config: TrainConfig, **kwargs) -> TrainResult:
    """Build and train a model on ``exp`` (keyword arguments go to ``train``)."""
    return train(new_model(exp, bias_model, config), exp.seqs, config, **kwargs)


def save_model(path, model: RatingModel, exp: Experiment, config: TrainConfig, extra=None):
    """Write ``path.npz`` and ``path.json``: parameters, vocabularies, settings, data."""
    arrays = {**model.params, "vocab.user_ids": exp.seqs.user_ids, "vocab.item_ids": exp.seqs.item_ids}
    data = {**exp.data_meta, "sha256": checksum(exp.ratings)}  # so a model never meets other data
    meta = {"kind": MODEL_KIND, "model": model.config, "train": dataclasses.asdict(config),
            "data": data, **(extra or {})}
    return io.save(path, arrays, meta)


def load_model(path, cache_dir=None):
    """Load a saved model and the experiment (data, split, sequences) it belongs to.

    ``path`` may be the model's ``.npz``/``.json`` or the folder holding ``model.npz``.

    Returns
    -------
    model : RatingModel
    exp : Experiment
    meta : dict

    Raises
    ------
    lstm_np.io.ModelFileError
        Unreadable or inconsistent files, or a model that does not fit the data.
    """
    path = Path(path)
    if path.is_dir():
        path = path / "model"
    arrays, meta = io.load(path)
    if meta.get("kind") != MODEL_KIND:
        raise io.ModelFileError(f"{path}: holds {meta.get('kind')!r}, not a recommender model")
    try:
        cfg, data_meta = meta["model"], meta["data"]
        TrainConfig(**meta["train"])  # the saved settings must still be valid ones
        model = RatingModel(cfg["num_items"], cfg["num_users"], float(cfg["mean"]), embed_dim=cfg["embed_dim"],
                            hidden_size=cfg["hidden_size"], rng=0, dtype=cfg["dtype"], cell=cfg.get("cell", "lstm"))
        if data_meta.get("name") not in ("movielens", "synthetic"):
            raise ValueError(f"unknown data set {data_meta.get('name')!r}")
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise io.ModelFileError(f"{path}: the model description is damaged ({type(e).__name__}: {e})") from e
    for name, value in model.params.items():
        if name not in arrays:
            raise io.ModelFileError(f"{path}: parameter {name!r} is missing")
        if arrays[name].shape != value.shape or arrays[name].dtype != value.dtype:
            raise io.ModelFileError(f"{path}: parameter {name!r} is {arrays[name].dtype}{arrays[name].shape}; "
                                    f"the configuration needs {value.dtype}{value.shape}")
        if not np.isfinite(arrays[name]).all():
            raise io.ModelFileError(f"{path}: parameter {name!r} contains NaN or inf")
        value[...] = arrays[name]
    ratings = _load_data_from_meta(data_meta, cache_dir)
    if checksum(ratings) != data_meta.get("sha256"):
        raise io.ModelFileError(f"{path}: the model was trained on other data than {data_meta['name']} "
                                "as loaded now (checksum differs)")
    exp = prepare(ratings, {k: v for k, v in data_meta.items() if k != "sha256"})
    for key in ("user_ids", "item_ids"):
        if not np.array_equal(getattr(exp.seqs, key), arrays[f"vocab.{key}"]):
            raise io.ModelFileError(f"{path}: the model's {key} do not match the data set {meta['data']}")
    return model, exp, meta


def metrics_table(metrics):
    """The metrics as a plain-text table (test RMSE and MAE, with validation RMSE)."""
    rows = [("global mean", metrics["baselines"]["global_mean"]),
            (f"bias model (lam={metrics['baselines']['bias']['reg']:g})", metrics["baselines"]["bias"]),
            (f"{metrics['train'].get('cell', 'lstm').upper()} (H={metrics['train']['hidden_size']}, "
             f"seed {metrics['train']['seed']})", metrics["lstm"])]
    lines = [f"{'model':<32} {'val RMSE':>9} {'test RMSE':>10} {'test MAE':>9}", "-" * 63]
    for name, m in rows:
        lines.append(f"{name:<32} {m['val']['rmse']:>9.4f} {m['test']['rmse']:>10.4f} {m['test']['mae']:>9.4f}")
    return "\n".join(lines)


def run(data="movielens", config: TrainConfig | None = None, out_dir="runs/latest", *, cache_dir=None,
        data_seed=0, log=print, progress=True, plot=True):
    """Train on a data set and write ``model.npz/json``, ``metrics.json`` and ``training.png``.

    Returns
    -------
    metrics : dict
        Also written to ``out_dir/metrics.json``.
    """
    config = config or TrainConfig()
    out = Path(out_dir)
    ratings, data_meta = load_data(data, cache_dir=cache_dir, seed=data_seed, log=log)
    exp = prepare(ratings, data_meta)
    n_train, n_val, n_test = exp.split.sizes
    if log:
        log(f"{data}: {len(ratings):,} ratings, {exp.seqs.num_users:,} users, {exp.seqs.num_items - 1:,} items "
            f"in training; split {n_train:,} / {n_val:,} / {n_test:,}")
    base, bias_model = baselines(exp)
    start = time.perf_counter()
    result = fit(exp, bias_model, config, log=log, progress=progress,
                 on_improve=lambda m: save_model(out / "model", m, exp, config))
    seconds = time.perf_counter() - start
    metrics = {
        "data": data_meta,
        "split": {"train": n_train, "val": n_val, "test": n_test},
        "train": dataclasses.asdict(config),
        "lstm": {"val": evaluate_part(result.model, exp.seqs, VAL), "test": evaluate_part(result.model, exp.seqs, TEST)},
        "baselines": base,
        "best_epoch": result.best_epoch,
        "train_seconds": round(seconds, 1),
        "history": result.history,
    }
    save_model(out / "model", result.model, exp, config, extra={"metrics": {k: metrics[k] for k in ("lstm", "best_epoch")}})
    io.atomic_write_bytes(out / "metrics.json", json.dumps(metrics, indent=2).encode())
    if plot:
        from .plots import training_figure

        rows, pred, target = predict_part(result.model, exp.seqs, TEST)
        training_figure(metrics, pred, target, out / "training.png")
    if log:
        log(metrics_table(metrics))
    return metrics
