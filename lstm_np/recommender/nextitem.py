"""The LSTM next-item model (GRU4Rec-style): what will this user watch next?

A user's interactions so far, in time order, are item ids s_1 .. s_t. The
model reads them one by one and, after each, scores every item as the next::

    e_t = E[s_t]                     item embedding, (E,)          E: (I, E)
    h_t = LSTM(e_1 .. e_t)           the recurrent layer's state, (H,)
    z_t = h_t W + b                  a score for each of the I items, (I,)
    p_t = softmax(z_t)               P(s_{t+1} = j | s_1 .. s_t)

trained to maximise the probability of the item that actually came next:
the loss is the mean over every position t of every training sequence of
``-log p_t[s_{t+1}]``, the full softmax cross-entropy over all I items
(``losses.softmax_cross_entropy``). With I = 1,682 movies the full softmax
costs one (B·T, H) x (H, I) matrix product per batch, which is affordable;
with millions of items one would score the target against a sample of
negatives instead (sampled softmax, BPR, GRU4Rec's BPR-max), which is cheaper
but biased towards whatever the sampler draws, and needs a correction
(log-Q) to rank the same way.

``tied=True`` uses the embedding table as the output layer (W = E^T, so
H = E), halving the parameters: an item is scored by how well its embedding
matches the state. Dropout (inverted, masks drawn from the model's seeded
generator) acts on the embeddings and on the states before the output layer.

Any recurrent layer with the interface of ``lstm_np.sequence`` can be used
(``make_layer(input_size, hidden_size, rng)``; ``layer_factory`` builds the
LSTM, the GRU, the RNN or a cell variant by name).

Training (``train_next_item``): every user's sequence is read by truncated
BPTT, ``bptt`` steps at a time with the state carried from one chunk to the
next (no gradient across a chunk boundary), users of similar lengths batched
together and right-padded (padded steps carry the state unchanged and are
left out of the loss); Adam with global-norm clipping. After each epoch the
model scores the held-out next item of every user (``score``) and the epoch
with the best validation NDCG@10, smoothed over the epoch and its two
neighbours, is kept.
"""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass

import numpy as np

from .._checks import as_rng, check_sizes, unchanged_on_error
from ..feedforward import Dense, Embedding
from ..losses import softmax_cross_entropy
from ..optim import Adam, clip_grad_norm
from ..sequence.stack import Stack
from .nextitem_config import ATTENTION, MAX_SIZE, NEXT_ITEM_CELLS, NextItemConfig, _is_int, layer_factory
from .ranking import check_histories, ranking_metrics, target_ranks

# NextItemConfig and the layers live in nextitem_config; importable from here as well.
__all__ = ["ATTENTION", "MAX_SIZE", "NextItemConfig", "NextItemNet", "layer_factory", "NEXT_ITEM_CELLS", "train_next_item", "TrainingError",
           "batches", "pad", "next_item_validation", "NextItemFit"]

class TrainingError(RuntimeError):
    """Training produced NaN or inf (the message names the epoch and step)."""


class NextItemNet:
    """Embedding -> (dropout) -> recurrent layers -> (dropout) -> scores over the I items.

    Parameters
    ----------
    num_items : int
        I: items are ids 0 .. I-1 (inputs and outputs).
    config : NextItemConfig
    make_layer : callable, optional
        ``make_layer(input_size, hidden_size, rng)``; default ``layer_factory(config.cell, config.dtype)``.
    rng : Generator or int, optional
        Draws the layers, the embedding, the head and then the dropout masks;
        default ``config.seed``.

    Attributes
    ----------
    params, grads : dict of ndarray
        ``"embedding.W"`` (I, E), ``"stack.l0.Wx"``, ..., ``"head.b"`` (I,)
        and, unless tied, ``"head.W"`` (H, I).
    """

    def __init__(self, num_items, config: NextItemConfig | None = None, *, make_layer=None, rng=None):
        config = NextItemConfig() if config is None else config
        if not isinstance(config, NextItemConfig):
            raise TypeError(f"config must be a NextItemConfig; got {type(config).__name__} (NextItemConfig(**d) "
                            "builds one from a dict)")
        if not _is_int(num_items, 1):
            raise ValueError(f"num_items must be an integer >= 1; got {num_items!r}")
        self.num_items, self.config = int(num_items), config
        self.rng = as_rng(config.seed if rng is None else rng)
        make_layer = make_layer or layer_factory(config.cell, config.dtype)
        E, H = config.embed_dim, config.hidden_size
        layers = [make_layer(E if k == 0 else H, H, self.rng) for k in range(config.num_layers)]
        self.dtype = np.dtype(getattr(layers[0], "dtype", np.float64))
        self.embedding = Embedding(self.num_items, E, rng=self.rng, dtype=self.dtype)
        self.stack = Stack(layers, dropout=config.dropout, rng=self.rng)
        self.head = Dense(H, self.num_items, rng=self.rng, dtype=self.dtype)
        if config.tied:
            del self.head.params["W"], self.head.grads["W"]

    # ------------------------------------------------------------------ parameters

    def _parts(self):
        return {"embedding": self.embedding, "stack": self.stack, "head": self.head}

    @property
    def params(self):
        return {f"{n}.{k}": v for n, part in self._parts().items() for k, v in part.params.items()}

    @property
    def grads(self):
        return {f"{n}.{k}": v for n, part in self._parts().items() for k, v in part.grads.items()}

    def _W_out(self):
        """The output weights (H, I): the head's, or the embedding table transposed when tied."""
        return self.embedding.params["W"].T if self.config.tied else self.head.params["W"]

    def _drop(self, shape, train, given):
        """An inverted-dropout mask (entries 0 or 1/(1-p)), or None when off."""
        if not train:
            return None
        if given is not None:
            return np.asarray(given, dtype=self.dtype)
        p = self.config.dropout
        if p == 0:
            return None
        return (self.rng.random(shape) >= p).astype(self.dtype) / self.dtype.type(1 - p)

    # ------------------------------------------------------------------ forward / backward

    def forward(self, ids, mask=None, state=None, *, train=False, dropout_masks=None):
        """Scores of the next item after every position.

        Parameters
        ----------
        ids : (B, T) int
            Item ids in [0, I); anything at padded positions (use 0).
        mask : (B, T) 0/1, optional
            1 at real positions; padded steps carry the state unchanged.
        state : list, optional
            Initial state per layer (``Stack.forward``); zeros if None.
        train : bool
            Apply dropout.
        dropout_masks : dict, optional
            ``{"input": (B, T, E), "stack": [...], "output": (B, T, H)}``,
            used instead of drawing new masks (gradient checks).

        Returns
        -------
        z : (B, T, I)
            Scores (logits) of every item as the next one.
        state : list
            Final state per layer (continue the next chunk from it).
        cache
            For ``backward``.
        """
        with self._refusal_leaves_rng():
            return self._forward(ids, mask, state, train, dropout_masks)

    @contextlib.contextmanager
    def _refusal_leaves_rng(self):
        """A call that raises (bad ids, mask, state or targets) leaves the dropout generator as it was."""
        saved = self.rng.bit_generator.state
        try:
            yield
        except BaseException:
            self.rng.bit_generator.state = saved
            raise

    def _forward(self, ids, mask, state, train, dropout_masks):
        given = dropout_masks or {}
        ids = np.asarray(ids)
        if ids.ndim != 2:
            raise ValueError(f"ids has shape {ids.shape}; expected (B, T)")
        B, T = ids.shape
        e, e_cache = self.embedding.forward(ids)
        m_in = self._drop((B, T, self.config.embed_dim), train, given.get("input"))
        x = e if m_in is None else e * m_in
        h, state, s_cache = self.stack.forward(x, state, mask, train=train, dropout_masks=given.get("stack"))
        m_out = self._drop((B, T, self.config.hidden_size), train, given.get("output"))
        h_d = h if m_out is None else h * m_out
        if self.config.tied:
            z = h_d @ self._W_out() + self.head.params["b"]
            h_cache = h_d
        else:
            z, h_cache = self.head.forward(h_d)
        return z, state, (e_cache, m_in, s_cache, m_out, h_cache)

    def loss(self, ids, targets, mask=None, state=None, *, train=True, dropout_masks=None):
        """Mean cross-entropy (nats) of the next items ``targets`` (B, T) after ``ids`` (B, T), over ``mask``.

        Returns
        -------
        loss : float
        state : list
            Final state per layer.
        cache
            For ``backward``.
        """
        with self._refusal_leaves_rng():
            z, state, cache = self._forward(ids, mask, state, train, dropout_masks)
            loss, dz = softmax_cross_entropy(z, targets, mask)
        return loss, state, (cache, dz)

    def backward(self, cache):
        """Gradients of ``loss`` into ``grads`` (none flows into the initial state: truncated BPTT).

        A refused cache (another net's, a damaged one) leaves every gradient as it was: the head's, written
        before the recurrent layers check the cache, are put back (``_checks.unchanged_on_error``)."""
        with unchanged_on_error(self.head.grads):
            self._backward(cache)

    def _backward(self, cache):
        (e_cache, m_in, s_cache, m_out, h_cache), dz = cache
        if self.config.tied:
            h2, dz2 = h_cache.reshape(-1, h_cache.shape[-1]), dz.reshape(-1, self.num_items)
            dh = dz @ self._W_out().T                        # (B, T, I)(I, H)
            dW_emb_out = dz2.T @ h2                          # d/dE of h E^T: (I, H)
            self.head.grads["b"][...] = dz2.sum(axis=0)
        else:
            dh = self.head.backward(dz, h_cache)
        if m_out is not None:
            dh = dh * m_out
        dx, _ = self.stack.backward(dh, s_cache)
        if m_in is not None:
            dx = dx * m_in
        self.embedding.backward(dx, e_cache)
        if self.config.tied:
            self.embedding.grads["W"] += dW_emb_out

    # ------------------------------------------------------------------ scoring

    def score(self, histories, *, batch_size=128):
        """Scores of every item as the next one after each history.

        Parameters
        ----------
        histories : list of (n_k,) int arrays
            Item ids in [0, I), oldest first. An empty history is scored by
            the output bias alone (the model's prior).

        Returns
        -------
        (len(histories), I) float64
        """
        check_sizes(batch_size=batch_size)
        hist = check_histories(histories, self.num_items)
        max_len = self.config.max_len
        if max_len:
            hist = [h[-max_len:] for h in hist]
        out = np.empty((len(hist), self.num_items))
        lengths = np.array([len(h) for h in hist], dtype=np.int64)
        order = np.argsort(lengths, kind="stable")
        H = self.config.hidden_size
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            ids, mask = pad([hist[k] for k in idx])
            last = np.zeros((len(idx), H), self.dtype) if ids.shape[1] == 0 else self._readout(ids, mask)
            out[idx] = (last @ self._W_out() + self.head.params["b"]).astype(np.float64)
        return out

    def _readout(self, ids, mask):
        """(B, H): what the output layer scores after each row's history (here the last state)."""
        return self._last_states(ids, mask)

    def _last_states(self, ids, mask):
        """(B, H): the last layer's output at each row's last real step (zeros for an empty row)."""
        e, _ = self.embedding.forward(ids)
        h, _, _ = self.stack.forward(e, None, mask, train=False)
        n = mask.sum(axis=1).astype(np.int64)
        last = h[np.arange(len(n)), np.maximum(n - 1, 0)]
        last[n == 0] = 0
        return last


def pad(seqs, length=None):
    """Right-pad int sequences: ``(ids (B, T) int64, mask (B, T) float)``, T = the longest (or ``length``)."""
    T = max([len(s) for s in seqs], default=0) if length is None else length
    ids = np.zeros((len(seqs), T), np.int64)
    mask = np.zeros((len(seqs), T))
    for k, s in enumerate(seqs):
        ids[k, : len(s)] = s
        mask[k, : len(s)] = 1
    return ids, mask


def batches(lengths, batch_size, rng):
    """Users grouped into batches of similar length, in a random order.

    Sorted by length with a random tie order, cut into ``batch_size``
    consecutive users, the batches shuffled: little padding, and a
    different grouping and order every epoch.
    """
    lengths = np.asarray(lengths)
    order = np.lexsort((rng.permutation(len(lengths)), lengths))
    groups = [order[k : k + batch_size] for k in range(0, len(order), batch_size)]
    return [groups[k] for k in rng.permutation(len(groups))]


@dataclass
class NextItemFit:
    """What ``train_next_item`` did.

    Attributes
    ----------
    best_epoch : int or None
        The epoch with the best smoothed validation NDCG@10 (see
        ``train_next_item``; its parameters are kept); 0 means the untrained
        net was best; None when trained without validation.
    history : list of dict
        Per epoch: ``epoch``, ``loss`` (mean training cross-entropy; None
        for epoch 0), ``seconds`` and, with validation, the validation
        metrics and ``smoothed_NDCG@10``.
    """

    best_epoch: int | None
    history: list


def _checked_val(metrics, select, epoch):
    if not isinstance(metrics, dict) or select not in metrics:
        raise ValueError(f"val must return a dict with the key {select!r}; got {metrics!r}"[:300])
    if not math.isfinite(metrics[select]):
        raise FloatingPointError(f"validation {select} is {metrics[select]} after epoch {epoch}")
    return metrics


def _check_finite_loss(loss, epoch, step):
    if not math.isfinite(loss):
        raise TrainingError(f"the training loss became {loss} in epoch {epoch}, step {step}; "
                            "try a smaller learning rate (--lr) or clip")


def train_next_item(net: NextItemNet, sequences, *, epochs, val=None, patience=None, log=None, select="NDCG@10"):
    """Train ``net`` on every next item of every sequence.

    Parameters
    ----------
    net : NextItemNet
    sequences : list of (n_u,) int arrays
        One per user, oldest first: the model learns to predict s_{t+1}
        from s_1 .. s_t for every t (sequences shorter than 2 teach nothing).
    epochs : int
        Epochs to run (with ``val``: at most, stopping after ``patience``
        epochs without a better smoothed validation NDCG@10, and the chosen
        epoch's parameters are restored).
    val : callable or None
        ``val(net) -> dict`` of validation metrics, called before training
        and after every epoch (``next_item_validation`` builds one for
        held-out next items). The epoch kept is the one with the highest
        *smoothed* NDCG@10, the mean over it and its two neighbouring
        epochs (the untrained net, epoch 0, is scored alone and is no
        epoch's neighbour): with one held-out item per user, one epoch's
        NDCG@10 moves by about its standard error (about 0.006 on
        MovieLens-100K) from epoch to epoch, and the single highest epoch is
        often a lucky one.
    patience : int, optional
    log : callable, optional
        Receives one line per epoch.
    select : str
        The key of ``val``'s dict that is maximised (default ``"NDCG@10"``).

    Returns
    -------
    NextItemFit

    Raises
    ------
    TrainingError
        NaN or inf in the loss; the net holds the parameters before that step.
    """
    cfg = net.config
    check_sizes(epochs=epochs, **({} if patience is None else {"patience": patience}))
    patience = cfg.patience if patience is None else patience
    if val is not None and not callable(val):
        raise TypeError(f"val must be a callable val(net) -> dict of metrics; got {type(val).__name__}")
    sequences = check_histories(sequences, net.num_items, "sequences")  # all checked before anything changes
    if cfg.max_len:
        sequences = [s[-(cfg.max_len + 1):] for s in sequences]
    seqs = [s for s in sequences if len(s) >= 2]
    if not seqs:
        raise ValueError("train_next_item: no sequence has two or more items; nothing to learn")
    opt = Adam(net.params, lr=cfg.lr)
    rng = np.random.default_rng([cfg.seed, 1])  # the batch order; the net's generator draws the dropout masks
    lengths = np.array([len(s) - 1 for s in seqs])
    history, scores, snapshots = [], [], {}
    best, best_epoch, best_params, waited = -math.inf, None, None, 0

    def consider(e):
        """Epoch e's smoothed score (mean over e-1, e, e+1 where measured, the untrained net's score only for
        itself); keep its parameters if it is the best."""
        nonlocal best, best_epoch, best_params, waited
        score = float(scores[0]) if e == 0 else float(np.mean(scores[max(e - 1, 1) : e + 2]))
        history[e][f"smoothed_{select}"] = score
        if score > best:
            best, best_epoch, best_params, waited = score, e, snapshots[e], 0
        else:
            waited += 1

    def snapshot():
        return {k: v.copy() for k, v in net.params.items()}

    if val is not None:
        m = _checked_val(val(net), select, 0)
        scores.append(m[select])
        snapshots[0] = snapshot()
        history.append({"epoch": 0, "loss": None, "seconds": 0.0, **m})
    for epoch in range(1, epochs + 1):
        t0, total, count, step = time.perf_counter(), 0.0, 0, 0
        for group in batches(lengths, cfg.batch_size, rng):
            ids, mask = pad([seqs[k][:-1] for k in group])
            targets, _ = pad([seqs[k][1:] for k in group])
            state = None
            for lo in range(0, ids.shape[1], cfg.bptt):
                sl = slice(lo, lo + cfg.bptt)
                m = mask[:, sl]
                n = m.sum()
                if n == 0:
                    break
                loss, state, cache = net.loss(ids[:, sl], targets[:, sl], m, state, train=True)
                step += 1
                _check_finite_loss(loss, epoch, step)
                net.backward(cache)
                grads = net.grads
                clip_grad_norm(grads, cfg.clip)
                opt.step(grads)
                total, count = total + loss * n, count + n
        row = {"epoch": epoch, "loss": total / count, "seconds": time.perf_counter() - t0}
        history.append(row)
        if val is not None:
            row.update(_checked_val(val(net), select, epoch))
            scores.append(row[select])
            snapshots[epoch] = snapshot()
            consider(epoch - 1)  # its neighbours are both measured now
            snapshots = {e: p for e, p in snapshots.items() if e >= epoch - 1 or e == best_epoch}
        if log:
            extra = (", val " + ", ".join(f"{k} {row[k]:.4f}" for k in ("HR@10", "NDCG@10") if k in row)
                     if val is not None else "")
            log(f"epoch {epoch:3d}: loss {row['loss']:.4f}{extra} ({row['seconds']:.1f} s)")
        if val is not None and waited >= patience:
            break
    if val is not None:
        consider(len(scores) - 1)  # the last epoch, with its one measured neighbour
        for k, v in net.params.items():
            v[...] = best_params[k]
    return NextItemFit(best_epoch, history)


def next_item_validation(histories, targets, exclude=None):
    """``val`` for ``train_next_item``: HR/NDCG/MRR@K of ``targets`` (n,) after ``histories``, ``exclude`` removed."""
    targets = np.asarray(targets, np.int64)

    def val(net):
        return ranking_metrics(target_ranks(net.score(histories), targets, exclude))

    return val
