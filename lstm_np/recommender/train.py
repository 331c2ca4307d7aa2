"""Training: minibatches of padded user sequences, Adam, clipping, early stopping.

Everything random (initial weights, batch order, which training ratings are
hidden, which items are dropped to "unknown") comes from one
``numpy.random.Generator`` seeded by ``TrainConfig.seed``, so a seed
reproduces a run exactly.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass, field

import numpy as np

from ..data import TRAIN, VAL
from ..optim import Adam, clip_grad_norm
from .evaluate import evaluate_part
from .model import RatingModel
from .sequences import UNKNOWN_ITEM, UserSequences, make_batch

__all__ = ["TrainConfig", "TrainResult", "TrainingError", "train"]


@dataclass
class TrainConfig:
    """Settings of a training run (the defaults are the documented ones).

    Attributes
    ----------
    cell : "lstm", "gru" or "rnn"
        The recurrent layer.
    embed_dim, hidden_size : int
        Item embedding size E and LSTM hidden size H.
    epochs : int
        Most passes over the training users.
    patience : int
        Stop after this many epochs without a better validation RMSE.
    lr : float
        Adam's learning rate.
    batch_size : int
        Users per minibatch (users are bucketed by length, so padding is small).
    clip : float
        Global gradient-norm clip.
    hide : float
        Each user's last U(0, hide) fraction of training ratings is scored
        without feedback in each epoch, as a held-out stretch will be.
    unknown_prob : float
        Probability that a training step's item is replaced by the unknown
        item, so that row learns to stand for items never seen.
    train_biases : bool
        Whether the item and user bias tables (started from the regularised
        bias model) keep learning; when False the LSTM learns only what the
        sequence adds to them.
    seed : int
    dtype : "float32" or "float64"
    """

    cell: str = "lstm"
    embed_dim: int = 32
    hidden_size: int = 64
    epochs: int = 20
    patience: int = 4
    lr: float = 1e-3
    batch_size: int = 32
    clip: float = 5.0
    hide: float = 0.3
    unknown_prob: float = 0.02
    train_biases: bool = False
    seed: int = 0
    dtype: str = "float32"

    def __post_init__(self):
        checks = {
            "embed_dim": self.embed_dim >= 1, "hidden_size": self.hidden_size >= 1, "epochs": self.epochs >= 1,
            "patience": self.patience >= 1, "lr": self.lr > 0, "batch_size": self.batch_size >= 1,
            "clip": self.clip > 0, "hide": 0 <= self.hide <= 1, "unknown_prob": 0 <= self.unknown_prob < 1,
            "dtype": self.dtype in ("float32", "float64"), "cell": self.cell in ("lstm", "gru", "rnn"),
        }
        bad = [k for k, ok in checks.items() if not ok]
        if bad:
            raise ValueError(f"invalid training settings: {', '.join(f'{k}={getattr(self, k)!r}' for k in bad)}")

    @classmethod
    def for_data(cls, name, **overrides):
        """The default settings for a data set, with ``overrides`` (None values ignored).

        The small synthetic set needs many more, larger steps than MovieLens:
        its order rule is an XOR-like pattern that the LSTM finds only after
        a plateau of several epochs.
        """
        defaults = DATA_DEFAULTS.get(name, {})
        return cls(**{**defaults, **{k: v for k, v in overrides.items() if v is not None}})


DATA_DEFAULTS = {
    "movielens": {},
    "synthetic": {"embed_dim": 16, "hidden_size": 32, "lr": 1e-2, "batch_size": 16, "epochs": 40, "patience": 10},
}


class TrainingError(RuntimeError):
    """Training produced NaN or inf; the model holds the last good parameters."""


@dataclass
class TrainResult:
    model: RatingModel
    history: list = field(default_factory=list)  # one dict per epoch
    best_epoch: int = 0
    best_val_rmse: float = math.inf


def _batches(users, lengths, batch_size, rng):
    """Users sorted by length, cut into batches, in a random batch order."""
    order = users[np.argsort(lengths[users], kind="stable")]
    batches = [order[k : k + batch_size] for k in range(0, len(order), batch_size)]
    return [batches[k] for k in rng.permutation(len(batches))]


def _check_finite(loss, grads, epoch, step):
    if not math.isfinite(loss):
        raise TrainingError(f"loss is {loss} at epoch {epoch}, step {step}")
    for name, g in grads.items():
        if not np.isfinite(g).all():
            what = name if name.startswith("parameter") else f"gradient of {name}"
            raise TrainingError(f"{what} contains NaN or inf at epoch {epoch}, step {step}")


def train(model: RatingModel, seqs: UserSequences, config: TrainConfig, *, log=print, progress=True,
          on_improve=None):
    """Train ``model`` on the training part of ``seqs``, early-stopping on validation RMSE.

    Parameters
    ----------
    model : RatingModel
    seqs : UserSequences
    config : TrainConfig
    log : callable or None
        Receives one line per epoch (train loss, validation RMSE, elapsed time).
    progress : bool
        Show a progress bar within each epoch (tqdm).
    on_improve : callable, optional
        Called with the model whenever the validation RMSE improves (e.g. to
        write a checkpoint).

    Returns
    -------
    TrainResult
        ``model`` holds the parameters of the best epoch.

    Raises
    ------
    TrainingError
        A NaN or inf in the loss or a gradient; the message names the epoch,
        the step and the parameter, and the model is left with the best
        parameters seen so far.
    """
    rng = np.random.default_rng([config.seed, 1])  # a stream apart from the weights' one
    dtype = np.dtype(config.dtype)
    trainable = {k: v for k, v in model.params.items() if config.train_biases or not k.endswith("bias.W")}
    opt = Adam(trainable, lr=config.lr)
    n_train = seqs.lengths(TRAIN)
    users = np.flatnonzero(n_train > 0)
    result = TrainResult(model)
    best = {k: v.copy() for k, v in model.params.items()}
    result.best_val_rmse = evaluate_part(model, seqs, VAL)["rmse"]
    result.history.append({"epoch": 0, "train_mse": None, "val_rmse": result.best_val_rmse, "elapsed": 0.0})
    if log:
        log(f"epoch  0  (start)            val RMSE {result.best_val_rmse:.4f}")
    start, stale = time.perf_counter(), 0

    for epoch in range(1, config.epochs + 1):
        batches = _batches(users, n_train, config.batch_size, rng)
        total, count = 0.0, 0
        if progress:
            from tqdm import tqdm

            batches = tqdm(batches, desc=f"epoch {epoch}", leave=False, unit="batch")
        for step, batch_users in enumerate(batches, 1):
            hide = np.floor(rng.uniform(0, config.hide, len(batch_users)) * n_train[batch_users]).astype(np.int64)
            batch = make_batch(seqs, batch_users, TRAIN, model.mean, hide=hide, dtype=dtype)
            drop = rng.random(batch.items.shape) < config.unknown_prob
            batch = dataclasses.replace(batch, items=np.where(drop, UNKNOWN_ITEM, batch.items))
            try:
                loss = model.loss(batch)
                _check_finite(loss, model.grads, epoch, step)
                grads = {k: model.grads[k] for k in trainable}
                clip_grad_norm(grads, config.clip)
                opt.step(grads)
                _check_finite(0.0, {f"parameter {k} (after the update)": model.params[k] for k in trainable},
                              epoch, step)
            except (TrainingError, FloatingPointError, ValueError) as error:
                for k, v in best.items():
                    model.params[k][...] = v
                where = "" if isinstance(error, TrainingError) else f"at epoch {epoch}, step {step}: "
                raise TrainingError(f"{where}{error}; the model keeps the parameters of epoch "
                                    f"{result.best_epoch}") from error
            n = float(batch.score_mask.sum())
            total, count = total + loss * n, count + n
        val_rmse = evaluate_part(model, seqs, VAL)["rmse"]
        elapsed = time.perf_counter() - start
        result.history.append({"epoch": epoch, "train_mse": total / count, "val_rmse": val_rmse, "elapsed": elapsed})
        improved = val_rmse < result.best_val_rmse
        if log:
            log(f"epoch {epoch:2d}  train MSE {total / count:.4f}  val RMSE {val_rmse:.4f}"
                f"{'  *' if improved else '   '}  {elapsed:6.1f} s")
        if improved:
            result.best_val_rmse, result.best_epoch, stale = val_rmse, epoch, 0
            best = {k: v.copy() for k, v in model.params.items()}
            if on_improve:
                on_improve(model)
        else:
            stale += 1
            if stale >= config.patience:
                break
    for k, v in best.items():
        model.params[k][...] = v
    return result
