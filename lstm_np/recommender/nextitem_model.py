"""A trained next-item model you can use without the pipeline: raw ids in, ranked raw ids out.

``NextItemRecommender`` holds the refitted ``NextItemNet``, the vocabulary
(raw user and item ids), the histories it was refitted on (each user's
train + validation interactions, oldest first) and the movie titles, so a
saved model answers "what next?" with no data set at hand::

    model = NextItemRecommender.load("runs/next-item")
    model.recommend(user=1, top=10)                   # from user 1's stored history
    model.recommend(history=[50, 181, 172], top=5)    # raw item ids, oldest first
    model.recommend(history=[(50, 881250949), (181, 881250950, 4.0)])  # (item, time[, rating]), any order

A history given as ids must be in time order (oldest first); given as
``(item id, timestamp[, rating])`` tuples it is sorted by timestamp (equal
times keep their given order) and the ratings are ignored (every
interaction counts the same). Unknown ids are a ``ValueError`` naming them.

Saved as ``NAME.npz`` + ``NAME.json`` by ``lstm_np.io`` (no pickle; a
killed save leaves the old or the new model); ``load`` checks the
description against ``MODEL_SCHEMA`` and every array's header before it
reads any array data.
"""

from __future__ import annotations

import dataclasses
import numbers
from pathlib import Path

import numpy as np

from .. import io
from .attentive import make_net
from .nextitem import NextItemNet
from .nextitem_config import ATTENTION, NEXT_ITEM_CELLS, NextItemConfig, _variant_names

__all__ = ["NextItemRecommender", "MODEL_KIND", "MODEL_SCHEMA", "model_kind", "rescore", "titles_to_array",
           "titles_from_array"]

MODEL_KIND = "lstm_np.recommender.NextItemRecommender"

MODEL_SCHEMA = {
    "kind": io.Str([MODEL_KIND]),
    "num_items": io.Int(1, dim=[("vocab.item_ids", 0), ("net.head.b", 0), ("net.embedding.W", 0)]),
    "num_users": io.Int(1, dim=[("vocab.user_ids", 0)]),
    "config": {
        "cell": io.Str(sorted(NEXT_ITEM_CELLS) + sorted(_variant_names())),
        "embed_dim": io.Int(1, dim=("net.embedding.W", 1)), "hidden_size": io.Int(1), "num_layers": io.Int(1, 8),
        "tied": io.Bool(), "dropout": io.Float(0, 1), "epochs": io.Int(1), "patience": io.Int(1),
        "lr": io.Float(0, 1), "clip": io.Float(0), "batch_size": io.Int(1), "bptt": io.Int(1), "max_len": io.Int(0),
        "seed": io.Int(0), "dtype": io.Str(["float32", "float64"]),
        "attention": io.Str(list(ATTENTION), optional=True), "window": io.Int(1, optional=True),
        "attn_size": io.Int(1, optional=True),
    },
    "data": {"name": io.Str(), "sha256": io.Str(), "split": io.Str(["leave-one-out"]),
             "tie_break": io.Str(["item", "random"]), "tie_seed": io.Int(0), "seed": io.Int(0, optional=True)},
}


def model_kind(path):
    """The ``meta.kind`` of a saved model (folder or file), without reading its arrays."""
    path = Path(path)
    if path.is_dir():
        path = path / "model"
    return io.inspect(path).meta.get("kind")


def titles_to_array(item_ids, titles):
    """The titles of ``item_ids`` (dict raw id -> str) as one uint8 array of UTF-8 text, a title per line (no pickle)."""
    text = "\n".join(str(titles.get(int(i), f"item {int(i)}")).replace("\n", " ") for i in item_ids)
    return np.frombuffer(text.encode("utf-8"), dtype=np.uint8).copy()


def titles_from_array(item_ids, data, where):
    """``titles_to_array`` read back: dict raw id -> title; ``ModelFileError`` (naming ``where``) if damaged."""
    try:
        names = bytes(data).decode("utf-8").split("\n")
    except UnicodeDecodeError:
        raise io.ModelFileError(f"{where}: array 'vocab.titles' is not UTF-8 text") from None
    if len(names) != len(item_ids):
        raise io.ModelFileError(f"{where}: array 'vocab.titles' holds {len(names)} titles for {len(item_ids)} items")
    return {int(i): t for i, t in zip(item_ids, names)}


def _check_top(top, exclude_seen):
    if isinstance(top, bool) or not isinstance(top, numbers.Integral) or top < 1:
        raise ValueError(f"top must be a positive integer; got {top!r}")
    if not isinstance(exclude_seen, (bool, np.bool_)):
        raise TypeError(f"exclude_seen must be True or False; got {exclude_seen!r}")


class NextItemRecommender:
    """A next-item model with its vocabulary and the histories it knows.

    Parameters
    ----------
    net : NextItemNet
    user_ids : (U,) int64, ascending
    item_ids : (I,) int64, ascending; item index k is raw id ``item_ids[k]``
    offsets : (U + 1,) int64 and items : (N,) int64
        User index u's known history is item indices ``items[offsets[u]:offsets[u + 1]]``, oldest first.
    titles : dict raw item id -> str, optional
    meta : dict, optional
        Anything to keep beside the model (``lstm-np train`` stores its metrics here).
    """

    def __init__(self, net: NextItemNet, user_ids, item_ids, offsets, items, titles=None, meta=None):
        self.net = net
        self.user_ids = np.asarray(user_ids, np.int64)
        self.item_ids = np.asarray(item_ids, np.int64)
        self.offsets = np.asarray(offsets, np.int64)
        self.items = np.asarray(items, np.int64)
        if len(self.item_ids) != net.num_items:
            raise ValueError(f"item_ids has {len(self.item_ids)} ids; the net scores {net.num_items} items")
        if np.any(np.diff(self.item_ids) <= 0) or np.any(np.diff(self.user_ids) <= 0):
            raise ValueError("user_ids and item_ids must be strictly ascending")
        if len(self.offsets) != len(self.user_ids) + 1 or self.offsets[0] != 0 or np.any(np.diff(self.offsets) < 0) \
                or self.offsets[-1] != len(self.items):
            raise ValueError("offsets must run from 0 to len(items), non-decreasing, one more than user_ids")
        if len(self.items) and (self.items.min() < 0 or self.items.max() >= net.num_items):
            raise ValueError(f"items must be item indices in [0, {net.num_items})")
        self.titles = dict(titles or {})
        self.meta = dict(meta or {})

    @classmethod
    def from_sequences(cls, net, seqs, upto, titles=None, meta=None):
        """The model with the histories of ``seqs`` (``data.sequences.Sequences``) in parts ``<= upto``."""
        hist = seqs.histories(upto)
        offsets = np.r_[0, np.cumsum([len(h) for h in hist])].astype(np.int64)
        items = np.concatenate(hist) if hist else np.zeros(0, np.int64)
        return cls(net, seqs.user_ids, seqs.item_ids, offsets, items, titles, meta)

    # ------------------------------------------------------------------ ids

    @property
    def num_items(self):
        return len(self.item_ids)

    def _user_index(self, user):
        if isinstance(user, bool) or not isinstance(user, numbers.Integral):
            raise TypeError(f"user must be an integer id; got {type(user).__name__}")
        k = int(np.searchsorted(self.user_ids, user))
        if k >= len(self.user_ids) or self.user_ids[k] != user:
            raise ValueError(f"user {user} is not known to this model (ids run from {int(self.user_ids[0])} to "
                             f"{int(self.user_ids[-1])}, {len(self.user_ids)} users); pass history=... for a new user")
        return k

    def item_index(self, ids):
        """Raw item ids -> item indices; ``ValueError`` naming any unknown id."""
        ids = np.asarray(ids)
        if ids.size == 0:
            return np.zeros(0, np.int64)
        if ids.ndim != 1 or not np.issubdtype(ids.dtype, np.integer):
            raise ValueError(f"item ids must be a 1-D sequence of integers; got {ids.dtype} of shape {ids.shape}")
        k = np.searchsorted(self.item_ids, ids)
        bad = (k >= self.num_items) | (self.item_ids[np.minimum(k, self.num_items - 1)] != ids)
        if bad.any():
            unknown = sorted(set(ids[bad].tolist()))
            raise ValueError(f"unknown item id(s) {unknown[:10]}{' ...' if len(unknown) > 10 else ''}; this model "
                             f"knows {self.num_items} items with ids {int(self.item_ids[0])} .. {int(self.item_ids[-1])}")
        return k.astype(np.int64)

    def _history_indices(self, history):
        """A caller's history -> item indices, oldest first (see the module docstring)."""
        if isinstance(history, np.ndarray):
            history = history.tolist()
        if not isinstance(history, (list, tuple)):
            raise TypeError(f"history must be a list (oldest first) of item ids or of (item id, timestamp[, rating]) "
                            f"tuples; got {type(history).__name__}")
        history = list(history)
        if history and all(isinstance(e, (tuple, list)) for e in history):
            for e in history:
                if len(e) not in (2, 3):
                    raise ValueError(f"a history entry {e!r} must be (item id, timestamp) or (item id, timestamp, "
                                     "rating)")
                if not all(isinstance(v, numbers.Real) and not isinstance(v, bool) and np.isfinite(v) for v in e):
                    raise ValueError(f"a history entry {e!r} holds a value that is not a finite number")
            order = sorted(range(len(history)), key=lambda k: history[k][1])  # stable: equal times keep their order
            history = [history[k][0] for k in order]
        elif any(isinstance(e, (tuple, list)) for e in history):
            raise ValueError("history must be all item ids or all (item id, timestamp[, rating]) tuples, not a mix")
        if any(isinstance(e, bool) or not isinstance(e, numbers.Integral) for e in history):
            raise ValueError("history item ids must be integers")
        big = [e for e in history if not -2**63 <= e < 2**63]
        if big:
            raise ValueError(f"unknown item id(s) {big[:10]}; this model knows {self.num_items} items with ids "
                             f"{int(self.item_ids[0])} .. {int(self.item_ids[-1])}")
        return self.item_index(np.array(history, dtype=np.int64))

    def history(self, user):
        """Raw item ids of user ``user``'s known history, oldest first."""
        k = self._user_index(user)
        return self.item_ids[self.items[self.offsets[k] : self.offsets[k + 1]]]

    # ------------------------------------------------------------------ scoring

    def scores(self, history=None, *, user=None):
        """(I,) float64: the model's score of every item (in ``item_ids`` order) as the next one.

        Give exactly one of ``history`` (raw ids or tuples) or ``user`` (a known user id).
        """
        return self.net.score([self._resolve(history, user)])[0]

    def _resolve(self, history, user):
        if (history is None) == (user is None):
            raise ValueError("give exactly one of history=... (item ids, oldest first) or user=... (a known user id)")
        if user is not None:
            k = self._user_index(user)
            return self.items[self.offsets[k] : self.offsets[k + 1]]
        return self._history_indices(history)

    def recommend(self, history=None, *, user=None, top=10, exclude_seen=True):
        """The ``top`` items most likely next: a list of ``(item id, title, probability)``, best first.

        ``probability`` is the model's softmax over all items (before seen
        items are removed). Ties are broken by item id.
        """
        _check_top(top, exclude_seen)
        idx = self._resolve(history, user)
        z = self.net.score([idx])[0]
        p = np.exp(z - z.max())
        p /= p.sum()
        return [(int(self.item_ids[k]), self.title(self.item_ids[k]), float(p[k]))
                for k in self._best(z, idx, top, exclude_seen)]

    def popular(self, history=None, *, user=None, top=10, exclude_seen=True):
        """The ``top`` items interacted with most in the stored histories: ``(item id, title, count)``."""
        _check_top(top, exclude_seen)
        idx = self._resolve(history, user) if (history is not None or user is not None) else np.zeros(0, np.int64)
        counts = np.bincount(self.items, minlength=self.num_items)
        return [(int(self.item_ids[k]), self.title(self.item_ids[k]), int(counts[k]))
                for k in self._best(counts, idx, top, exclude_seen)]

    def _best(self, values, seen, top, exclude_seen):
        """Item indices of the ``top`` largest ``values``, ties by item id, ``seen`` left out if asked."""
        keep = np.ones(self.num_items, bool)
        if exclude_seen:
            keep[seen] = False
        cand = np.flatnonzero(keep)
        return cand[np.lexsort((cand, -values[cand]))][:top]

    def title(self, item_id):
        return self.titles.get(int(item_id), f"item {int(item_id)}")

    # ------------------------------------------------------------------ files

    def save(self, path, data_meta):
        """Write ``path.npz`` + ``path.json`` (see the module docstring); ``data_meta`` has name, sha256, split."""
        arrays = {**{f"net.{k}": v for k, v in self.net.params.items()},
                  "vocab.user_ids": self.user_ids, "vocab.item_ids": self.item_ids,
                  "vocab.titles": titles_to_array(self.item_ids, self.titles),
                  "history.offsets": self.offsets, "history.items": self.items}
        meta = {"kind": MODEL_KIND, "num_items": self.num_items, "num_users": len(self.user_ids),
                "config": dataclasses.asdict(self.net.config), "data": dict(data_meta), **self.meta}
        return io.save(path, arrays, meta)

    @classmethod
    def load(cls, path):
        """Read a saved model (a folder holding ``model.npz``, or the ``.npz``/``.json``); no data set needed.

        Raises
        ------
        lstm_np.io.ModelFileError
            Missing, damaged or edited files, naming the file and field.
        """
        found = io.inspect_model(path, MODEL_KIND, MODEL_SCHEMA, what="next-item model")
        meta, where = found.meta, str(found.json_path)
        if "metrics" in meta:  # what lstm-np train measured, printed by recommend and evaluate
            io.check_meta(meta, {"metrics": {"seed": io.Int(0), "test_HR@10": io.Any(dict_only=True)}}, where=where)
            for name, v in meta["metrics"]["test_HR@10"].items():
                if not io.Float(0, 1).check(v):
                    raise io.ModelFileError(f"{where}: field meta.metrics.test_HR@10.{name} is {v!r}; expected a "
                                            "number in [0, 1]")
        try:
            config = NextItemConfig(**meta["config"])
        except (TypeError, ValueError) as e:
            raise io.ModelFileError(f"{where}: field meta.config is damaged ({e})") from None
        net = make_net(meta["num_items"], config)
        expected = {f"net.{k}": v for k, v in net.params.items()}
        for name in ("vocab.user_ids", "vocab.item_ids", "vocab.titles", "history.offsets", "history.items"):
            if name not in found.arrays:
                raise io.ModelFileError(f"{where}: array {name!r} is missing")
        for name, value in expected.items():
            if name not in found.arrays:
                raise io.ModelFileError(f"{where}: parameter {name!r} is missing")
            shape, dtype = found.arrays[name]
            if tuple(shape) != value.shape or dtype != value.dtype:
                raise io.ModelFileError(f"{where}: parameter {name!r} is {dtype}{tuple(shape)}; the configuration "
                                        f"needs {value.dtype}{value.shape}")
        want = {"vocab.user_ids": ("i", 1), "vocab.item_ids": ("i", 1), "vocab.titles": ("u", 1),
                "history.offsets": ("i", 1), "history.items": ("i", 1)}
        for name, (kind, ndim) in want.items():
            shape, dtype = found.arrays[name]
            if dtype.kind != kind or len(shape) != ndim:
                raise io.ModelFileError(f"{where}: array {name!r} is {dtype}{tuple(shape)}; expected a 1-D "
                                        f"{'integer' if kind == 'i' else 'uint8'} array")
        arrays = found.read_arrays()
        for name, value in expected.items():
            if not np.isfinite(arrays[name]).all():
                raise io.ModelFileError(f"{where}: parameter {name!r} contains NaN or inf")
        for name, value in expected.items():
            value[...] = arrays[name]
        titles = titles_from_array(arrays["vocab.item_ids"], arrays["vocab.titles"], where)
        extra = {k: v for k, v in meta.items() if k not in ("kind", "num_items", "num_users", "config", "data")}
        try:
            model = cls(net, arrays["vocab.user_ids"], arrays["vocab.item_ids"], arrays["history.offsets"],
                        arrays["history.items"], titles, extra)
        except ValueError as e:
            raise io.ModelFileError(f"{where}: the vocabulary or histories are inconsistent ({e})") from None
        model.data = meta["data"]
        return model


def rescore(model: NextItemRecommender, cache_dir=None):
    """Score a loaded model on its test interactions again, from the data set (which it does not hold).

    Loads the data named in the model, checks that it is the data the model
    was trained on (checksum) and that its leave-one-out split gives exactly
    the stored histories, then ranks every user's test item.

    Returns
    -------
    dict
        ``{"removed": metrics, "kept": metrics}`` (``nextitem_protocol.evaluate``).

    Raises
    ------
    lstm_np.io.ModelFileError
        The data set or its split does not match the model.
    """
    from ..data import TEST, checksum
    from ..data.sequences import leave_one_out
    from .nextitem_protocol import LSTMScorer, evaluate
    from .pipeline import load_data

    data = model.data
    ratings, _ = load_data(data["name"], cache_dir=cache_dir, seed=data.get("seed", 0), log=None)
    if checksum(ratings) != data["sha256"]:
        raise io.ModelFileError(f"the model was trained on other data than {data['name']} as loaded now "
                                "(checksum differs)")
    seqs = leave_one_out(ratings, tie_break=data["tie_break"], seed=data["tie_seed"])
    same = np.array_equal(seqs.user_ids, model.user_ids) and np.array_equal(seqs.item_ids, model.item_ids)
    if same:
        hist = seqs.histories(TEST - 1)
        offsets = np.r_[0, np.cumsum([len(h) for h in hist])]
        same = np.array_equal(offsets, model.offsets) and np.array_equal(np.concatenate(hist), model.items)
    if not same:
        raise io.ModelFileError("the data's leave-one-out split does not give the histories stored in the model")
    return evaluate(LSTMScorer(model.net).score, seqs, TEST)
