"""The next-item model's settings (``NextItemConfig``) and the recurrent layers it can use (``layer_factory``).

Every setting is checked when the config is made: a bad one is a
``ValueError`` naming it, before any array is allocated.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import asdict, dataclass

import numpy as np

from ..sequence import GRU, LSTM, RNN, SLSTM, MinGRU, MinLSTM, VariantLSTM

__all__ = ["ATTENTION", "MAX_SIZE", "NEXT_ITEM_CELLS", "NextItemConfig", "layer_factory"]

#: Built-in recurrent layers by name (the 2024 cells too); any name of ``cells.variants.VARIANTS`` also works
#: (``VariantLSTM``).
NEXT_ITEM_CELLS = {"lstm": LSTM, "gru": GRU, "rnn": RNN, "slstm": SLSTM, "minlstm": MinLSTM, "mingru": MinGRU}


#: ``NextItemConfig.attention``: none (the plain model), or the score rule of ``cells.attention``.
ATTENTION = ("none", "dot", "additive")

#: The largest embedding or hidden size accepted (a larger one is almost surely a typo, and would fail on memory).
MAX_SIZE = 4096


def _variant_names():
    from ..cells.variants import VARIANTS

    return tuple(v for v in VARIANTS if v != "lstm")


def layer_factory(cell, dtype=np.float32):
    """``make_layer(input_size, hidden_size, rng)`` for a cell named ``cell`` (lstm, gru, rnn, the 2024 cells slstm,
    minlstm, mingru, or a variant)."""
    dtype = np.dtype(dtype)
    if cell in NEXT_ITEM_CELLS:
        cls = NEXT_ITEM_CELLS[cell]

        def make_layer(input_size, hidden_size, rng):
            return cls(input_size, hidden_size, rng=rng, dtype=dtype)
    elif cell in _variant_names():
        def make_layer(input_size, hidden_size, rng):
            return VariantLSTM(cell, input_size, hidden_size, rng=rng, dtype=dtype)
    else:
        raise ValueError(f"cell must be one of {sorted(NEXT_ITEM_CELLS) + sorted(_variant_names())}; got {cell!r}")
    make_layer.__name__ = f"make_{cell}"
    return make_layer


def _is_int(v, low):
    return isinstance(v, numbers.Integral) and not isinstance(v, bool) and v >= low


def _is_num(v, low, high=math.inf, low_open=False):
    ok = isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v)
    return ok and (v > low if low_open else v >= low) and v <= high


@dataclass(frozen=True)
class NextItemConfig:
    """Settings of the next-item model and its training.

    Attributes
    ----------
    cell : str
        "lstm", "gru", "rnn" or a cell variant ("coupled", "peephole", ...).
    embed_dim, hidden_size : int
        E and H (``tied`` needs E = H).
    num_layers : int
    tied : bool
        Output layer = the embedding table (W = E^T).
    dropout : float in [0, 1)
        On the embeddings, between layers and before the output layer.
    epochs : int
        Most epochs while choosing on validation (the refit runs the chosen number).
    patience : int
        Stop choosing after this many epochs without a better validation NDCG@10.
    lr, clip : Adam's learning rate; global-norm clip of the gradient.
    batch_size : int
        Users per batch.
    bptt : int
        Steps per truncated-BPTT chunk.
    max_len : int
        Only each user's last ``max_len`` interactions are read (0: all).
    seed : int >= 0
    dtype : "float32" or "float64"
    attention : "none", "dot" or "additive"
        "none": the plain model. Otherwise the NARM-style model of
        ``recommender.attentive``: the state and an attention-weighted summary
        of the last ``window`` states feed the item scores.
    window : int >= 1
        Steps of history attention can see (the query's own step included).
    attn_size : int >= 1
        The additive score's hidden size.
    """

    cell: str = "lstm"
    embed_dim: int = 128
    hidden_size: int = 128
    num_layers: int = 1
    tied: bool = True
    dropout: float = 0.5
    epochs: int = 40
    patience: int = 10
    lr: float = 5e-3
    clip: float = 5.0
    batch_size: int = 16
    bptt: int = 32
    max_len: int = 0
    seed: int = 0
    dtype: str = "float32"
    attention: str = "none"
    window: int = 20
    attn_size: int = 64

    def __post_init__(self):
        for k, v in asdict(self).items():  # NumPy scalars become Python numbers (JSON can store those)
            if isinstance(v, np.generic):
                object.__setattr__(self, k, v.item())
        cells = sorted(NEXT_ITEM_CELLS) + sorted(_variant_names())
        # The wrong kind of thing (text, None, a list) is a TypeError; a number out of range a ValueError.
        numbers_ = ("embed_dim", "hidden_size", "num_layers", "dropout", "epochs", "patience", "lr", "clip",
                    "batch_size", "bptt", "max_len", "seed", "window", "attn_size")
        wrong = [k for k in numbers_ if not isinstance(getattr(self, k), numbers.Real)]
        wrong += [k for k in ("cell", "dtype", "attention") if not isinstance(getattr(self, k), str)]
        wrong += [] if isinstance(self.tied, (bool, np.bool_)) else ["tied"]
        if wrong:
            raise TypeError("next-item settings of the wrong type: " + ", ".join(
                f"{k}={getattr(self, k)!r} ({type(getattr(self, k)).__name__})" for k in wrong)
                + " (sizes and rates are numbers; tied is True or False; cell, dtype and attention are strings)")
        checks = {
            "cell": self.cell in cells, "embed_dim": _is_int(self.embed_dim, 1) and self.embed_dim <= MAX_SIZE,
            "hidden_size": _is_int(self.hidden_size, 1) and self.hidden_size <= MAX_SIZE,
            "num_layers": _is_int(self.num_layers, 1) and self.num_layers <= 8, "tied": isinstance(self.tied, bool),
            "dropout": _is_num(self.dropout, 0, 1) and self.dropout < 1, "epochs": _is_int(self.epochs, 1),
            "patience": _is_int(self.patience, 1), "lr": _is_num(self.lr, 0, 1.0, low_open=True),
            "clip": _is_num(self.clip, 0, low_open=True), "batch_size": _is_int(self.batch_size, 1),
            "bptt": _is_int(self.bptt, 1), "max_len": _is_int(self.max_len, 0), "seed": _is_int(self.seed, 0),
            "dtype": self.dtype in ("float32", "float64"), "attention": self.attention in ATTENTION,
            "window": _is_int(self.window, 1) and self.window <= MAX_SIZE,
            "attn_size": _is_int(self.attn_size, 1) and self.attn_size <= MAX_SIZE,
        }
        bad = [k for k, ok in checks.items() if not ok]
        if bad:
            raise ValueError("invalid next-item settings: " + ", ".join(f"{k}={getattr(self, k)!r}" for k in bad)
                             + f" (cell: one of {cells}; embed_dim, hidden_size: integers in [1, {MAX_SIZE}]; "
                             "num_layers: 1 to 8; epochs, patience, batch_size, bptt: integers >= 1; "
                             "dropout in [0, 1); lr in (0, 1]; clip > 0; max_len, seed: integers >= 0; "
                             f"attention: one of {ATTENTION}; window, attn_size: integers in [1, {MAX_SIZE}])")
        if self.tied and self.embed_dim != self.hidden_size:
            raise ValueError(f"tied=True needs embed_dim == hidden_size; got {self.embed_dim} and {self.hidden_size}")

    def replace(self, **changes):
        return NextItemConfig(**{**asdict(self), **changes})
