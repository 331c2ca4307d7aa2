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

import numpy as np

from .._checks import as_array, as_ids, as_int, as_rng, as_scalar, check_fits_memory, unchanged_on_error
from ..feedforward import Dense, Embedding
from ..losses import softmax_cross_entropy
from ..sequence.stack import CELLS, Stack
from .vocab import Vocab

__all__ = ["CharLM", "evaluate_bpc", "layer_factory", "LN2", "MAX_SAMPLE_LEN"]

#: The longest text ``CharLM.sample`` draws in one call (one forward step per character).
MAX_SAMPLE_LEN = 1_000_000


def check_count(name, v, low, high=None):
    """``v`` as an int in [low, high]: TypeError unless a number (a str, None, a bool), ValueError for a
    fraction (2.5, and 3.0 too: say 3) or a value out of range (``_checks.as_int``)."""
    return as_int(name, v, low, high)


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
        self.V = as_int("V", V, 1)
        embed_dim, hidden_size = as_int("embed_dim", embed_dim, 1), as_int("hidden_size", hidden_size, 1)
        num_layers = as_int("num_layers", num_layers, 1)
        if not callable(make_layer):
            raise TypeError(f"make_layer must be callable (input_size, hidden_size, rng) -> layer; "
                            f"got {type(make_layer).__name__}")
        as_scalar("dropout", dropout, low=0, high=1, high_open=True)
        H = hidden_size  # each LSTM-style layer 4H(D + H + 1), the embedding V E, the head H V + V (float64)
        check_fits_memory(f"CharLM(V={V}, embed_dim={embed_dim}, hidden_size={H}, num_layers={num_layers})",
                          4 * H * (embed_dim + H + 1) * num_layers + V * embed_dim + (H + 1) * V)
        rng = as_rng(rng)
        with unchanged_on_error(rng):  # a layer or size refused midway leaves the caller's generator as it was
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
        ids_shape = as_array("ids", ids).shape
        if as_array("targets", targets).shape != ids_shape:
            raise ValueError(f"targets has shape {as_array('targets', targets).shape}; expected {ids_shape}, "
                             "the shape of ids")
        # The forward draws dropout masks before softmax_cross_entropy reads the targets: a refusal there
        # puts the stack's generator back, so the refused call changes no later result.
        with unchanged_on_error(self.stack.rng):
            z, state, (e_cache, s_cache, h_cache) = self.logits(ids, state, train=train, dropout_masks=dropout_masks)
            loss, dz = softmax_cross_entropy(z, targets, mask)
        return loss, state, (e_cache, s_cache, h_cache, dz)

    def backward(self, cache):
        """Gradients of the loss of ``loss`` into ``grads``; none flows into the initial state's chunk.

        All or nothing: when a part refuses (a cache of another model, an overflow), the parts that had
        already written their gradients get them back.
        """
        if not (isinstance(cache, tuple) and len(cache) == 4):
            raise TypeError(f"cache must be the tuple CharLM.loss returned; got {type(cache).__name__}")
        e_cache, s_cache, h_cache, dz = cache
        with unchanged_on_error(self.grads):
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
        if isinstance(temperature, (bool, np.bool_)) or not isinstance(temperature, (int, float, np.integer,
                                                                                     np.floating)):
            raise TypeError(f"temperature must be a finite number > 0; got {type(temperature).__name__} "
                            f"{temperature!r}")
        if not (temperature > 0 and math.isfinite(temperature)):
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
        with unchanged_on_error(rng):  # interrupted (Ctrl-C) or refused midway: the caller's generator as it was
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
    if not (callable(getattr(model, "logits", None)) and isinstance(getattr(model, "V", None), int)):
        raise TypeError(f"model must be a CharLM; got {type(model).__name__}")
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
