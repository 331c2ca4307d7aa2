"""The model: Embedding -> Stack of recurrent layers -> Dense over the V characters; sampling and scoring.

For a batch of B streams of T characters (ids x, targets y = x shifted by one)::

    e   = Embedding(x)                 (B, T, E)    one row per character id
    h   = Stack(e, state)              (B, T, H)    N recurrent layers, state carried
    z   = Dense(h)                     (B, T, V)    logits over the V characters
    loss = softmax_cross_entropy(z, y)              mean nats per character

and bits per character = loss / ln 2.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from .._checks import as_ids, as_rng
from ..feedforward import Dense, Embedding
from ..losses import softmax_cross_entropy
from ..sequence.stack import CELLS, Stack
from .vocab import Vocab

__all__ = ["CharLM", "evaluate_bpc", "layer_factory", "LN2", "MAX_SAMPLE_LEN"]

#: The longest text ``CharLM.sample`` draws in one call (one forward step per character).
MAX_SAMPLE_LEN = 1_000_000


def check_count(name, v, low, high=None):
    """``v`` as an int in [low, high]: TypeError unless a number (a str, None, a bool), ValueError for a
    fraction (2.5, and 3.0 too: say 3) or a value out of range."""
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Real):
        raise TypeError(f"{name} must be an integer; got {type(v).__name__} {v!r}")
    if not isinstance(v, (int, np.integer)):
        raise ValueError(f"{name} must be a whole number given as an int; got {v!r}")
    if v < low or (high is not None and v > high):
        rule = f">= {low}" if high is None else f"in [{low}, {high:,}]"
        raise ValueError(f"{name} must be an integer {rule}; got {v}")
    return int(v)

LN2 = math.log(2.0)


def layer_factory(cell, dtype=np.float32):
    """``make_layer(input_size, hidden_size, rng)`` for a built-in layer: ``"lstm"``, ``"gru"`` or ``"rnn"``."""
    if cell not in CELLS:
        raise ValueError(f"cell must be one of {sorted(CELLS)}; got {cell!r}")
    cls = CELLS[cell]

    def make_layer(input_size, hidden_size, rng):
        return cls(input_size, hidden_size, rng=rng, dtype=dtype)

    make_layer.__name__ = f"make_{cell}"
    return make_layer


class CharLM:
    """Embedding -> Stack -> Dense over V characters.

    Parameters
    ----------
    V : int
        Vocabulary size.
    make_layer : callable
        ``make_layer(input_size, hidden_size, rng)`` -> a recurrent layer
        (see ``lstm_np.sequence.stack``); called once per layer.
    embed_dim, hidden_size, num_layers : int
    dropout : float in [0, 1)
        Between the recurrent layers (``Stack``).
    rng : numpy.random.Generator or int or None
        Draws the layers, the embedding, the head and the dropout masks, in that order.

    Attributes
    ----------
    embedding, stack, head
    params, grads : dict of ndarray
        ``"embedding.W"``, ``"stack.l0.Wx"``, ..., ``"head.W"``, ``"head.b"``
        (the components' own arrays).
    dtype : numpy dtype
        The first layer's (float64 if it does not say).
    """

    def __init__(self, V, make_layer, *, embed_dim, hidden_size, num_layers=1, dropout=0.0, rng=None):
        rng = as_rng(rng)
        self.V = int(V)
        layers = [make_layer(embed_dim if k == 0 else hidden_size, hidden_size, rng) for k in range(num_layers)]
        self.dtype = np.dtype(getattr(layers[0], "dtype", np.float64))
        self.embedding = Embedding(self.V, embed_dim, rng=rng, dtype=self.dtype)
        self.stack = Stack(layers, dropout=dropout, rng=rng)
        self.head = Dense(hidden_size, self.V, rng=rng, dtype=self.dtype)

    def _parts(self):
        return {"embedding": self.embedding, "stack": self.stack, "head": self.head}

    @property
    def params(self):
        return {f"{n}.{k}": v for n, part in self._parts().items() for k, v in part.params.items()}

    @property
    def grads(self):
        return {f"{n}.{k}": v for n, part in self._parts().items() for k, v in part.grads.items()}

    def logits(self, ids, state=None, *, train=False, dropout_masks=None):
        """ids (B, T) -> logits (B, T, V), final state, cache (``Stack.forward`` for the rest)."""
        e, e_cache = self.embedding.forward(ids)
        h, state, s_cache = self.stack.forward(e, state, train=train, dropout_masks=dropout_masks)
        z, h_cache = self.head.forward(h)
        return z, state, (e_cache, s_cache, h_cache)

    def loss(self, ids, targets, state=None, mask=None, *, train=True, dropout_masks=None):
        """Mean cross-entropy (nats) of predicting ``targets`` (B, T) from ``ids`` (B, T).

        ``state``, ``train`` and ``dropout_masks`` are as in ``Stack.forward``;
        ``mask`` (B, T) leaves positions out of the mean (it does not reach
        the layers: a padded position's state still moves on).

        Returns
        -------
        loss : float
        state : list
            Final state per layer (start the next chunk from it).
        cache : tuple
            For ``backward``.
        """
        z, state, (e_cache, s_cache, h_cache) = self.logits(ids, state, train=train, dropout_masks=dropout_masks)
        loss, dz = softmax_cross_entropy(z, targets, mask)
        return loss, state, (e_cache, s_cache, h_cache, dz)

    def backward(self, cache):
        """Gradients of the loss of ``loss`` into ``grads``; none flows into the initial state's chunk."""
        e_cache, s_cache, h_cache, dz = cache
        dh = self.head.backward(dz, h_cache)
        de, _ = self.stack.backward(dh, s_cache)  # dstate0 dropped: truncated BPTT stops here
        self.embedding.backward(de, e_cache)

    def sample(self, vocab, length, *, temperature=1.0, rng=None, prime=None):
        """Generate ``length`` characters after ``prime``.

        Each next character is drawn from softmax(z / temperature): below 1
        the likely characters become likelier (safer, more repetitive text),
        above 1 the distribution flattens (more surprising, more mistakes).

        Parameters
        ----------
        vocab : Vocab
        length : int in [1, MAX_SAMPLE_LEN]
        temperature : float > 0
        rng : numpy.random.Generator or int or None
            The same seed gives the same text.
        prime : str, optional
            Read first (at least one character), to set the state; default
            a newline, or the vocabulary's first character if it has none.

        Returns
        -------
        str
            The generated characters (without ``prime``).
        """
        if not (isinstance(temperature, (int, float, np.floating)) and temperature > 0 and math.isfinite(temperature)):
            raise ValueError(f"temperature must be a finite number > 0; got {temperature!r}")
        length = check_count("length", length, 1, MAX_SAMPLE_LEN)
        if not isinstance(vocab, Vocab):
            raise TypeError(f"vocab must be a charlm.Vocab; got {type(vocab).__name__}")
        if len(vocab) != self.V:
            raise ValueError(f"vocab has {len(vocab)} characters; this model predicts V = {self.V}")
        if prime is None:
            prime = "\n" if "\n" in vocab.index else vocab.chars[0]
        if not isinstance(prime, str):
            raise TypeError(f"prime must be a str; got {type(prime).__name__}")
        if not prime:
            raise ValueError("prime must have at least one character")
        rng = as_rng(rng)
        ids = vocab.encode(prime)[None, :]
        z, state, _ = self.logits(ids, None)
        out = []
        for _ in range(length):
            logits = z[0, -1].astype(np.float64) / temperature
            p = np.exp(logits - logits.max())
            p /= p.sum()
            nxt = int(rng.choice(self.V, p=p))
            out.append(nxt)
            z, state, _ = self.logits(np.array([[nxt]]), state)
        return vocab.decode(out)


def evaluate_bpc(model, ids, *, batch_size=64, seq_len=128):
    """Bits per character of ``model`` predicting ``ids[1:]`` from what precedes each.

    The text is cut into ``batch_size`` contiguous streams, read
    ``seq_len`` characters at a time with the state carried (no dropout).
    Each stream starts from a zero state, so its first characters are
    predicted with little context; the bigram baseline is scored on exactly
    the same positions (t = 1 .. n-1).

    Returns
    -------
    float
        Mean -log2 p(ids[t] | ids[:t] within its stream) over t = 1 .. n-1.
    """
    batch_size = check_count("batch_size", batch_size, 1)
    seq_len = check_count("seq_len", seq_len, 1)
    ids = as_ids("ids", ids, model.V)
    if ids.ndim != 1:
        raise ValueError(f"ids has shape {ids.shape}; expected one text, (n,)")
    n = len(ids) - 1
    if n < 1:
        raise ValueError("ids must have at least 2 characters")
    B = max(1, min(batch_size, n))
    L = -(-n // B)  # ceil
    x = np.zeros(B * L, np.int64)
    y = np.zeros(B * L, np.int64)
    m = np.zeros(B * L, model.dtype)
    x[:n], y[:n], m[:n] = ids[:-1], ids[1:], 1
    x, y, m = x.reshape(B, L), y.reshape(B, L), m.reshape(B, L)
    total, state = 0.0, None
    for p in range(0, L, seq_len):
        z, state, _ = model.logits(x[:, p : p + seq_len], state)
        mm = m[:, p : p + seq_len]
        count = float(mm.sum())
        if count:
            total += softmax_cross_entropy(z, y[:, p : p + seq_len], mm)[0] * count
    return total / n / LN2
