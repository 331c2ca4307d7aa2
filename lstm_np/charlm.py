"""A character-level language model (char-rnn): read text, learn to predict the next character, write text.

The model, for a batch of B streams of T characters (ids x, targets y = x shifted by one)::

    e   = Embedding(x)                 (B, T, E)    one row per character id
    h   = Stack(e, state)              (B, T, H)    N recurrent layers, state carried
    z   = Dense(h)                     (B, T, V)    logits over the V characters
    loss = softmax_cross_entropy(z, y)              mean nats per character

and bits per character = loss / ln 2.

Truncated BPTT. A long text is cut into B contiguous streams, read T
characters at a time. Each chunk starts from the final state of the previous
chunk of the same stream (so the model sees the whole text as one long
sequence), but gradients stop at the chunk boundary: the state passed on is
a plain array, and ``backward`` is given no gradient at the final state.

The baseline is a count-based bigram model, P(b | a) = (C[a, b] + k) /
(C[a, :] + k V), fitted on the same training part and scored on the same
held-out characters.

Corpus. Without a file, the text is the Python standard library's own
source (``stdlib_corpus``): the ``.py`` files under
``sysconfig.get_paths()["stdlib"]`` (site-packages excluded), sorted by
path, read as UTF-8, concatenated up to ``max_chars`` characters. Every
installation has it, so it works offline, but it differs between Python
versions: the SHA-256 of the text read is recorded (``Corpus.sha256``) with
the Python version, so that a number can be reproduced exactly.

The layers. ``train_char_model`` takes ``make_layer(input_size,
hidden_size, rng)``, which returns any layer with the interface of
``lstm_np.sequence.stack`` (LSTM-style with a cell state, or GRU/RNN-style),
so cell variants can be compared on the same task::

    from lstm_np.charlm import train_char_model, layer_factory
    result = train_char_model(layer_factory("lstm"), None, quick=True, seed=0)
    result.bpc, result.bigram_bpc
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import os
import platform
import sysconfig
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ._checks import as_ids, as_rng
from .feedforward import Dense, Embedding
from .losses import softmax_cross_entropy
from .optim import Adam, clip_grad_norm
from .sequence.stack import CELLS, Stack

__all__ = [
    "Corpus", "stdlib_corpus", "file_corpus", "text_corpus", "Vocab", "split_held_out",
    "BigramModel", "fit_bigram", "CharLM", "evaluate_bpc", "layer_factory",
    "CharLMConfig", "CharLMResult", "train_char_model", "DEFAULT_MAX_CHARS",
]

LN2 = math.log(2.0)

#: Characters read from the default corpus (about 1 MB of Python source).
DEFAULT_MAX_CHARS = 1_000_000

# The replacement character stands for characters outside a capped vocabulary.
UNKNOWN = "\ufffd"


# --------------------------------------------------------------------------- corpus


@dataclass(frozen=True)
class Corpus:
    """A text and where it came from.

    Attributes
    ----------
    text : str
    source : str
        ``"the Python standard library"`` (its folder is left out, so that
        printed output carries no local paths; ``stdlib_corpus(root=...)``
        names the folder given), a file path, or ``"text"``.
    sha256 : str
        SHA-256 of ``text`` encoded as UTF-8: two runs read the same text iff it matches.
    files : int
        Files read (1 for a file, 0 for a given string).
    python : str
        The Python version that read it (the standard library differs between versions).
    """

    text: str
    source: str
    sha256: str
    files: int
    python: str = field(default_factory=platform.python_version)

    def describe(self):
        """One line: size, source, files, checksum and Python version."""
        return (f"{len(self.text):,} characters from {self.source} ({self.files} file(s)), "
                f"sha256 {self.sha256}, Python {self.python}")


def _sha256(text):
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _check_max_chars(max_chars):
    if max_chars is not None and (not isinstance(max_chars, (int, np.integer)) or isinstance(max_chars, bool)
                                  or max_chars < 2):
        raise ValueError(f"max_chars must be an integer >= 2 or None; got {max_chars!r}")


def stdlib_corpus(max_chars=DEFAULT_MAX_CHARS, root=None):
    """The Python standard library's own source, as a corpus available offline.

    Parameters
    ----------
    max_chars : int or None
        Stop after this many characters (the last file is cut); None reads all.
    root : path, optional
        The folder to read; defaults to ``sysconfig.get_paths()["stdlib"]``.

    Returns
    -------
    Corpus
        The ``.py`` files under ``root`` (any depth, but not under
        ``site-packages`` or ``dist-packages``), sorted by their path
        relative to ``root``, each read as UTF-8 (undecodable bytes become
        U+FFFD) and followed by a newline.
    """
    _check_max_chars(max_chars)
    source = "the Python standard library" if root is None else f"Python files under {root}"
    root = Path(sysconfig.get_paths()["stdlib"] if root is None else root)
    if not root.is_dir():
        raise FileNotFoundError(f"the standard library folder {root} does not exist")
    parts, n, files = [], 0, 0
    for p in _py_files_in_path_order(root):
        if max_chars is not None and n >= max_chars:
            break
        text = p.read_bytes().decode("utf-8", errors="replace") + "\n"
        parts.append(text)
        n += len(text)
        files += 1
    text = "".join(parts)[:max_chars]
    if len(text) < 2:
        raise ValueError(f"found no Python source under {root}")
    return Corpus(text, source, _sha256(text), files)


def _py_files_in_path_order(folder):
    """The ``.py`` files under ``folder`` in the order of their sorted relative paths, lazily.

    Sorting a folder's entries by name, with "/" appended to folder names,
    gives the order of the full paths (``a.py`` < ``a/b.py``, as "." < "/"),
    so the walk can stop as soon as enough text has been read.
    """
    entries = sorted(os.scandir(folder), key=lambda e: e.name + ("/" if e.is_dir(follow_symlinks=False) else ""))
    for e in entries:
        if e.is_dir(follow_symlinks=False):
            if e.name not in ("site-packages", "dist-packages"):
                yield from _py_files_in_path_order(e.path)
        elif e.name.endswith(".py") and e.is_file():
            yield Path(e.path)


def file_corpus(path, max_chars=None):
    """The text of one UTF-8 file (undecodable bytes become U+FFFD), cut to ``max_chars``."""
    _check_max_chars(max_chars)
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"text file {str(path)!r} does not exist")
    text = path.read_bytes().decode("utf-8", errors="replace")[:max_chars]
    if len(text) < 2:
        raise ValueError(f"text file {str(path)!r} has {len(text)} characters; need at least 2")
    return Corpus(text, str(path), _sha256(text), 1)


def text_corpus(text, max_chars=None):
    """A corpus from a string already in memory."""
    _check_max_chars(max_chars)
    if not isinstance(text, str):
        raise TypeError(f"text must be a str; got {type(text).__name__}")
    text = text[:max_chars]
    if len(text) < 2:
        raise ValueError(f"text has {len(text)} characters; need at least 2")
    return Corpus(text, "text", _sha256(text), 0)


# --------------------------------------------------------------------------- vocabulary and split


class Vocab:
    """Characters <-> integer ids.

    Parameters
    ----------
    chars : str
        The characters, each once; id k is ``chars[k]``. If it contains
        ``UNKNOWN`` (U+FFFD), characters not in ``chars`` encode to it;
        otherwise they are an error.
    """

    def __init__(self, chars):
        if len(set(chars)) != len(chars) or not chars:
            raise ValueError("chars must be a non-empty string of distinct characters")
        self.chars = chars
        self.index = {ch: k for k, ch in enumerate(chars)}

    @classmethod
    def from_text(cls, text, max_size=None):
        """The characters of ``text``, sorted by code point.

        With ``max_size``, only the ``max_size - 1`` most frequent are kept
        (ties broken by code point) and the rest share the id of U+FFFD.
        """
        counts = {}
        for ch in text:
            counts[ch] = counts.get(ch, 0) + 1
        if max_size is not None and len(counts) > max_size:
            if max_size < 2:
                raise ValueError(f"max_size must be >= 2; got {max_size}")
            keep = sorted(counts, key=lambda ch: (-counts[ch], ch))[: max_size - 1]
            return cls("".join(sorted(set(keep) | {UNKNOWN})))
        return cls("".join(sorted(counts)))

    def __len__(self):
        return len(self.chars)

    def encode(self, text):
        """str -> (n,) int64 ids."""
        unk = self.index.get(UNKNOWN)
        try:
            return np.array([self.index[ch] if unk is None else self.index.get(ch, unk) for ch in text],
                            dtype=np.int64)
        except KeyError as e:
            raise ValueError(f"character {e.args[0]!r} is not in the vocabulary") from None

    def decode(self, ids):
        """ids -> str."""
        return "".join(self.chars[int(k)] for k in np.asarray(ids).reshape(-1))


def split_held_out(ids, fraction=0.1):
    """The first part of ``ids`` for training and the last ``fraction`` held out (at least 2 each)."""
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"held_out must be in (0, 1); got {fraction!r}")
    n_held = int(round(len(ids) * fraction))
    if n_held < 2 or len(ids) - n_held < 2:
        raise ValueError(f"the text has {len(ids)} characters: too short to hold out {fraction:.0%} "
                         "and still train (need at least 2 in each part)")
    return ids[:-n_held], ids[-n_held:]


# --------------------------------------------------------------------------- bigram baseline


class BigramModel:
    """P(b | a) = (C[a, b] + k) / (sum_b' C[a, b'] + k V), from bigram counts C.

    Parameters
    ----------
    counts : (V, V) ndarray
        ``counts[a, b]`` = times character b followed character a.
    k : float > 0
        Add-k smoothing: every pair is treated as seen k more times.
    """

    def __init__(self, counts, k):
        if not k > 0:
            raise ValueError(f"k must be > 0; got {k!r}")
        self.counts = np.asarray(counts, dtype=np.float64)
        self.k = float(k)
        V = self.counts.shape[0]
        self.log2_prob = np.log2((self.counts + k) / (self.counts.sum(axis=1, keepdims=True) + k * V))

    @staticmethod
    def count(ids, V):
        """(V, V) bigram counts of an id sequence."""
        ids = as_ids("ids", ids, V)
        counts = np.zeros((V, V))
        np.add.at(counts, (ids[:-1], ids[1:]), 1.0)
        return counts

    def bpc(self, ids):
        """Mean -log2 P(ids[t] | ids[t-1]) over t = 1 .. n-1: bits per character."""
        ids = as_ids("ids", ids, self.counts.shape[0])
        return float(-self.log2_prob[ids[:-1], ids[1:]].mean())


#: Smoothing constants tried by ``fit_bigram``.
BIGRAM_KS = (1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0)


def fit_bigram(train_ids, V, ks=BIGRAM_KS, fraction=0.1):
    """The bigram model with k tuned on the last ``fraction`` of the training part.

    k is chosen by the bits per character on that validation part with
    counts from the rest; the returned model is then refitted with that k on
    all of ``train_ids``. The held-out text is never looked at.
    """
    fit_part, val_part = split_held_out(train_ids, fraction)
    counts = BigramModel.count(fit_part, V)
    best = min(ks, key=lambda k: BigramModel(counts, k).bpc(val_part))
    return BigramModel(BigramModel.count(train_ids, V), best)


# --------------------------------------------------------------------------- the model


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
        length : int >= 0
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
        if prime is None:
            prime = "\n" if "\n" in vocab.index else vocab.chars[0]
        if not prime:
            raise ValueError("prime must have at least one character")
        rng = as_rng(rng)
        ids = vocab.encode(prime)[None, :]
        z, state, _ = self.logits(ids, None)
        out = []
        for _ in range(int(length)):
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
    ids = as_ids("ids", ids, model.V)
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


# --------------------------------------------------------------------------- training


@dataclass
class CharLMConfig:
    """Settings of ``train_char_model`` (defaults: ``lstm-np textgen``)."""

    embed_dim: int = 32
    hidden_size: int = 256
    num_layers: int = 1
    dropout: float = 0.0
    batch_size: int = 16
    seq_len: int = 64
    steps: int = 3000
    lr: float = 6e-3
    lr_final: float = 3e-4          # cosine decay from lr to lr_final over the steps
    clip: float = 5.0
    held_out: float = 0.1
    max_chars: int | None = DEFAULT_MAX_CHARS
    max_vocab: int | None = 256
    eval_every: int = 500
    eval_chars: int = 20_000         # held-out characters scored during training (all at the end)
    sample_every: int = 500
    sample_len: int = 200
    temperature: float = 0.8
    seed: int = 0


#: What ``quick=True`` changes: a run of a few seconds, for tests and CI.
QUICK = dict(embed_dim=16, hidden_size=32, batch_size=8, seq_len=32, steps=30, lr=1e-2, lr_final=1e-3,
             max_chars=20_000, eval_every=15, eval_chars=2_000, sample_every=15, sample_len=60)


@dataclass
class CharLMResult:
    """What ``train_char_model`` returns.

    Attributes
    ----------
    bpc : float
        Held-out bits per character of the trained model (all held-out text).
    bigram_bpc : float
        The bigram baseline's, on the same positions.
    bigram_k : float
        Its add-k smoothing constant (tuned on the training part).
    history : list of dict
        ``{"step", "train_bpc", "held_out_bpc"}`` at each evaluation
        (held-out on the first ``eval_chars`` held-out characters, except
        the last row, which is the final score on all of it).
    train_bpc : list of float
        Training loss in bits per character at every step.
    samples : list of (int, str)
        Generated text at the steps it was drawn.
    seconds_per_step, wall_s : float
        Mean training step time; the whole call.
    model : CharLM
    vocab : Vocab
    corpus : Corpus
    config : CharLMConfig
    n_train, n_held : int
        Characters in each part.
    """

    bpc: float
    bigram_bpc: float
    bigram_k: float
    history: list
    train_bpc: list
    samples: list
    seconds_per_step: float
    wall_s: float
    model: CharLM
    vocab: Vocab
    corpus: Corpus
    config: CharLMConfig
    n_train: int
    n_held: int

    def summary(self):
        """A few lines: corpus, sizes, held-out bpc against the bigram, time."""
        return "\n".join([
            f"corpus: {self.corpus.describe()}",
            f"vocabulary {len(self.vocab)}; {self.n_train:,} training / {self.n_held:,} held-out characters",
            f"held-out bits per character: model {self.bpc:.3f}, bigram {self.bigram_bpc:.3f} "
            f"(add-k, k={self.bigram_k:g}): the model is {abs(self.bigram_bpc - self.bpc):.3f} bits "
            + ("better" if self.bpc < self.bigram_bpc else "worse"),
            f"{self.config.steps} steps, {self.seconds_per_step * 1000:.0f} ms/step, {self.wall_s:.1f} s in all",
        ])


def _as_corpus(text_or_corpus, max_chars):
    if text_or_corpus is None:
        return stdlib_corpus(max_chars)
    if isinstance(text_or_corpus, Corpus):
        if max_chars is None or len(text_or_corpus.text) <= max_chars:
            return text_or_corpus
        text = text_or_corpus.text[:max_chars]
        return dataclasses.replace(text_or_corpus, text=text, sha256=_sha256(text))
    if isinstance(text_or_corpus, str):
        return text_corpus(text_or_corpus, max_chars)
    raise TypeError(f"text_or_corpus must be None, a str or a Corpus; got {type(text_or_corpus).__name__}")


def train_char_model(make_layer, text_or_corpus=None, *, quick=False, progress=False, log=None,
                     config=None, **settings):
    """Train a character-level language model and score it on held-out text.

    Parameters
    ----------
    make_layer : callable or {"lstm", "gru", "rnn"}
        ``make_layer(input_size, hidden_size, rng) -> layer``: any recurrent
        layer with the LSTM-style or GRU/RNN-style interface of
        ``lstm_np.sequence.stack`` (``forward(x, h0, c0, mask) -> out, (h,
        c), cache`` / ``backward(dout, cache, dh_T, dc_T) -> dx, dh0, dc0``,
        or ``forward(x, h0, mask) -> out, h, cache`` / ``backward(dout,
        cache, dh_T) -> dx, dh0``) and ``params``/``grads`` dicts. Its
        ``dtype`` attribute (float64 if absent) sets the model's. A name
        uses ``layer_factory(name)`` (float32).
    text_or_corpus : None, str or Corpus
        None: the standard library's source (``stdlib_corpus``); a str is
        the text itself (not a path: use ``file_corpus(path)``).
    quick : bool
        Start from the ``QUICK`` settings (a few seconds) instead of the
        defaults; explicit settings still win.
    progress : bool
        Show a tqdm progress bar.
    log : callable, optional
        Called with each line of progress text (evaluations, samples);
        nothing is printed when None.
    config : CharLMConfig, optional
        Start from these settings instead.
    **settings
        Any field of ``CharLMConfig``: ``hidden_size``, ``num_layers``,
        ``embed_dim``, ``dropout``, ``batch_size``, ``seq_len``, ``steps``,
        ``lr``, ``lr_final``, ``clip``, ``held_out``, ``max_chars``,
        ``max_vocab``, ``eval_every``, ``eval_chars``, ``sample_every``,
        ``sample_len``, ``temperature``, ``seed``.

    Returns
    -------
    CharLMResult
        ``.bpc`` (held-out bits per character) and ``.bigram_bpc`` among others.

    The same seed, settings and text give the same numbers.
    """
    t_start = time.perf_counter()
    if isinstance(make_layer, str):
        make_layer = layer_factory(make_layer)
    if not callable(make_layer):
        raise TypeError(f"make_layer must be callable or a cell name; got {type(make_layer).__name__}")
    base = config if config is not None else CharLMConfig(**(QUICK if quick else {}))
    unknown = sorted(set(settings) - {f.name for f in dataclasses.fields(CharLMConfig)})
    if unknown:
        raise TypeError(f"unknown settings {unknown}; see CharLMConfig")
    cfg = dataclasses.replace(base, **settings)
    _check_config(cfg)
    bar = None

    def say(line):
        if log is None:
            return
        if bar is None:
            log(line)
        else:  # print above the progress bar, not through it
            with bar.external_write_mode():
                log(line)

    corpus = _as_corpus(text_or_corpus, cfg.max_chars)
    vocab = Vocab.from_text(corpus.text, cfg.max_vocab)
    ids = vocab.encode(corpus.text)
    train_ids, held_ids = split_held_out(ids, cfg.held_out)
    V = len(vocab)
    bigram = fit_bigram(train_ids, V)
    bigram_bpc = bigram.bpc(held_ids)

    rng = np.random.default_rng(cfg.seed)
    model = CharLM(V, make_layer, embed_dim=cfg.embed_dim, hidden_size=cfg.hidden_size,
                   num_layers=cfg.num_layers, dropout=cfg.dropout, rng=rng)
    params = model.params
    opt = Adam(params, lr=cfg.lr)
    sample_rng = np.random.default_rng([cfg.seed, 1])

    # B contiguous streams of the training text; targets are inputs shifted by one.
    B, T = cfg.batch_size, cfg.seq_len
    Ls = (len(train_ids) - 1) // B
    if Ls < T:
        raise ValueError(f"the training text ({len(train_ids)} characters) is too short for batch_size {B} "
                         f"x seq_len {T}; pass a longer text or smaller settings")
    xs = train_ids[: B * Ls].reshape(B, Ls)
    ys = train_ids[1 : B * Ls + 1].reshape(B, Ls)
    eval_part = held_ids[: cfg.eval_chars]

    say(f"corpus: {corpus.describe()}")
    say(f"vocabulary {V}; {len(train_ids):,} training / {len(held_ids):,} held-out characters; "
        f"bigram held-out bpc {bigram_bpc:.3f} (k={bigram.k:g})")

    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=cfg.steps, desc="textgen", unit="step")

    history, train_bpc, samples = [], [], []
    state, p = None, 0
    t_train = 0.0
    try:
        for step in range(1, cfg.steps + 1):
            t0 = time.perf_counter()
            if p + T > Ls:  # end of the streams: start over from zero state
                state, p = None, 0
            opt.lr = cosine_lr(step, cfg.steps, cfg.lr, cfg.lr_final)
            loss, state, cache = model.loss(xs[:, p : p + T], ys[:, p : p + T], state, train=True)
            model.backward(cache)
            grads = model.grads
            clip_grad_norm(grads, cfg.clip)
            opt.step(grads)
            p += T
            t_train += time.perf_counter() - t0
            train_bpc.append(loss / LN2)
            if bar is not None:
                bar.update(1)
                bar.set_postfix(bpc=f"{loss / LN2:.3f}")
            if step % cfg.eval_every == 0 and step < cfg.steps:
                held = evaluate_bpc(model, eval_part)
                history.append({"step": step, "train_bpc": float(np.mean(train_bpc[-cfg.eval_every:])),
                                "held_out_bpc": held})
                say(f"step {step}: train bpc {history[-1]['train_bpc']:.3f}, held-out bpc {held:.3f} "
                    f"(first {len(eval_part):,} chars; bigram {bigram_bpc:.3f} on all)")
            if step % cfg.sample_every == 0 and step < cfg.steps:
                text = model.sample(vocab, cfg.sample_len, temperature=cfg.temperature, rng=sample_rng)
                samples.append((step, text))
                say(f"--- sample at step {step} (temperature {cfg.temperature}) ---\n{text}\n---")
    finally:
        if bar is not None:
            bar.close()

    bpc = evaluate_bpc(model, held_ids)
    history.append({"step": cfg.steps, "train_bpc": float(np.mean(train_bpc[-cfg.eval_every:])),
                    "held_out_bpc": bpc})
    text = model.sample(vocab, cfg.sample_len, temperature=cfg.temperature, rng=sample_rng)
    samples.append((cfg.steps, text))
    say(f"--- sample at step {cfg.steps} (temperature {cfg.temperature}) ---\n{text}\n---")
    return CharLMResult(
        bpc=bpc, bigram_bpc=bigram_bpc, bigram_k=bigram.k, history=history, train_bpc=train_bpc,
        samples=samples, seconds_per_step=t_train / cfg.steps, wall_s=time.perf_counter() - t_start,
        model=model, vocab=vocab, corpus=corpus, config=cfg, n_train=len(train_ids), n_held=len(held_ids),
    )


def cosine_lr(step, steps, lr, lr_final):
    """Learning rate of step 1 .. steps: from ``lr`` at step 1 down to about ``lr_final``, half a cosine.

    lr_t = lr_final + (lr - lr_final) (1 + cos(pi (t - 1) / steps)) / 2
    """
    return lr_final + 0.5 * (lr - lr_final) * (1 + math.cos(math.pi * (step - 1) / steps))


def _check_config(cfg):
    """Raise a ValueError naming the first bad setting; nothing has run yet."""
    positive = ("embed_dim", "hidden_size", "num_layers", "batch_size", "seq_len", "steps", "eval_every",
                "eval_chars", "sample_every")
    for name in positive:
        v = getattr(cfg, name)
        if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1:
            raise ValueError(f"{name} must be a positive integer; got {v!r}")
    if not isinstance(cfg.sample_len, (int, np.integer)) or cfg.sample_len < 0:
        raise ValueError(f"sample_len must be an integer >= 0; got {cfg.sample_len!r}")
    for name in ("lr", "lr_final", "clip", "temperature"):
        v = getattr(cfg, name)
        if not (isinstance(v, (int, float, np.floating)) and math.isfinite(v) and v > 0):
            raise ValueError(f"{name} must be a finite number > 0; got {v!r}")
    if not (isinstance(cfg.dropout, (int, float)) and 0 <= cfg.dropout < 1):
        raise ValueError(f"dropout must be in [0, 1); got {cfg.dropout!r}")
    if not (isinstance(cfg.held_out, float) and 0 < cfg.held_out < 1):
        raise ValueError(f"held_out must be a fraction in (0, 1); got {cfg.held_out!r}")
    _check_max_chars(cfg.max_chars)
    if cfg.max_vocab is not None and (not isinstance(cfg.max_vocab, (int, np.integer)) or cfg.max_vocab < 2):
        raise ValueError(f"max_vocab must be an integer >= 2 or None; got {cfg.max_vocab!r}")
